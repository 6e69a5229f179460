"""Children: ids, kept specs, and their management (OTP's child API).

A child is a task started by ``start_child`` or ``spawn_actor``. Its ``name`` is
its id, unique among the supervisor's children, live or kept. ``terminate_child``
stops it by its shutdown policy and keeps its spec (PERMANENT and TRANSIENT
children), so ``restart_child`` can start it again as a new task in its old place
in start order; ``delete_child`` forgets the spec. A child that ends in any other
way is forgotten, and its id is free again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._actor import Actor, ActorRef, actor_main, check_actor_options
from ._arguments import check_takes_task_status
from ._child_records import ActorSpec, Child, ChildInfo, ChildSpec
from ._errors import ChildNotFound, ChildRunning, TaskCancelled, TaskFailed
from ._handle import TaskHandle, start_key
from ._policy import Phase, Role
from ._restarts import Restarts
from ._spec import Backoff, Restart
from ._status import TaskStatus

if TYPE_CHECKING:
    from collections.abc import Callable

_RUNNING = TaskStatus.RUNNING
_FAILED = TaskStatus.FAILED
_TEMPORARY = Restart.TEMPORARY
_OPEN = Phase.OPEN


class Children(Restarts):
    """The supervisor's children, by id, with their kept specs."""

    __slots__ = ()

    # -- starting --------------------------------------------------------------

    def _check_new_child(
        self, spec: ChildSpec, name: str | None, *, new_id: bool
    ) -> None:
        """ValueError if ``name`` is taken: an actor's, among the tree's live
        actors; a new child's, among this supervisor's child ids."""
        if spec.actor is not None:
            registry = self._actors
            if name in registry and not registry[name]._closed:
                msg = f"an actor named {name!r} already runs in this supervision tree"
                raise ValueError(msg)
        if new_id and name is not None and name in self._child_ids:
            msg = f"name {name!r} is already the id of a child of this supervisor"
            raise ValueError(msg)

    async def _start_child(
        self, spec: ChildSpec, name: str | None, *, child: Child | None = None
    ) -> TaskHandle[Any]:
        """Start a child from ``spec``; return once it is ready (see start_child).

        ``child``: the kept entry that restart_child starts again.
        """
        check_takes_task_status(spec.fn)
        self._check_new_child(spec, name, new_id=child is None)
        await self._wait_for_room()
        return await self._wait_ready(self._spawn_child(spec, name, child))

    def _spawn_child(
        self, spec: ChildSpec, name: str | None, child: Child | None
    ) -> TaskHandle[Any]:
        """Accept a child from ``spec`` (a new one, or kept ``child`` again);
        ready or not, it goes on by itself from here."""
        # (Again after a wait for room: another start may have taken the name.)
        self._check_new_child(spec, name, new_id=child is None)
        actor = spec.actor
        ref: ActorRef[Any, Any] | None = None
        args = spec.args
        if actor is not None:
            assert name is not None  # actors always have one
            ref = ActorRef._create(name, actor.mailbox_size, self._backend)
            args = (ref, actor.factory, actor.args, actor.stop_timeout)
        h = self._accept(
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
            child = Child(name, h, None if spec.restart is _TEMPORARY else spec)
            if name is not None:
                self._child_ids[name] = child
        else:
            old = child.handle
            del self._entries[old._id]
            assert old._extra is not None
            extra.order = old._extra.order  # its place in start order
            child.handle = h
            child.kept = False
        extra.child = child
        extra.start_timeout = spec.start_timeout
        self._entries[h._id] = child
        if ref is not None:
            assert name is not None
            self._register_actor(ref, name, h)
        child.ref = ref
        return h

    def _register_actor(
        self, ref: ActorRef[Any, Any], name: str, h: TaskHandle[Any]
    ) -> None:
        """Make ``ref`` findable by ``whereis`` while its task lives."""
        registry = self._actors
        registry[name] = ref
        ref._handle = h
        extra = h._extra
        assert extra is not None

        def on_end() -> None:
            ref._close()
            if registry.get(name) is ref:
                del registry[name]

        extra.on_end = on_end

    async def _wait_ready(self, h: TaskHandle[Any]) -> TaskHandle[Any]:
        extra = h._extra
        assert extra is not None
        while True:
            ready = extra.ready_event
            if ready is None:
                ready = extra.ready_event = self._backend.Event()
            try:
                await ready.wait()  # set by started(), or when an attempt ends
            except BaseException:
                # Broad on purpose: the caller gave up (Cancelled) before the child
                # was ready, so the child goes too, as with nursery.start; re-raised.
                h.cancel()
                raise
            starter = extra.starter
            if starter is not None and starter.called:
                # Ready, whatever happened since (as nursery.start returns once
                # started() was called). Guarded by
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

    def _respawn_kept(self, h: TaskHandle[Any]) -> TaskHandle[Any] | None:
        """A group restart starts kept child ``h`` again as a new task; None if it
        cannot (its actor name is taken in the tree meanwhile: it stays kept)."""
        extra = h._extra
        assert extra is not None
        entry = extra.child
        assert isinstance(entry, Child)
        assert entry.kept
        assert entry.spec is not None
        try:
            return self._spawn_child(entry.spec, entry.id, entry)
        except ValueError:
            return None

    # -- when a child ends --------------------------------------------------------

    def _after_end(self, h: TaskHandle[Any]) -> None:
        """Child ``h`` became terminal: keep its spec (terminated) or forget it."""
        extra = h._extra
        assert extra is not None
        child = extra.child
        assert isinstance(child, Child)
        if child.handle is not h:
            return  # pragma: no cover - a restarted child's old handle ended already
        if extra.role is Role.TERMINATING and child.spec is not None:
            child.kept = True
            return
        del self._entries[h._id]
        if child.id is not None:
            del self._child_ids[child.id]

    # -- management ----------------------------------------------------------------

    def _find(self, child: object, api: str) -> tuple[TaskHandle[Any], Child | None]:
        """The current handle of ``child`` (a handle or an id), and its entry."""
        if isinstance(child, str):
            entry = self._child_ids.get(child)
            if entry is None:
                msg = (
                    f"{api}(): supervisor {self._name!r} has no child with id {child!r}"
                )
                raise ChildNotFound(msg)
            return entry.handle, entry
        if isinstance(child, TaskHandle):
            if child._sup is not self:
                msg = f"{api}(): {child!r} is not a task of supervisor {self._name!r}"
                raise ChildNotFound(msg)
            extra = child._extra
            found = None if extra is None else extra.child
            assert found is None or isinstance(found, Child)
            if found is not None and found.handle is not child:
                found = None  # an old handle of a restarted child: only itself
            return child, found
        msg = f"{api}() takes a child id (str) or a TaskHandle, got {child!r}"
        raise TypeError(msg)

    async def _terminate(self, child: object) -> None:
        h, _ = self._find(child, "terminate_child")
        if h._status.is_terminal:
            await self._backend.checkpoint()
            return
        if h._status is _RUNNING:
            await self._stop_attempt(h, Role.TERMINATING)
            return
        self._cancel_waiting(h, Role.TERMINATING)
        await h.wait()  # a RESTARTING task's backoff runner records the end

    def _kept(self, child: object, api: str) -> Child:
        """The kept entry of ``child``, or ChildNotFound / ChildRunning."""
        h, entry = self._find(child, api)
        if entry is None or self._entries.get(entry.handle._id) is not entry:
            msg = f"{api}(): supervisor {self._name!r} keeps no spec of {child!r}"
            raise ChildNotFound(msg)
        if not entry.kept:
            msg = f"{api}(): child {child!r} is {h._status.name}; terminate it first"
            raise ChildRunning(msg)
        return entry

    async def _restart(self, child: object) -> TaskHandle[Any]:
        entry = self._kept(child, "restart_child")
        if self._phase is not _OPEN:
            raise self._closed_error()
        spec = entry.spec
        assert spec is not None
        last = entry.handle
        entry.kept = False  # being started: restart/delete now raise ChildRunning
        try:
            return await self._start_child(spec, entry.id, child=entry)
        finally:
            if entry.handle is last:
                # Nothing was started (closed, a name taken, or cancelled while
                # waiting for room): the spec stays kept.
                entry.kept = True

    def _delete(self, child: object) -> None:
        entry = self._kept(child, "delete_child")
        del self._entries[entry.handle._id]
        if entry.id is not None:
            del self._child_ids[entry.id]

    def _which_children(self) -> list[ChildInfo]:
        infos = []
        for child in sorted(self._entries.values(), key=lambda c: start_key(c.handle)):
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
