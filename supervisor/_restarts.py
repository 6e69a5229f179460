"""Restarts: what follows an attempt of a task that may restart, and giving up.

The decisions themselves are plain code (``_policy``, ``_intensity``); this module
carries them out: RESTARTING, the backoff wait (holding no slot), the next
attempt, a group restart, or the end of the task; and, when the restart intensity
is exceeded, giving up on everything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import RestartIntensityExceeded
from ._groups import Groups
from ._logging import log_give_up, log_restart
from ._policy import Phase, Role, restart_follows
from ._spec import Restart
from ._status import Decision, TaskStatus

if TYPE_CHECKING:
    from ._handle import Extra, TaskHandle

_COMPLETED = TaskStatus.COMPLETED
_FAILED = TaskStatus.FAILED
_CANCELLED = TaskStatus.CANCELLED
_RESTARTING = TaskStatus.RESTARTING
_PERMANENT = Restart.PERMANENT
_STOPPING = Phase.STOPPING
_NO_ROLE = Role.NONE
_GROUP_STOP = Role.GROUP_STOP


class Restarts(Groups):
    """After an attempt: restart it (now, after a backoff, with its group) or end it."""

    __slots__ = ()

    def _finish_extra(
        self,
        h: TaskHandle[Any],
        extra: Extra,
        status: TaskStatus,
        value: object,
        exception: BaseException | None,
    ) -> float | None:
        """_finish for tasks with an Extra; returns the backoff delay if it restarts."""
        extra.wake_ready()  # start_child or a group restart waits on this attempt
        extra.wake_attempt_end()  # a stop by policy waits on it
        role = extra.role
        if role is _GROUP_STOP:
            self._stopped_by_strategy(h, extra, status, exception)
            self._release_slot()
            return None
        if (
            role is _NO_ROLE
            and self._phase is not _STOPPING
            and restart_follows(extra.restart, status, h._attempts, extra.max_attempts)
        ):
            delay = self._begin_restart(h, extra, status, value, exception)
            if delay is not None and self._children is not None:
                # ONE_FOR_ALL / REST_FOR_ONE: a coordinator stops the siblings and
                # restarts them all in start order.
                extra.role = Role.RESTART_PENDING
                self._release_slot()
                assert self._tasks is not None
                self._tasks.start_soon(self._restart_group, h, delay)
                return None
            if delay == 0 and h._status is _RESTARTING and not h._cancel_requested:
                # No backoff: the restart is immediate and keeps the slot, so no
                # PENDING task slips in between two attempts. Guarded by
                # test_restart_waits_for_a_slot_ahead_of_pending_tasks.
                self._start_attempt(h)
                return None
            self._release_slot()
            return delay
        # No restart follows: it ended by itself, or was stopped on purpose
        # (terminate_child, a graceful shutdown), which no restart follows either.
        h._result = value
        decision = None
        if status is _FAILED or (status is _COMPLETED and extra.restart is _PERMANENT):
            decision = Decision.GIVE_UP
        self._record_end(h, status, self._clock(), exception, decision)
        if extra.significant and role is _NO_ROLE and status is not _CANCELLED:
            self._significant_ended()
        self._release_slot()
        return None

    def _begin_restart(
        self,
        h: TaskHandle[Any],
        extra: Extra,
        status: TaskStatus,
        value: object,
        exception: BaseException | None,
    ) -> float | None:
        """Take the restart decision: count it, then RESTARTING (or give up)."""
        now = self._clock()
        if exception is not None:
            self._last_restart_failure = exception
        intensity = self._intensity
        if intensity is not None and intensity.record(now):
            # This decision tips the intensity: the task ends as its attempt did,
            # and the supervisor gives up on everything.
            h._result = value
            self._record_end(h, status, now, exception, Decision.ESCALATE)
            self._give_up(h)
            return None
        h._exception = exception
        self._restarting[h._id] = h
        self._set_status(h, _RESTARTING, now, exception, Decision.RESTART)
        backoff = extra.backoff
        delay = 0.0 if backoff is None else backoff.delay(h._attempts, self._rng)
        log_restart(self._name, h._name, h._id, h._attempts, exception, delay)
        if self._metrics is not None:
            self._metrics.restarts += 1
        return delay

    async def _wait_to_restart(self, h: TaskHandle[Any], delay: float) -> None:
        """Wait out the backoff (holding no slot), then start the next attempt."""
        scope = self._CancelScope()
        h._scope = scope
        if not h._cancel_requested:  # an on_event hook may have cancelled it already
            try:
                with scope:
                    await self._backend.sleep(delay)
            except self._backend.cancelled_exc:
                # The task nursery or a scope around the block is cancelled. Swallowed
                # as in _classify: this is the trio task's last await; the status is
                # recorded below.
                pass
        extra = h._extra
        assert extra is not None
        if h._status is not _RESTARTING:
            return  # given up (FAILED) meanwhile
        if h._cancel_requested or self._phase is _STOPPING:
            del self._restarting[h._id]
            self._record_end(h, _CANCELLED, self._clock())
            return
        self._restart_when_slot_free(h)

    def _give_up(self, h: TaskHandle[Any]) -> None:
        """Restart intensity exceeded (at ``h``): fail what waits to restart, cancel
        everything, and make the block raise RestartIntensityExceeded."""
        intensity = self._intensity
        assert intensity is not None
        msg = (
            f"supervisor {self._name!r}: task {h._name!r} (id {h._id}) exceeded the "
            f"restart intensity: more than {intensity.max_restarts} restarts in "
            f"{intensity.period!r} seconds"
        )
        error = RestartIntensityExceeded(msg)
        error.__cause__ = self._last_restart_failure
        log_give_up(
            self._name, h._name, h._id, h._attempts, msg, self._last_restart_failure
        )
        self._giving_up = error
        now = self._clock()
        for r in list(self._restarting.values()):
            del self._restarting[r._id]
            extra = r._extra
            assert extra is not None  # every task that restarts has one
            extra.role = _NO_ROLE  # no group restart may take it up again
            if r._queued:
                r._queued = False
            else:
                # Holding a slot with its runner scheduled, or waiting out its
                # backoff: the runner sees the status and only frees what it holds.
                self._active.pop(r._id, None)
            # Its own last failure; after a normal return (PERMANENT) it has none,
            # and the supervisor giving up is what failed it.
            # Guarded by test_given_up_restart_after_a_return_fails_with_the_give_up.
            self._record_end(r, _FAILED, now, r._exception or error, Decision.ESCALATE)
        self._cancel_all()
