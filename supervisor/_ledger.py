"""The ledger: what a supervisor tells the world about its tasks.

Events (the ``on_event`` hook and subscriptions), the last failure, failures
waiting to be retrieved (or logged), and the observers that attach to a
supervisor: ``supervisor.metrics`` (a recorder of attempts and restarts) and
``supervisor.tracing`` (a span around each attempt). No event loop, no clock.
The task table (``_table``) reports every status change and failure here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

from ._checks import check_count
from ._events import EventSubscription
from ._logging import UnretrievedFailures, log_failure, without_runner_frame
from ._status import TaskEvent, TaskStatus

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._backend import Backend
    from ._handle import TaskHandle
    from ._metrics_hub import Recorder
    from ._status import Decision
    from ._tracing_hook import AttemptTracing

logger: Final = logging.getLogger("supervisor")

_FAILED = TaskStatus.FAILED


class Ledger:
    """Events, failures and observers of one supervisor's tasks."""

    __slots__ = (
        "attempt_tracing",
        "emitting",
        "ended",
        "last_failure",
        "log_failures",
        "name",
        "observed",
        "on_event",
        "recorder",
        "subscribers",
        "unretrieved",
    )

    def __init__(
        self,
        name: str,
        on_event: Callable[[TaskEvent], object] | None,
        log_failures: str,
    ) -> None:
        self.name = name
        self.on_event = on_event
        self.subscribers: list[EventSubscription] = []
        #: Whether anyone listens: the hot path reads it before building an event.
        self.emitting = on_event is not None
        #: The block exited: new subscriptions start ended.
        self.ended = False
        self.last_failure: TaskEvent | None = None
        self.log_failures = log_failures
        #: Failures waiting to be retrieved, or logged (log_failures="unretrieved").
        self.unretrieved = (
            UnretrievedFailures(name) if log_failures == "unretrieved" else None
        )
        #: supervisor.metrics: what this supervisor records, if instrumented.
        self.recorder: Recorder | None = None
        #: supervisor.tracing: begins and ends a span around each attempt.
        self.attempt_tracing: AttemptTracing | None = None
        #: Whether either of the two above is attached: the hot path's one read.
        self.observed = False

    # -- observers attach here -------------------------------------------------

    def attach_metrics(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.observed = True

    def attach_tracing(self, tracing: AttemptTracing | None) -> None:
        self.attempt_tracing = tracing
        self.observed = self.recorder is not None or tracing is not None

    # -- events ------------------------------------------------------------------

    def emit(self, event: TaskEvent) -> None:
        for subscriber in self.subscribers:
            subscriber._push(event)
        on_event = self.on_event
        if on_event is not None:
            try:
                on_event(event)
            except Exception:
                # Broad on purpose: a faulty hook must not break the task whose status
                # it observes. Logged with traceback; BaseExceptions still propagate.
                logger.exception(
                    "supervisor %r: on_event hook %r raised; ignored",
                    self.name,
                    on_event,
                )

    def subscribe(self, backend: Backend, max_buffer: int) -> EventSubscription:
        check_count("max_buffer", max_buffer, 1)
        sub = EventSubscription._create(backend, max_buffer, ended=self.ended)
        if not self.ended:
            self.subscribers.append(sub)
            self.emitting = True
            sub._unsubscribe = self.unsubscribe
        return sub

    def unsubscribe(self, sub: EventSubscription) -> None:
        if sub in self.subscribers:
            self.subscribers.remove(sub)
        self.emitting = bool(self.subscribers) or self.on_event is not None

    def end(self) -> None:
        """The block exited: every subscription ends; failures left are logged."""
        self.ended = True
        for subscriber in self.subscribers:
            subscriber._end()

    # -- failures ------------------------------------------------------------------

    def failed(
        self,
        h: TaskHandle[Any],
        old: TaskStatus,
        now: float,
        exception: BaseException | None,
        decision: Decision | None,
    ) -> None:
        """``h`` ended FAILED (the table counted it)."""
        if exception is not None:
            without_runner_frame(exception)
        # The same event as the one emitted for this change.
        self.last_failure = TaskEvent(
            h._id, h._name, old, _FAILED, now, h._attempts, exception, decision
        )
        unretrieved = self.unretrieved
        if unretrieved is not None:
            assert exception is not None
            unretrieved.add(h, h._id, h._name, h._attempts, exception)
        elif self.log_failures == "always":
            assert exception is not None
            log_failure(self.name, h._name, h._id, h._attempts, exception)

    def retrieved(self, task_id: int) -> None:
        """A failure was raised to the user (or read): it is not logged."""
        unretrieved = self.unretrieved
        if unretrieved is not None:
            unretrieved.retrieved(task_id)

    def log_unretrieved(self) -> None:
        if self.unretrieved is not None:
            self.unretrieved.log_all()
