"""What a supervisor logs, on the ``supervisor`` logger, with ``extra`` fields
(``supervisor``, ``task_id``, ``task_name``, ``attempt``): failures by the
``log_failures`` rule, restarts (WARNING), giving up (ERROR), and a graceful
shutdown that keeps waiting (WARNING, every ``SHUTDOWN_REPORT_EVERY`` seconds).

The ``log_failures`` rule.

``"unretrieved"`` (the default): a FAILED task's failure is logged once at ERROR,
with its traceback, when its handle is garbage-collected or when the supervisor's
block exits, whichever comes first, unless it was retrieved before: ``result()``
raised it, ``handle.exception`` was read, or ``start_child`` raised it to its
caller. ``"always"`` logs each failure when it happens; ``"never"`` leaves them to
events and handles.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any, Final

logger: Final = logging.getLogger("supervisor")
#: How often a graceful shutdown that waits says so (seconds).
SHUTDOWN_REPORT_EVERY: Final = 10.0
#: How many of the tasks it waits for that line names, oldest first.
SHUTDOWN_REPORT_NAMES: Final = 3


def one_line(exception: BaseException | None) -> str:
    """``"ValueError: first line of the message"`` (``"returned"`` for None)."""
    if exception is None:
        return "returned"
    lines = str(exception).splitlines()
    name = type(exception).__name__
    return f"{name}: {lines[0]}" if lines else name


def log_restart(
    supervisor: str,
    name: str,
    task_id: int,
    attempt: int,
    exception: BaseException | None,
    delay: float,
) -> None:
    logger.warning(
        "supervisor %r: task %r (id %d) attempt %d ended (%s); restarting in %.3g s",
        supervisor,
        name,
        task_id,
        attempt,
        one_line(exception),
        delay,
        extra=_fields(supervisor, name, task_id, attempt),
    )


def log_give_up(
    supervisor: str,
    name: str,
    task_id: int,
    attempt: int,
    message: str,
    cause: BaseException | None,
) -> None:
    logger.error(
        "%s (last: %s)",
        message,
        one_line(cause) if cause is not None else "normal returns",
        extra=_fields(supervisor, name, task_id, attempt),
    )


def log_shutdown_waiting(
    supervisor: str, waiting: list[tuple[float, str, int, str]], now: float
) -> None:
    """``waiting``: (since, name, id, status) of each task the shutdown waits for."""
    oldest = sorted(waiting)[:SHUTDOWN_REPORT_NAMES]
    names = ", ".join(
        f"{name!r} (id {task_id}, {status} {now - since:.1f} s)"
        for since, name, task_id, status in oldest
    )
    logger.warning(
        "supervisor %r: shutdown waits for %d task%s; oldest: %s",
        supervisor,
        len(waiting),
        "" if len(waiting) == 1 else "s",
        names,
        extra={"supervisor": supervisor},
    )


def log_signal(supervisor: str, signal_name: str, first: bool) -> None:
    logger.warning(
        "supervisor %r: %s: %s",
        supervisor,
        signal_name,
        "shutting down gracefully" if first else "again: stopping everything now",
        extra={"supervisor": supervisor},
    )


def _fields(
    supervisor: str, name: str, task_id: int, attempt: int
) -> dict[str, object]:
    return {
        "supervisor": supervisor,
        "task_id": task_id,
        "task_name": name,
        "attempt": attempt,
    }


def log_failure(
    supervisor: str, name: str, task_id: int, attempt: int, exception: BaseException
) -> None:
    logger.error(
        "supervisor %r: task %r (id %d) failed",
        supervisor,
        name,
        task_id,
        exc_info=exception,
        extra=_fields(supervisor, name, task_id, attempt),
    )


def without_runner_frame(exception: BaseException) -> None:
    """Drop the traceback's first entries while they are the supervisor's runner
    (and, with pooled runners, the step that drives the task in its context): those
    frames hold the handle, and a failure kept for later must not keep its handle
    alive (the handle being collected is when it is logged). Their lines, ``value =
    await coro``, say nothing to the user anyway."""
    tb = exception.__traceback__
    while (
        tb is not None
        and tb.tb_frame.f_globals.get("__name__") == "supervisor._attempt"
    ):
        tb = tb.tb_next
    exception.__traceback__ = tb


class UnretrievedFailures:
    """The failures of one supervisor not retrieved yet, by task id."""

    __slots__ = ("__weakref__", "_pending", "_supervisor")

    def __init__(self, supervisor: str) -> None:
        self._supervisor = supervisor
        self._pending: dict[
            int, tuple[weakref.finalize[Any, Any], str, int, BaseException]
        ] = {}

    def add(
        self,
        handle: object,
        task_id: int,
        name: str,
        attempt: int,
        exception: BaseException,
    ) -> None:
        """A failure of ``handle``'s task, logged when the handle is collected
        unless retrieved first. The finalizer holds this record weakly and the
        task's id: not the handle."""
        finalizer = weakref.finalize(handle, _collected, weakref.ref(self), task_id)
        finalizer.atexit = False
        self._pending[task_id] = (finalizer, name, attempt, exception)

    def retrieved(self, task_id: int) -> None:
        entry = self._pending.pop(task_id, None)
        if entry is not None:
            entry[0].detach()

    def log(self, task_id: int) -> None:
        entry = self._pending.pop(task_id, None)
        if entry is not None:
            finalizer, name, attempt, exception = entry
            finalizer.detach()
            log_failure(self._supervisor, name, task_id, attempt, exception)

    def log_all(self) -> None:
        """The block exits: log what is left, oldest task first."""
        for task_id in sorted(self._pending):
            self.log(task_id)

    def __len__(self) -> int:
        return len(self._pending)


def _collected(failures: weakref.ref[UnretrievedFailures], task_id: int) -> None:
    found = failures()
    if found is not None:
        found.log(task_id)
