"""Stopping one task: on purpose by its shutdown policy, or by ``handle.cancel()``.

A stop on purpose (``terminate_child``, a group restart, a graceful shutdown's
second phase) first sets the task's stop request, then cancels it at once
(``shutdown=0``), after ``shutdown`` seconds, or never (``shutdown=None``), and
returns once the attempt has ended, its cleanup done. Its role says why it was
stopped, which decides what follows (``_restarts``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._handle import extra_of
from ._logging import SHUTDOWN_REPORT_EVERY, log_shutdown_waiting
from ._policy import HELD_ROLES, Role
from ._running import Running
from ._spec import Restart
from ._status import TaskStatus

if TYPE_CHECKING:
    from ._backend import Event
    from ._handle import TaskHandle

_RUNNING = TaskStatus.RUNNING
_CANCELLED = TaskStatus.CANCELLED
_RESTARTING = TaskStatus.RESTARTING
_NO_ROLE = Role.NONE
_PERMANENT = Restart.PERMANENT


class Stopping(Running):
    """Stop requests, stops by policy, and the cancel of a task that does not run."""

    __slots__ = ()

    async def _stop_attempt(self, h: TaskHandle[Any], role: Role) -> None:
        """Stop RUNNING ``h`` by its shutdown policy, for the reason ``role``.

        Returns once the attempt has ended (its cleanup done). If the caller is
        cancelled meanwhile, ``h`` is cancelled at once and the cancel propagates.
        """
        extra = extra_of(h)
        extra.role = role
        extra.request_stop()
        if h._status is not _RUNNING:
            return  # a stop hook (a nested supervisor) ended it already
        ended = extra.attempt_end
        if ended is None:
            ended = extra.attempt_end = self._backend.Event()
        scope = h._scope
        assert scope is not None
        shutdown = extra.shutdown
        report = role is Role.SHUTTING_DOWN  # a graceful shutdown says it waits
        try:
            if shutdown is None:
                await self._wait_for(ended, report)
            elif shutdown > 0:
                with self._backend.CancelScope(deadline=self._clock() + shutdown):
                    await self._wait_for(ended, report)
            scope.cancel()  # a no-op once the attempt has ended
            await self._wait_for(ended, report)
        except BaseException:
            # Broad on purpose: whoever stops it gave up waiting (cancelled): the
            # task is cancelled at once, its cleanup goes on in its own runner,
            # and the cancel propagates.
            scope.cancel()
            raise

    async def _wait_for(self, ended: Event, report: bool) -> None:
        """``ended.wait()``; with ``report`` (a graceful shutdown), saying what it
        waits for as it goes."""
        if report:
            await self._wait_reporting(ended, permanent=True)
        else:
            await ended.wait()

    async def _wait_reporting(self, event: Event, *, permanent: bool) -> None:
        """``event.wait()`` for a graceful shutdown, logging every
        SHUTDOWN_REPORT_EVERY seconds the tasks it still waits for (the PERMANENT
        ones, or the others)."""
        while True:
            with self._backend.CancelScope(
                deadline=self._clock() + SHUTDOWN_REPORT_EVERY
            ) as scope:
                await event.wait()
            if not scope.cancelled_caught:
                return
            self._report_waiting(permanent=permanent)

    def _report_waiting(self, *, permanent: bool) -> None:
        """A graceful shutdown still waits: say for what (the oldest few of the
        PERMANENT tasks, or of the others)."""
        waiting = []
        for h in self._live_tasks():
            extra = h._extra
            if (extra is not None and extra.restart is _PERMANENT) is permanent:
                since = h._started_at if h._started_at is not None else h._created_at
                waiting.append((since, h._name, h._id, h._status.name))
        log_shutdown_waiting(self._name, waiting, self._clock())

    def _request_stop(self, h: TaskHandle[Any]) -> None:
        """Advice only: set ``h``'s stop request (graceful shutdown's first phase)."""
        extra_of(h).request_stop()

    def _cancel_waiting(self, h: TaskHandle[Any], role: Role = _NO_ROLE) -> None:
        """handle.cancel() of a PENDING or RESTARTING task: it ends CANCELLED and no
        attempt of it starts again. ``role`` says why (``terminate_child``: its
        spec is kept)."""
        h._cancel_requested = True
        extra = h._extra
        held = extra is not None and extra.role in HELD_ROLES
        if extra is not None:
            extra.role = role
        if held:
            pass  # held by a group restart: no runner, no slot, no queue entry
        elif h._queued:
            self._unqueue(h)
        elif h._id in self._active:
            # It holds a slot and its runner is scheduled; the runner sees the status
            # and frees the slot without calling the function.
            del self._active[h._id]
        elif h._status is _RESTARTING:
            # Waiting out its backoff: wake that runner, which records the end.
            assert h._scope is not None
            h._scope.cancel()
            return
        if h._status is _RESTARTING:
            del self._restarting[h._id]
        self._record_end(h, _CANCELLED, self._clock())
