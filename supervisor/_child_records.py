"""The records of children: their specs (how to start one again), their entries,
and the ChildInfo that ``which_children`` gives out. Plain data, no behaviour."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, final

import attrs

from ._actor import Actor, ActorRef
from ._handle import TaskHandle
from ._spec import Backoff, Restart


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

    __slots__ = ("handle", "id", "kept", "ref", "spec")

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
