"""Observation: the one place a handle's status is written, and what is recorded.

Every transition goes through :meth:`Ledger._set_status` (checked against the
lifecycle table, emitted as a :class:`TaskEvent`); every end through
:meth:`Ledger._record_end` (counters, waiters, the unobserved-failure log). The
snapshots users read (``health()``, ``tasks()``) and event subscriptions live here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

from ._checks import check_count
from ._events import EventSubscription
from ._health import HealthReport, evaluate
from ._logging import log_failure, without_runner_frame
from ._policy import Phase
from ._spec import Restart
from ._state import SupervisorState
from ._status import TaskEvent, TaskStatus

if TYPE_CHECKING:
    from ._handle import TaskHandle
    from ._status import Decision

logger: Final = logging.getLogger("supervisor")

_COMPLETED = TaskStatus.COMPLETED
_FAILED = TaskStatus.FAILED
_PERMANENT = Restart.PERMANENT
_OPEN = Phase.OPEN


class Ledger(SupervisorState):
    """Status changes, records, counts and events of a supervisor's tasks."""

    __slots__ = ()

    def _set_status(
        self,
        h: TaskHandle[Any],
        new: TaskStatus,
        now: float,
        exception: BaseException | None = None,
        decision: Decision | None = None,
    ) -> None:
        old = h._status
        if new not in old._next:
            msg = f"illegal transition {old.name} -> {new.name} of {h!r}"
            raise AssertionError(msg)  # pragma: no cover - internal invariant
        h._status = new
        if self._emitting:
            self._emit(
                TaskEvent(
                    h._id, h._name, old, new, now, h._attempts, exception, decision
                )
            )

    def _emit(self, event: TaskEvent) -> None:
        for subscriber in self._subscribers:
            subscriber._push(event)
        on_event = self._on_event
        if on_event is not None:
            try:
                on_event(event)
            except Exception:
                # Broad on purpose: a faulty hook must not break the task whose status
                # it observes. Logged with traceback; BaseExceptions still propagate.
                logger.exception(
                    "supervisor %r: on_event hook %r raised; ignored",
                    self._name,
                    on_event,
                )

    def _record_end(
        self,
        h: TaskHandle[Any],
        status: TaskStatus,
        now: float,
        exception: BaseException | None = None,
        decision: Decision | None = None,
    ) -> None:
        """Make ``h`` terminal: status, counters, waiters, unobserved-failure log."""
        h._completed_at = now
        h._exception = exception
        old = h._status
        self._set_status(h, status, now, exception, decision)
        # Drop what the finished task no longer needs, so a handle kept by a user
        # does not keep the function, its arguments or the scope alive.
        h._fn = None
        h._args = ()
        h._scope = None
        self._n_live -= 1
        extra = h._extra
        if extra is not None:
            # (Tasks with a policy, children, and every task of a strategy
            # supervisor have one.)
            h._context = None
            if extra.restart is _PERMANENT:
                self._n_permanent_live -= 1
                self._permanent.pop(h._id, None)
            if extra.significant:
                self._n_significant_live -= 1
            if self._children is not None:
                self._children.pop(h._id, None)
            extra.wake_ready()  # a start_child call waits: it sees the end
            extra.wake_attempt_end()
            on_end = extra.on_end
            if on_end is not None:
                extra.on_end = None
                on_end()
            if extra.child is not None:
                self._after_end(h)
        if status is _COMPLETED:
            self._completed += 1
            self._window.add(now, False)
        elif status is _FAILED:
            self._failed += 1
            self._window.add(now, True)
            self._record_failure(h, old, now, exception, decision)
        else:
            self._cancelled_count += 1
        event = h._done_event
        if event is not None:
            event.set()
        if self._idle is not None:
            self._check_idle()

    def _record_failure(
        self,
        h: TaskHandle[Any],
        old: TaskStatus,
        now: float,
        exception: BaseException | None,
        decision: Decision | None,
    ) -> None:
        if exception is not None:
            without_runner_frame(exception)
        # The same event as the one emitted for this change.
        self._last_failure = TaskEvent(
            h._id, h._name, old, _FAILED, now, h._attempts, exception, decision
        )
        unretrieved = self._unretrieved
        if unretrieved is not None:
            assert exception is not None
            unretrieved.add(h, h._id, h._name, h._attempts, exception)
        elif self._log_failures == "always":
            assert exception is not None
            log_failure(self._name, h._name, h._id, h._attempts, exception)

    # -- when a graceful shutdown may go on ---------------------------------------

    def _check_idle(self) -> None:
        """Wake a graceful shutdown once only PERMANENT tasks are left, or once the
        one-shot work left can never get a slot."""
        idle = self._idle
        if idle is not None and (
            self._n_live == self._n_permanent_live or self._one_shot_work_is_stuck()
        ):
            idle.set()

    def _one_shot_work_is_stuck(self) -> bool:
        """Every slot is held by a PERMANENT task, so no waiting one-shot task can
        start before shutdown stops them, which it does only after the one-shot
        work drained: without this, a graceful shutdown with no grace would wait
        forever. Guarded by test_shutdown_does_not_wait_for_work_stuck_behind_permanent.
        """
        limit = self._max_concurrent
        # Every slot held by a task in _active: a slot still being handed on by a
        # finishing runner may yet go to a waiting task.
        if limit is None or len(self._active) < limit:
            return False
        for h in self._active.values():
            extra = h._extra
            if extra is None or extra.restart is not _PERMANENT:
                return False
        return True

    # -- snapshots and subscriptions ----------------------------------------------

    def _live_tasks(self) -> list[TaskHandle[Any]]:
        """The tasks that are not terminal, in submission order."""
        live = {h._id: h for h in self._active.values()}
        live.update((h._id, h) for h in self._restarting.values())
        live.update((h._id, h) for h in self._queue if h._queued)
        return [live[i] for i in sorted(live)]

    def _health_report(self) -> HealthReport:
        now = self._clock()
        # O(1) in every state, however many tasks wait, hold a slot or run: a
        # health endpoint polled under load must not slow down as the load grows.
        oldest_pending_age = None
        queue = self._queue
        while queue and not queue[0]._queued:
            queue.popleft()  # cancelled while it waited: each entry is dropped once
        if queue:
            oldest_pending_age = now - queue[0]._created_at
        oldest_attempt = next(iter(self._running_since.values()), None)
        longest_running_age = None if oldest_attempt is None else now - oldest_attempt
        recent_finished, recent_failed = self._window.totals(now)
        intensity = self._intensity
        status, reasons = evaluate(
            self._health_rules,
            waiting=self._n_queued,
            max_pending=self._max_pending,
            recent_finished=recent_finished,
            recent_failed=recent_failed,
            oldest_pending_age=oldest_pending_age,
        )
        return HealthReport(
            status=status,
            reasons=reasons,
            pending=self._n_live - len(self._running_since) - len(self._restarting),
            waiting=self._n_queued,
            running=len(self._running_since),
            restarting=len(self._restarting),
            completed=self._completed,
            failed=self._failed,
            cancelled=self._cancelled_count,
            submitted=self._submitted,
            max_concurrent=self._max_concurrent,
            max_pending=self._max_pending,
            restarts_in_period=0 if intensity is None else intensity.count(now),
            restarts_remaining=None if intensity is None else intensity.remaining(now),
            oldest_pending_age=oldest_pending_age,
            longest_running_age=longest_running_age,
            recent_finished=recent_finished,
            recent_failed=recent_failed,
            last_failure=self._last_failure,
            uptime=now - self._opened_at,
            closed=self._phase is not _OPEN,
            actors=tuple(
                ref.statistics()
                for ref in self._actors.values()
                if ref._ready and ref._handle is not None and ref._handle._sup is self
            ),
        )

    def _subscribe(self, max_buffer: int) -> EventSubscription:
        check_count("max_buffer", max_buffer, 1)
        sub = EventSubscription._create(
            self._backend, max_buffer, ended=self._done.is_set()
        )
        if not self._done.is_set():
            self._subscribers.append(sub)
            self._emitting = True
            sub._unsubscribe = self._unsubscribe
        return sub

    def _unsubscribe(self, sub: EventSubscription) -> None:
        if sub in self._subscribers:
            self._subscribers.remove(sub)
        self._emitting = bool(self._subscribers) or self._on_event is not None
