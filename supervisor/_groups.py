"""Group restarts: ONE_FOR_ALL and REST_FOR_ONE, in OTP's order.

A group restart stops the siblings one at a time, newest first, each by its
shutdown policy and with its cleanup done before the next; then starts the group
in start order, each child ready before the next. If a child fails before it is
ready, it stops there: that failure is handled by the policy like any other (a new
group restart, or giving up). If that child then ends for good, the children it
held back end CANCELLED, their specs kept as after ``terminate_child``.

Every restart of a strategy supervisor's task goes through a group restart, which
holds the task (role GROUP_HELD) until it runs again; group restarts run one at a
time (``_group_lock``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._handle import start_key
from ._policy import HELD_ROLES, Phase, Role, group_of, rejoins_group, stop_order
from ._status import Decision, TaskStatus
from ._stopping import Stopping

if TYPE_CHECKING:
    from ._handle import Extra, TaskHandle

_RUNNING = TaskStatus.RUNNING
_CANCELLED = TaskStatus.CANCELLED
_RESTARTING = TaskStatus.RESTARTING
_GROUP_HELD = Role.GROUP_HELD
_NO_ROLE = Role.NONE
_STOPPING = Phase.STOPPING


class Groups(Stopping):
    """Restart a child with its siblings, as its supervisor's strategy says."""

    __slots__ = ()

    def _stopped_by_strategy(
        self,
        h: TaskHandle[Any],
        extra: Extra,
        status: TaskStatus,
        exception: BaseException | None,
    ) -> None:
        """An attempt that a group restart stopped has ended (its cleanup is done)."""
        if self._phase is _STOPPING or not rejoins_group(
            extra.restart, h._attempts, extra.max_attempts
        ):
            # Stopped for good, as OTP does with temporary children: CANCELLED, or
            # as it ended by itself after the stop request.
            self._record_end(
                h, status, self._clock(), exception, Decision.SIBLING_RESTART
            )
            return
        # However it ended, not a cancellation for its policy: it waits for the
        # group restart.
        extra.role = _GROUP_HELD
        h._exception = exception
        self._restarting[h._id] = h
        self._set_status(
            h, _RESTARTING, self._clock(), exception, Decision.SIBLING_RESTART
        )

    async def _restart_group(self, h: TaskHandle[Any], delay: float) -> None:
        """Restart ``h`` with its siblings (all of them, or those started after it).

        Runs in nursery M: cancelling the supervisor ends it, and _finalize records
        the tasks it held.
        """
        async with self._group_lock:
            children = self._children
            assert children is not None
            if h._status is not _RESTARTING or h._id not in children:
                # Cancelled or given up while it waited for the lock, or another
                # group restart ran it again already.
                if h._status.is_terminal:
                    self._end_held_after(h)
                return
            # Kept (terminated) children restart with the group, as in OTP.
            kept = [c.handle for c in self._entries.values() if c.kept]
            members = sorted([*children.values(), *kept], key=start_key)
            group = group_of(self._strategy, members, h)
            for sibling in stop_order(group, h):
                if sibling._status is _RUNNING:
                    await self._stop_attempt(sibling, Role.GROUP_STOP)
            if delay:
                await self._backend.sleep(delay)
            if h._status.is_terminal:
                # It ended for good during the stops or the backoff (cancelled,
                # terminated): the children it held back are kept, not started.
                self._end_held_after(h)
                return
            for child in group:
                if child._status.is_terminal:
                    if not _is_kept(child):
                        continue  # stopped for good, or ended, meanwhile
                    started = self._respawn_kept(child)  # a new task
                    if started is None:
                        continue
                    child = started
                    ok = await self._until_ready(child, 0)
                else:
                    ok = await self._start_held(child)
                if not ok:
                    # It failed before it was ready: a new decision follows (a new
                    # group restart takes the rest), or it ended for good.
                    if child._status.is_terminal:
                        self._end_held_after(child)
                    return

    async def _start_held(self, h: TaskHandle[Any]) -> bool:
        """Start held ``h`` and wait until it is ready (RUNNING; a start_child child:
        started). False if the attempt or the task ended first. A child not held
        (running, or ended meanwhile) is left alone: True."""
        extra = h._extra
        assert extra is not None
        if extra.role not in HELD_ROLES:
            return True
        extra.role = _NO_ROLE
        if self._phase is _STOPPING:
            del self._restarting[h._id]
            self._record_end(h, _CANCELLED, self._clock())
            return True
        attempts = h._attempts
        self._restart_when_slot_free(h)
        return await self._until_ready(h, attempts)

    async def _until_ready(self, h: TaskHandle[Any], attempts: int) -> bool:
        """Wait until ``h``'s next attempt (after ``attempts``) is ready: True, or
        until it or the task ended first: False."""
        extra = h._extra
        assert extra is not None
        # The event may be shared with a start_child call still waiting for it.
        ready = extra.ready_event
        if ready is None:
            ready = extra.ready_event = self._backend.Event()
        await ready.wait()
        if h._attempts == attempts:
            return False  # it never ran: cancelled in the queue, or given up
        starter = extra.starter
        return starter is None or starter.called

    def _end_held_after(self, h: TaskHandle[Any]) -> None:
        """``h`` ended for good in a group restart: the children after it that the
        group restart held back end CANCELLED, their specs kept."""
        after = start_key(h)
        now = self._clock()
        for s in list(self._restarting.values()):
            extra = s._extra
            assert extra is not None
            if extra.role is _GROUP_HELD and start_key(s) > after:
                extra.role = Role.TERMINATING  # kept, as after terminate_child
                del self._restarting[s._id]
                self._record_end(s, _CANCELLED, now)


def _is_kept(h: TaskHandle[Any]) -> bool:
    """Whether ``h`` is the last handle of a kept (terminated) child."""
    extra = h._extra
    assert extra is not None  # every task of a strategy supervisor has one
    child = extra.child
    return child is not None and child.kept and child.handle is h
