"""The records of children: their specs (how to start one again), their entries,
and the ChildInfo that ``which_children`` gives out. Plain data, no behaviour."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, final

import attrs

from ._actor import Actor, ActorRef
from ._handle import TaskHandle, start_key
from ._spec import Backoff, Restart

if TYPE_CHECKING:
    import contextvars


@attrs.frozen
class ChildInfo:
    """One child in :meth:`Supervisor.which_children`."""

    #: Its ``name``, or None for a child started without one.
    id: str | None
    #: Its current handle; for a terminated child whose spec is kept, the last one.
    handle: TaskHandle[Any]
    restart: Restart
    #: Its per-child shutdown: seconds, 0 (cancel at once) or None (no limit).
    shutdown: float | None
    significant: bool


@attrs.frozen
class ActorSpec:
    factory: Callable[..., Actor[Any, Any]]
    args: tuple[Any, ...]
    mailbox_size: int
    stop_timeout: float


@attrs.frozen
class ChildSpec:
    """How to start a child again (kept for PERMANENT and TRANSIENT children)."""

    fn: Callable[..., Awaitable[Any]]
    args: tuple[Any, ...]
    timeout: float | None
    restart: Restart
    max_attempts: int | None
    backoff: Backoff | None
    shutdown: float | None
    significant: bool
    actor: ActorSpec | None = None
    #: Seconds each attempt may take to call task_status.started() (None: no bound).
    start_timeout: float | None = None


@final
class Child:
    """A child's entry: its id, its current (or last) handle, and its spec."""

    __slots__ = ("context", "handle", "id", "kept", "ref", "spec")

    def __init__(
        self, child_id: str | None, handle: TaskHandle[Any], spec: ChildSpec | None
    ) -> None:
        self.id = child_id
        self.handle = handle
        # None for a TEMPORARY child: it is never started again.
        self.spec = spec
        #: Terminated by terminate_child (or held back by a group restart that
        #: stopped early); restart_child may start it again.
        self.kept = False
        #: An actor child's current ref.
        self.ref: ActorRef[Any, Any] | None = None
        #: The context its attempts start from: a group restart that starts it
        #: again as a new task starts it from there, not from its own context.
        self.context: contextvars.Context | None = None


@final
class ChildRecords:
    """A supervisor's children: their entries by current handle and by id, and
    the live actors of its supervision tree (a registry shared by the tree)."""

    __slots__ = ("actors", "by_handle", "by_id")

    def __init__(self) -> None:
        #: Live or kept children, by the id of their current handle.
        self.by_handle: dict[int, Child] = {}
        #: Those with an id, by id.
        self.by_id: dict[str, Child] = {}
        #: Live actors by name; shared with the supervisors of the same tree.
        self.actors: dict[str, ActorRef[Any, Any]] = {}

    def join_tree(self, actors: dict[str, ActorRef[Any, Any]]) -> None:
        """This supervisor was opened inside a task of another: share its registry."""
        self.actors = actors

    def check_new(self, actor: bool, name: str | None, *, new_id: bool) -> None:
        """ValueError if ``name`` is taken: an actor's, among the tree's live
        actors; a new child's, among this supervisor's child ids."""
        if actor:
            registry = self.actors
            if name in registry and not registry[name]._closed:
                msg = f"an actor named {name!r} already runs in this supervision tree"
                raise ValueError(msg)
        if new_id and name is not None and name in self.by_id:
            msg = f"name {name!r} is already the id of a child of this supervisor"
            raise ValueError(msg)

    def add(
        self, name: str | None, h: TaskHandle[Any], spec: ChildSpec | None
    ) -> Child:
        """A new child, started as ``h``."""
        child = Child(name, h, spec)
        if name is not None:
            self.by_id[name] = child
        self.by_handle[h._id] = child
        return child

    def restarted(self, child: Child, h: TaskHandle[Any]) -> None:
        """Kept ``child`` was started again, as ``h``."""
        del self.by_handle[child.handle._id]
        child.handle = h
        child.kept = False
        self.by_handle[h._id] = child

    def starting(self, child: Child, starting: bool) -> None:
        """restart_child is starting kept ``child`` again (restart and delete
        raise ChildRunning meanwhile), or gave up doing so."""
        child.kept = not starting

    def started_as(
        self,
        child: Child,
        h: TaskHandle[Any],
        ref: ActorRef[Any, Any] | None,
        context: contextvars.Context | None,
    ) -> None:
        """``child`` runs as ``h`` now (an actor: behind ``ref``), started from
        ``context``."""
        assert child.handle is h
        child.ref = ref
        child.context = context

    def register_actor(self, ref: ActorRef[Any, Any], name: str) -> None:
        self.actors[name] = ref

    def after_end(self, h: TaskHandle[Any], *, keep: bool) -> None:
        """Child task ``h`` became terminal: keep its spec (``keep``: terminated)
        or forget the child."""
        child = self.by_handle.get(h._id)
        if child is None or child.handle is not h:
            return  # pragma: no cover - a restarted child's old handle ended already
        if keep and child.spec is not None:
            child.kept = True
            return
        self.forget(child)

    def forget(self, child: Child) -> None:
        del self.by_handle[child.handle._id]
        if child.id is not None:
            del self.by_id[child.id]

    def in_start_order(self) -> list[Child]:
        return sorted(self.by_handle.values(), key=lambda c: start_key(c.handle))

    def kept(self) -> list[TaskHandle[Any]]:
        """The last handles of the kept (terminated) children."""
        return [c.handle for c in self.by_handle.values() if c.kept]
