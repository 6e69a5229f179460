"""When a failure is logged: the ``log_failures`` rule.

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


def log_failure(
    supervisor: str, name: str, task_id: int, attempt: int, exception: BaseException
) -> None:
    logger.error(
        "supervisor %r: task %r (id %d) failed",
        supervisor,
        name,
        task_id,
        exc_info=exception,
        extra={
            "supervisor": supervisor,
            "task_id": task_id,
            "task_name": name,
            "attempt": attempt,
        },
    )


def without_runner_frame(exception: BaseException) -> None:
    """Drop the traceback's first entry when it is the supervisor's runner: that
    frame holds the handle, and a failure kept for later must not keep its handle
    alive (the handle being collected is when it is logged). Its line, ``value =
    await coro``, says nothing to the user anyway."""
    tb = exception.__traceback__
    if (
        tb is not None
        and tb.tb_frame.f_globals.get("__name__") == "supervisor._running"
    ):
        exception.__traceback__ = tb.tb_next


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
