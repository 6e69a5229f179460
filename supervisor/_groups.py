"""Group restarts: ONE_FOR_ALL and REST_FOR_ONE, in OTP's order.

A group restart stops the siblings one at a time, newest first, each by its
shutdown policy and with its cleanup done before the next; then starts the group
in start order, each child ready before the next. If a child fails before it is
ready, it stops there: that failure is handled by the policy like any other (a new
group restart, or giving up). If that child then ends for good, the children it
held back end CANCELLED, their specs kept as after ``terminate_child``; so do
all of them if the child that led the restart ends for good before any starts.

Every restart of a strategy supervisor's task goes through a group restart, which
holds the task (role GROUP_HELD) until it runs again; group restarts run one at a
time (the runtime's ``group_lock``). A group restart is a task of nursery M
started by the runtime (``_core``) when ``_policy`` says RESTART_WITH_GROUP; it
calls back into the runtime only through ``GroupHost``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ._children import respawn_kept
from ._handle import start_key
from ._policy import Phase, Role, group_of, stop_order
from ._status import TaskStatus
from ._stopping import stop_attempt

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ._backend import Backend
    from ._child_records import ChildRecords
    from ._errors import SupervisorClosed
    from ._handle import TaskHandle
    from ._spec import Backoff, Restart, Strategy
    from ._table import TaskTable

_RUNNING = TaskStatus.RUNNING
_CANCELLED = TaskStatus.CANCELLED
_GROUP_HELD = Role.GROUP_HELD
_NO_ROLE = Role.NONE
_STOPPING = Phase.STOPPING


class GroupHost(Protocol):
    """What a group restart uses of the runtime (``_core.Core``): what it uses
    itself, and what it passes on to ``_stopping`` and ``_children`` (a kept
    child starts again as a new task)."""

    name: str
    backend: Backend
    clock: Callable[[], float]
    phase: Phase
    strategy: Strategy
    group_lock: Any
    table: TaskTable
    records: ChildRecords

    def restart_when_slot_free(self, h: TaskHandle[Any], /) -> None: ...

    def end(self, h: TaskHandle[Any], status: TaskStatus, now: float, /) -> None: ...

    async def wait_for_room(self) -> None: ...

    def closed_error(self) -> SupervisorClosed: ...

    def accept(
        self,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        name: str | None,
        timeout: float | None,
        restart: Restart,
        max_attempts: int | None,
        backoff: Backoff | None,
        shutdown: float | None,
        significant: bool,
        *,
        start: bool = ...,
    ) -> TaskHandle[Any]: ...

    def cancel_waiting(self, h: TaskHandle[Any], role: Role = ..., /) -> None: ...


async def restart_group(core: GroupHost, h: TaskHandle[Any], delay: float) -> None:
    """Restart ``h`` with its siblings (all of them, or those started after it).

    Runs in nursery M: cancelling the supervisor ends it, and the block's end
    records the tasks it held.
    """
    async with core.group_lock:
        started = core.table.started
        assert started is not None
        if h._status is not TaskStatus.RESTARTING or h._id not in started:
            # Cancelled or given up while it waited for the lock, or another
            # group restart ran it again already.
            if h._status.is_terminal:
                _end_held_after(core, h)
            return
        # Kept (terminated) children restart with the group, as in OTP, and so
        # do those being terminated now (OTP handles that terminate first); not
        # those terminated while it runs (OTP would stop them after it).
        kept = core.records.kept()
        members = sorted([*started.values(), *kept], key=start_key)
        kept += [m for m in started.values() if _being_terminated(m)]
        group = group_of(core.strategy, members, h)
        for sibling in stop_order(group, h):
            if sibling._status is _RUNNING:
                await stop_attempt(core, sibling, Role.GROUP_STOP)
        if delay:
            await core.backend.sleep(delay)
        if h._status.is_terminal:
            # It ended for good during the stops or the backoff (cancelled,
            # terminated): no child of the group starts; those it held end
            # kept. Guarded by test_a_leader_terminated_in_its_backoff_ends_the_group.
            _end_held(core, group)
            return
        for child in group:
            if child._status.is_terminal:
                if child not in kept or not _is_kept(core, child):
                    continue  # stopped for good, ended or deleted meanwhile
                respawned = respawn_kept(core, child)  # a new task
                if respawned is None:
                    continue
                child = respawned
                ok = await _until_ready(core, child, 0)
            else:
                ok = await _start_held(core, child)
            if not ok:
                # It failed before it was ready: a new decision follows (a new
                # group restart takes the rest), or it ended for good.
                if child._status.is_terminal:
                    _end_held_after(core, child)
                return


async def _start_held(core: GroupHost, h: TaskHandle[Any]) -> bool:
    """Start held ``h`` and wait until it is ready (RUNNING; a start_child child:
    started). False if the attempt or the task ended first. A child not held
    (running, or ended meanwhile) is left alone: True."""
    extra = h._extra
    assert extra is not None
    if not extra.role.held:
        return True
    extra.set_role(_NO_ROLE)
    if core.phase is _STOPPING:
        core.end(h, _CANCELLED, core.clock())
        return True
    attempts = h._attempts
    core.restart_when_slot_free(h)
    return await _until_ready(core, h, attempts)


async def _until_ready(core: GroupHost, h: TaskHandle[Any], attempts: int) -> bool:
    """Wait until ``h``'s next attempt (after ``attempts``) is ready: True, or
    until it or the task ended first: False."""
    extra = h._extra
    assert extra is not None
    # The event may be shared with a start_child call still waiting for it.
    ready = extra.ready_event
    if ready is None:
        ready = extra.ready_event = core.backend.Event()
    await ready.wait()
    if h._attempts == attempts:
        return False  # it never ran: cancelled in the queue, or given up
    starter = extra.starter
    return starter is None or starter.called


def _end_held_after(core: GroupHost, h: TaskHandle[Any]) -> None:
    """``h`` ended for good in a group restart: the children after it that the
    group restart held back end CANCELLED, their specs kept."""
    after = start_key(h)
    _end_held(core, [s for s in core.table.restarting.values() if start_key(s) > after])


def _end_held(core: GroupHost, among: list[TaskHandle[Any]]) -> None:
    """The children ``among`` that a group restart holds end CANCELLED, their
    specs kept (as after terminate_child)."""
    now = core.clock()
    for s in list(among):
        extra = s._extra
        assert extra is not None
        if extra.role is _GROUP_HELD and s._status is TaskStatus.RESTARTING:
            extra.set_role(Role.TERMINATING)  # kept, as after terminate_child
            core.end(s, _CANCELLED, now)


def _being_terminated(h: TaskHandle[Any]) -> bool:
    extra = h._extra
    assert extra is not None  # every task of a strategy supervisor has one
    return extra.role is Role.TERMINATING


def _is_kept(core: GroupHost, h: TaskHandle[Any]) -> bool:
    """Whether ``h`` is the last handle of a kept (terminated) child that was not
    deleted meanwhile."""
    extra = h._extra
    assert extra is not None  # every task of a strategy supervisor has one
    child = extra.child
    return (
        child is not None
        and child.kept
        and child.handle is h
        and core.records.by_handle.get(h._id) is child
    )
