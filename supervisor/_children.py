"""Children: ids, kept specs, and their management (OTP's child API).

A child is a task started by ``start_child`` or ``spawn_actor``. Its ``name`` is
its id, unique among the supervisor's children, live or kept. ``terminate_child``
stops it by its shutdown policy and keeps its spec (PERMANENT and TRANSIENT
children), so ``restart_child`` can start it again as a new task in its old place
in start order; ``delete_child`` forgets the spec. A child that ends in any other
way is forgotten, and its id is free again.

Functions over the runtime (``_core.Core``), through ``ChildHost``; the records
themselves are ``_child_records.ChildRecords``.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any, Protocol, cast

from ._actor import Actor, ActorRef, actor_main, check_actor_options
from ._arguments import check_takes_task_status
from ._child_records import ActorSpec, Child, ChildInfo, ChildSpec
from ._errors import ChildNotFound, ChildRunning, TaskCancelled, TaskFailed
from ._handle import TaskHandle
from ._policy import Phase, Role
from ._spec import Backoff, Restart
from ._status import TaskStatus
from ._stopping import stop_attempt

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ._backend import Backend
    from ._child_records import ChildRecords
    from ._errors import SupervisorClosed
    from ._table import TaskTable

_RUNNING = TaskStatus.RUNNING
_FAILED = TaskStatus.FAILED
_TEMPORARY = Restart.TEMPORARY
_OPEN = Phase.OPEN


class ChildHost(Protocol):
    """What child management uses of the runtime (``_core.Core``)."""

    name: str
    backend: Backend
    clock: Callable[[], float]
    phase: Phase
    records: ChildRecords
    table: TaskTable

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


# -- starting ----------------------------------------------------------------------


async def start_child(
    core: ChildHost, spec: ChildSpec, name: str | None, *, child: Child | None = None
) -> TaskHandle[Any]:
    """Start a child from ``spec``; return once it is ready (see start_child).

    ``child``: the kept entry that restart_child starts again.
    """
    check_takes_task_status(spec.fn)
    core.records.check_new(spec.actor is not None, name, new_id=child is None)
    await core.wait_for_room()
    return await _wait_ready(core, _spawn(core, spec, name, child))


def _spawn(
    core: ChildHost, spec: ChildSpec, name: str | None, child: Child | None
) -> TaskHandle[Any]:
    """Accept a child from ``spec`` (a new one, or kept ``child`` again); ready
    or not, it goes on by itself from here."""
    records = core.records
    # (Again after a wait for room: another start may have taken the name.)
    records.check_new(spec.actor is not None, name, new_id=child is None)
    actor = spec.actor
    ref: ActorRef[Any, Any] | None = None
    args = spec.args
    if actor is not None:
        assert name is not None  # actors always have one
        ref = ActorRef._create(name, actor.mailbox_size, core.backend)
        args = (ref, actor.factory, actor.args, actor.stop_timeout)
    h = core.accept(
        spec.fn,
        args,
        name,
        spec.timeout,
        spec.restart,
        spec.max_attempts,
        spec.backoff,
        spec.shutdown,
        spec.significant,
        start=True,
    )
    extra = h._extra
    assert extra is not None
    if child is None:
        child = records.add(name, h, None if spec.restart is _TEMPORARY else spec)
    else:
        old = child.handle._extra
        assert old is not None
        extra.order = old.order  # its place in start order
        records.restarted(child, h)
    # A kept spec may be started again by a group restart: from a copy of this
    # context, which no attempt runs in.
    context = None if child.spec is None else contextvars.copy_context()
    records.started_as(child, h, ref, context)
    extra.child = child
    extra.start_timeout = spec.start_timeout
    if ref is not None:
        assert name is not None
        _register_actor(records, ref, name, h)
    return h


def _register_actor(
    records: ChildRecords, ref: ActorRef[Any, Any], name: str, h: TaskHandle[Any]
) -> None:
    """Make ``ref`` findable by ``whereis`` while its task lives."""
    records.register_actor(ref, name)
    ref._handle = h
    extra = h._extra
    assert extra is not None
    registry = records.actors

    def on_end() -> None:
        ref._close()
        if registry.get(name) is ref:
            del registry[name]

    extra.on_end = on_end


async def _wait_ready(core: ChildHost, h: TaskHandle[Any]) -> TaskHandle[Any]:
    extra = h._extra
    assert extra is not None
    while True:
        ready = extra.ready_event
        if ready is None:
            ready = extra.ready_event = core.backend.Event()
        try:
            await ready.wait()  # set by started(), or when an attempt ends
        except BaseException:
            # Broad on purpose: the caller gave up (Cancelled) before the child
            # was ready, so the child goes too, as with nursery.start; re-raised.
            h.cancel()
            raise
        if extra.was_started:
            # Ready, whatever happened since (as nursery.start returns once
            # started() was called), even if that attempt ended and the next one
            # began before this call woke up (bug 4 of issue 18). Guarded by
            # test_calling_started_twice_fails_the_task.
            return h
        if h._status.is_terminal:
            break
        # That attempt ended before it was ready and a restart follows.
    if h._status is _FAILED:
        h._retrieved()  # raised to the caller: not logged as well
        msg = f"task {h._name!r} (id {h._id}) failed before it was ready"
        raise TaskFailed(msg) from h._exception
    msg = f"task {h._name!r} (id {h._id}) was cancelled before it was ready"
    raise TaskCancelled(msg)


def respawn_kept(core: ChildHost, h: TaskHandle[Any]) -> TaskHandle[Any] | None:
    """A group restart starts kept child ``h`` again as a new task, in the
    context it was first started from (not the group restart's: bug 3 of issue
    18); None if it cannot (its actor name is taken in the tree meanwhile: it
    stays kept)."""
    extra = h._extra
    assert extra is not None
    entry = extra.child
    assert isinstance(entry, Child)
    assert entry.kept
    assert entry.spec is not None
    context = entry.context
    try:
        if context is None:  # pragma: no cover - every kept child has one
            return _spawn(core, entry.spec, entry.id, entry)
        return context.copy().run(_spawn, core, entry.spec, entry.id, entry)
    except ValueError:
        return None


# -- management ----------------------------------------------------------------------


def find(
    core: ChildHost, child: object, api: str
) -> tuple[TaskHandle[Any], Child | None]:
    """The current handle of ``child`` (a handle or an id), and its entry."""
    if isinstance(child, str):
        entry = core.records.by_id.get(child)
        if entry is None:
            msg = f"{api}(): supervisor {core.name!r} has no child with id {child!r}"
            raise ChildNotFound(msg)
        return entry.handle, entry
    if isinstance(child, TaskHandle):
        if child._sup is not cast("object", core):
            msg = f"{api}(): {child!r} is not a task of supervisor {core.name!r}"
            raise ChildNotFound(msg)
        extra = child._extra
        found = None if extra is None else extra.child
        assert found is None or isinstance(found, Child)
        if found is not None and found.handle is not child:
            found = None  # an old handle of a restarted child: only itself
        return child, found
    msg = f"{api}() takes a child id (str) or a TaskHandle, got {child!r}"
    raise TypeError(msg)


async def terminate(core: ChildHost, child: object) -> None:
    h, _ = find(core, child, "terminate_child")
    if h._status.is_terminal:
        await core.backend.checkpoint()
        return
    if h._status is _RUNNING:
        await stop_attempt(core, h, Role.TERMINATING)
        return
    core.cancel_waiting(h, Role.TERMINATING)
    await h.wait()  # a RESTARTING task's backoff runner records the end


def _kept(core: ChildHost, child: object, api: str) -> Child:
    """The kept entry of ``child``, or ChildNotFound / ChildRunning."""
    h, entry = find(core, child, api)
    if entry is None or core.records.by_handle.get(entry.handle._id) is not entry:
        msg = f"{api}(): supervisor {core.name!r} keeps no spec of {child!r}"
        raise ChildNotFound(msg)
    if not entry.kept:
        msg = f"{api}(): child {child!r} is {h._status.name}; terminate it first"
        raise ChildRunning(msg)
    return entry


async def restart(core: ChildHost, child: object) -> TaskHandle[Any]:
    entry = _kept(core, child, "restart_child")
    if core.phase is not _OPEN:
        raise core.closed_error()
    spec = entry.spec
    assert spec is not None
    last = entry.handle
    records = core.records
    records.starting(entry, True)  # restart/delete now raise ChildRunning
    try:
        return await start_child(core, spec, entry.id, child=entry)
    finally:
        if entry.handle is last:
            # Nothing was started (closed, a name taken, or cancelled while
            # waiting for room): the spec stays kept.
            records.starting(entry, False)


def delete(core: ChildHost, child: object) -> None:
    core.records.forget(_kept(core, child, "delete_child"))


def which_children(core: ChildHost) -> list[ChildInfo]:
    infos = []
    for child in core.records.in_start_order():
        h = child.handle
        extra = h._extra
        assert extra is not None
        infos.append(
            ChildInfo(child.id, h, extra.restart, extra.shutdown, extra.significant)
        )
    return infos


def actor_spec(
    factory: Callable[..., Actor[Any, Any]],
    args: tuple[Any, ...],
    name: object,
    mailbox_size: object,
    stop_timeout: object,
    restart: Restart,
    max_attempts: int | None,
    backoff: Backoff | None,
    shutdown: float | None,
    significant: bool,
) -> ChildSpec:
    """Check spawn_actor's own arguments; the spec of the actor's task."""
    check_actor_options(name, mailbox_size, factory, stop_timeout)
    assert isinstance(mailbox_size, int)
    assert isinstance(stop_timeout, (int, float))
    return ChildSpec(
        actor_main,
        (),
        None,
        restart,
        max_attempts,
        backoff,
        shutdown,
        significant,
        ActorSpec(factory, args, mailbox_size, stop_timeout),
    )
