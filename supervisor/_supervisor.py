"""The public face: :class:`Supervisor` (opened by :func:`open_supervisor`, in ``_open``).

``Supervisor`` is a thin facade: each public method checks its arguments and hands
over to the part that does the work: the runtime (``_core.Core``), the block
(``_shutdown.Block``), child management (``_children``), the report
(``_report``). It also holds the links of the supervision tree (the
supervisors opened inside its tasks, the task it was opened in) and the metrics
hub it reports to.
"""

from __future__ import annotations

import functools
import weakref
from inspect import CO_COROUTINE
from types import FunctionType
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast, final

import attrs
import trio

from . import _children
from ._arguments import (
    NO_WAIT,
    check_policy,
    check_submission,
)
from ._checks import check_seconds
from ._child_records import Child, ChildSpec
from ._children import actor_spec
from ._errors import QueueFull
from ._policy import Phase, check_significant
from ._report import health_report
from ._shutdown import Block
from ._spec import Backoff, Restart
from ._util import NoPublicConstructor

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from typing import TypeVarTuple

    from ._actor import Actor, ActorRef
    from ._child_records import ChildInfo
    from ._core import Core
    from ._events import EventSubscription
    from ._handle import TaskHandle
    from ._health import HealthReport
    from ._metrics_hub import MetricsHub
    from ._tracing_hook import AttemptTracing

    PosArgsT = TypeVarTuple("PosArgsT")

T = TypeVar("T")
MsgT = TypeVar("MsgT")
ReplyT = TypeVar("ReplyT")

_TEMPORARY = Restart.TEMPORARY
_PERMANENT = Restart.PERMANENT
_OPEN = Phase.OPEN


class _UseDefault:
    def __repr__(self) -> str:
        return "<default>"


_USE_DEFAULT: Final = _UseDefault()


@final
class Supervisor(metaclass=NoPublicConstructor):
    """Runs submitted async functions as supervised tasks; made by :func:`open_supervisor`.

    Every task gets a :class:`TaskHandle`. The supervisor keeps no reference to a
    finished task: finished tasks live on in counters, the failure window and
    ``last_failure`` only.
    """

    __slots__ = (
        "__weakref__",  # supervisor.console and the tree keep supervisors weakly
        "_block",
        "_core",
        "_metrics_hub",
        "_nested",
        "_opened_in",
    )

    def __init__(self, core: Core) -> None:
        self._core = core
        self._block = Block(core)
        #: Supervisors opened inside this one's tasks (supervisor.console draws
        #: the tree), and the task this one was opened in, if any.
        self._nested: weakref.WeakSet[Supervisor] = weakref.WeakSet()
        self._opened_in: TaskHandle[Any] | None = None
        #: supervisor.metrics: the hub this supervisor reports to (its own
        #: instrument(), or that of the supervisor it is nested in).
        self._metrics_hub: MetricsHub | None = None

    # -- the tree and its observers (_open, supervisor.metrics/tracing) -------------

    def _nest(self, parent: Supervisor, opened_in: TaskHandle[Any] | None) -> None:
        """This supervisor is opened inside a task of ``parent``: it joins the
        tree (one actor registry), and is traced and measured when ``parent`` is."""
        core = self._core
        core.records.join_tree(parent._core.records.actors)
        core.ledger.attach_tracing(parent._core.ledger.attempt_tracing)
        self._opened_in = opened_in
        parent._nested.add(self)
        hub = parent._metrics_hub
        if hub is not None:
            self._attach_metrics(hub)

    def _attach_metrics(self, hub: MetricsHub) -> None:
        self._metrics_hub = hub
        self._core.ledger.attach_metrics(hub.attach(self._core.table, self._name))

    def _attach_tracing(self, tracing: AttemptTracing) -> None:
        self._core.ledger.attach_tracing(tracing)

    @property
    def _name(self) -> str:
        return self._core.name

    # -- submission -------------------------------------------------------------------

    async def submit(
        self,
        fn: Callable[[*PosArgsT], Awaitable[T]],
        *args: *PosArgsT,
        name: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the task's per-attempt limit, not a deadline for submit
        restart: Restart = _TEMPORARY,
        max_attempts: int | None = None,
        backoff: Backoff | None = None,
        shutdown: float | None = NO_WAIT,
        significant: bool = False,
    ) -> TaskHandle[T]:
        """Submit ``fn(*args)`` and return its handle, PENDING or already RUNNING.

        Waits while ``max_pending`` tasks already wait for capacity (backpressure),
        in FIFO order with other waiting submitters; never waits for the task itself
        to start.

        Args:
            fn: an async function; keyword arguments go through ``functools.partial``.
            name: the handle's name (default: derived from ``fn``).
            timeout: seconds one attempt may run before it fails with
                :class:`TaskTimeout`.
            restart: when to run it again (:class:`Restart`); TEMPORARY: never.
            max_attempts: at most this many attempts (>= 1); None: no cap.
            backoff: delays between attempts (:class:`Backoff`); None: restart at
                once.
            shutdown: how a stop on purpose ends it: 0 cancels it at once; ``s > 0``
                waits up to ``s`` seconds after its stop request for it to end by
                itself, then cancels it; None waits without limit.
            significant: its end may shut the supervisor down (``auto_shutdown``);
                TRANSIENT and TEMPORARY tasks only.

        Raises:
            SupervisorClosed: the supervisor is shutting down or has exited (also
                when that happens while waiting for room).
            TypeError: ``fn`` is not an async function, or a bad option type.
            ValueError: a bad option value.

        A checkpoint. If cancelled, nothing was submitted.
        """
        # The hot path, as in submit_nowait: a plain async function with every
        # option left alone has nothing to check.
        plain = (
            type(fn) is FunctionType
            and fn.__code__.co_flags & CO_COROUTINE
            and name is None
            and timeout is None
            and restart is _TEMPORARY
            and max_attempts is None
            and backoff is None
            and shutdown is NO_WAIT
            and significant is False
        )
        if not plain:
            self._check(
                fn,
                timeout,
                name,
                "submit",
                restart,
                max_attempts,
                backoff,
                shutdown,
                significant,
            )
        return await self._submit(
            fn,
            args,
            name,
            timeout,
            restart,
            max_attempts,
            backoff,
            shutdown,
            significant,
            bool(plain),
        )

    def _check(
        self,
        fn: object,
        timeout: object,
        name: object,
        api: str,
        restart: object,
        max_attempts: object,
        backoff: object,
        shutdown: object,
        significant: object,
    ) -> None:
        check_submission(
            fn, timeout, name, api, restart, max_attempts, backoff, shutdown
        )
        if significant is not False:
            self._check_significant(significant, restart)

    def _check_significant(self, significant: object, restart: object) -> None:
        if type(significant) is not bool:
            msg = f"significant must be a bool, got {significant!r}"
            raise TypeError(msg)
        assert isinstance(restart, Restart)  # checked before
        check_significant(significant, restart, self._core.auto_shutdown)

    async def _submit(
        self,
        fn: Callable[..., Awaitable[T]],
        args: tuple[Any, ...],
        name: str | None,
        timeout: float | None,  # noqa: ASYNC109 - the task's per-attempt limit
        restart: Restart,
        max_attempts: int | None,
        backoff: Backoff | None,
        shutdown: float | None,
        significant: bool,
        plain: bool,
    ) -> TaskHandle[T]:
        """submit() once its arguments were checked; ``plain``: a plain async
        function with every option left alone."""
        core = self._core
        await core.wait_for_room()
        if plain:
            accepted = core.accept_plain(fn, args)
            assert accepted is not None  # there was room, and no schedule point since
            h = accepted
        else:
            h = core.accept(
                fn,
                args,
                name,
                timeout,
                restart,
                max_attempts,
                backoff,
                shutdown,
                significant,
            )
        # The task is accepted: from here on a cancel must not make the caller lose
        # its handle, so the schedule point is shielded.
        await core.backend.cancel_shielded_checkpoint()
        return h

    def submit_nowait(
        self,
        fn: Callable[[*PosArgsT], Awaitable[T]],
        *args: *PosArgsT,
        name: str | None = None,
        timeout: float | None = None,
        restart: Restart = _TEMPORARY,
        max_attempts: int | None = None,
        backoff: Backoff | None = None,
        shutdown: float | None = NO_WAIT,
        significant: bool = False,
    ) -> TaskHandle[T]:
        """Like :meth:`submit`, but raise :class:`QueueFull` instead of waiting.

        With ``max_pending=0`` it succeeds only while a capacity slot is free.
        """
        # The hot path: a plain async function with every option left alone needs
        # one look at its code flags, and no option's branch.
        plain = (
            type(fn) is FunctionType
            and fn.__code__.co_flags & CO_COROUTINE
            and name is None
            and timeout is None
            and restart is _TEMPORARY
            and max_attempts is None
            and backoff is None
            and shutdown is NO_WAIT
            and significant is False
        )
        if not plain:
            # (The checks of _check, without its call.)
            check_submission(
                fn,
                timeout,
                name,
                "submit_nowait",
                restart,
                max_attempts,
                backoff,
                shutdown,
            )
            if significant is not False:
                self._check_significant(significant, restart)
        core = self._core
        if core.phase is not _OPEN:
            raise core.closed_error()
        if plain:
            h = core.accept_plain(fn, args)  # (it checks for room itself)
            if h is None:
                raise self._queue_full()
            return h
        table = core.table
        if table.max_concurrent is not None and not table.has_room():
            raise self._queue_full()
        return core.accept(
            fn,
            args,
            name,
            timeout,
            restart,
            max_attempts,
            backoff,
            shutdown,
            significant,
        )

    def _queue_full(self) -> QueueFull:
        table = self._core.table
        return QueueFull(
            f"supervisor {self._core.name!r}: {table.n_queued} tasks already wait "
            f"for capacity (max_pending={table.max_pending})"
        )

    def submit_from_thread(
        self,
        fn: Callable[[*PosArgsT], Awaitable[T]],
        *args: *PosArgsT,
        name: str | None = None,
        timeout: float | None = None,
        restart: Restart = _TEMPORARY,
        max_attempts: int | None = None,
        backoff: Backoff | None = None,
        shutdown: float | None = NO_WAIT,
        significant: bool = False,
    ) -> TaskHandle[T]:
        """Like :meth:`submit`, from a thread that is not running the event loop.

        Blocks the calling thread until the task is accepted (with backpressure) and
        returns its handle. The task runs in a copy of the calling thread's context.
        To cancel it from the thread, go through ``trio.from_thread.run_sync(h.cancel)``
        (or anyio's equivalent).

        Raises:
            SupervisorClosed: the supervisor is shutting down or has exited.
            RuntimeError: called from the event loop's own thread.
        """
        self._check(
            fn,
            timeout,
            name,
            "submit_from_thread",
            restart,
            max_attempts,
            backoff,
            shutdown,
            significant,
        )
        core = self._core
        if core.done.is_set():
            raise core.closed_error()
        # Checked here, in the calling thread; the loop's side only waits for room.
        call = functools.partial(
            self._submit,
            fn,
            args,
            name,
            timeout,
            restart,
            max_attempts,
            backoff,
            shutdown,
            significant,
            False,  # (not the hot path: the general route)
        )
        try:
            result: TaskHandle[T] = core.backend.run_from_thread(call, core.token)
        except trio.RunFinishedError:
            raise core.closed_error() from None
        return result

    # -- children ---------------------------------------------------------------------

    async def start_child(
        self,
        fn: Callable[..., Awaitable[T]],
        *args: object,
        name: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the task's per-attempt limit, not a deadline for start_child
        restart: Restart = _PERMANENT,
        max_attempts: int | None = None,
        backoff: Backoff | None = None,
        shutdown: float | None = NO_WAIT,
        significant: bool = False,
        start_timeout: float | None = None,
    ) -> TaskHandle[T]:
        """Start a child with trio's start protocol; return once it is ready.

        ``fn(*args, task_status=...)`` must call ``task_status.started(value)``;
        ``value`` becomes ``handle.started_value`` (updated by each attempt). A
        first attempt that fails before ``started()``, or returns without calling
        it (a RuntimeError), makes this raise :class:`TaskFailed` unless the restart
        policy runs it again; then this waits for a later attempt's ``started()``.

        ``name`` is the child's id (see :meth:`terminate_child`): unique among this
        supervisor's children, live or kept. ``shutdown`` and ``significant`` as
        for :meth:`submit`. ``start_timeout`` bounds each attempt's wait for
        ``started()`` (seconds, > 0): an attempt not ready by then fails with
        :class:`TaskTimeout`, and the restart policy decides what follows.

        Raises:
            TaskFailed: the child ended FAILED before it was ready.
            TaskCancelled: the child ended CANCELLED before it was ready.
            SupervisorClosed: the supervisor is shutting down or has exited.
            TypeError: ``fn`` is not an async function taking ``task_status``.
            ValueError: ``name`` is already a child's id, or a bad option value.

        A checkpoint, with backpressure as :meth:`submit`. If cancelled before the
        child is ready, the child is cancelled too (as with ``nursery.start``).
        """
        self._check(
            fn,
            timeout,
            name,
            "start_child",
            restart,
            max_attempts,
            backoff,
            shutdown,
            significant,
        )
        check_seconds("start_timeout", start_timeout, zero_ok=False)
        spec = ChildSpec(
            fn,
            args,
            timeout,
            restart,
            max_attempts,
            backoff,
            shutdown,
            significant,
            start_timeout=start_timeout,
        )
        return await _children.start_child(self._core, spec, name)

    async def spawn_actor(
        self,
        factory: Callable[..., Actor[MsgT, ReplyT]],
        *args: object,
        name: str,
        mailbox_size: int = 100,
        restart: Restart = _PERMANENT,
        max_attempts: int | None = None,
        backoff: Backoff | None = None,
        stop_timeout: float = 5.0,
        shutdown: float | None = NO_WAIT,
        significant: bool = False,
        start_timeout: float | None = None,
    ) -> ActorRef[MsgT, ReplyT]:
        """Start an actor: ``factory(*args)`` builds each instance (once per start).

        Returns its :class:`ActorRef` once ``on_start`` succeeded; a failing
        ``on_start`` raises :class:`TaskFailed` with the real exception as cause
        (unless the restart policy retries it). The actor is a supervised child: it
        has a handle, a restart policy, and takes part in strategies, intensity and
        shutdown order. ``name`` is its id among this supervisor's children and
        unique among the live actors of the supervision tree. ``start_timeout``
        bounds each start (the factory and ``on_start``) as for :meth:`start_child`.
        """
        spec = actor_spec(
            factory,
            args,
            name,
            mailbox_size,
            stop_timeout,
            restart,
            max_attempts,
            backoff,
            shutdown,
            significant,
        )
        check_policy(restart, max_attempts, backoff, shutdown)
        check_seconds("start_timeout", start_timeout, zero_ok=False)
        if significant is not False:
            self._check_significant(significant, restart)
        h = await _children.start_child(
            self._core, attrs.evolve(spec, start_timeout=start_timeout), name
        )
        extra = h._extra
        assert extra is not None
        entry = extra.child
        assert isinstance(entry, Child)
        assert entry.ref is not None
        return entry.ref

    def whereis(self, name: str) -> ActorRef[Any, Any] | None:
        """The live actor named ``name`` in this supervision tree, or None.

        A supervisor opened inside a task of another (one submitted from the outer
        block or its tasks) shares its tree's registry: names are unique across it.
        """
        if not isinstance(cast("object", name), str):
            msg = f"whereis() takes an actor's name, a str; got name={name!r}"
            raise TypeError(msg)
        return self._core.records.actors.get(name)

    async def terminate_child(self, child: TaskHandle[Any] | str) -> None:
        """Stop ``child`` (a handle or an id) by its shutdown policy; return once its
        cleanup is done.

        It ends CANCELLED (or COMPLETED/FAILED if it ended by itself after the stop
        request), is not restarted, and counts no restart. The spec of a PERMANENT
        or TRANSIENT child (``start_child``/``spawn_actor``) is kept for
        :meth:`restart_child`. A task that already ended: nothing to do.

        Raises:
            ChildNotFound: no child has that id, or the handle is another
                supervisor's.

        A checkpoint. If cancelled while waiting, the child is cancelled at once.
        """
        await _children.terminate(self._core, child)

    async def restart_child(self, child: TaskHandle[Any] | str) -> TaskHandle[Any]:
        """Start a terminated child with a kept spec again, as a new task in its old
        place in start order; return its new handle once it is ready (as
        :meth:`start_child`, and raising like it). For an actor, :meth:`whereis`
        then finds its new ref.

        Raises:
            ChildNotFound: no kept spec for ``child``.
            ChildRunning: the child is running, restarting, or being started.
            SupervisorClosed: the supervisor is shutting down or has exited.
        """
        return await _children.restart(self._core, child)

    def delete_child(self, child: TaskHandle[Any] | str) -> None:
        """Forget the kept spec of a terminated child (its id is free again).

        Raises:
            ChildNotFound: no kept spec for ``child``.
            ChildRunning: the child is running, restarting, or being started.
        """
        _children.delete(self._core, child)

    def which_children(self) -> list[ChildInfo]:
        """The ``start_child``/``spawn_actor`` children in start order, kept
        terminated ones included (with their last handle)."""
        return _children.which_children(self._core)

    # -- stopping -----------------------------------------------------------------------

    def cancel(self) -> None:
        """Stop everything at once; sync and idempotent.

        Closes the supervisor to new work, ends every queued task CANCELLED without
        starting it, and cancels every running task (ignoring per-child shutdown
        policies). The block's body is not cancelled; on leaving the block, the
        supervisor waits for the cancelled tasks' cleanup.
        """
        self._core.cancel_all()

    async def shutdown(self, grace: float | _UseDefault | None = _USE_DEFAULT) -> None:
        """Shut down gracefully now, as leaving the block normally would.

        Closes to new work, lets PENDING and RUNNING tasks finish for up to
        ``grace`` seconds (omitted: the supervisor's ``shutdown_grace``; None: no
        limit), cancels the rest, then stops PERMANENT tasks one at a time, newest
        first, each by its shutdown policy; waits until every task is terminal.
        Several concurrent calls each apply their own grace: the earliest deadline
        wins.

        Called from one of this supervisor's own tasks, it starts the shutdown and
        returns at once, since a task cannot wait for its own end.

        A checkpoint. If cancelled while waiting, the supervisor is cancelled at
        once (:meth:`cancel`) and the ``Cancelled`` propagates.
        """
        if isinstance(grace, _UseDefault):
            grace = self._core.shutdown_grace
        else:
            check_seconds("grace", grace, zero_ok=True)
        await self._block.shutdown(grace)

    # -- observing ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._core.name

    @property
    def max_concurrent(self) -> int | None:
        return self._core.table.max_concurrent

    @property
    def max_pending(self) -> int | None:
        return self._core.table.max_pending

    @property
    def closed(self) -> bool:
        """True once the supervisor accepts no new tasks."""
        return self._core.phase is not _OPEN

    def tasks(self) -> list[TaskHandle[Any]]:
        """The tasks that are not terminal, in submission order."""
        return self._core.table.live()

    def health(self) -> HealthReport:
        """A frozen snapshot of counts, ages and the status chosen by the rules.

        O(number of tasks holding a slot) at worst, usually far less; not a
        checkpoint.
        """
        return health_report(self._core)

    def subscribe(self, max_buffer: int = 1000) -> EventSubscription:
        """Events from now on: ``async with sup.subscribe() as events: async for ...``.

        Past ``max_buffer`` undelivered events the oldest are dropped (counted in
        ``events.lost``); the supervisor never waits for a subscriber.
        """
        core = self._core
        return core.ledger.subscribe(core.backend, max_buffer)

    def __repr__(self) -> str:
        core = self._core
        state = (
            "done"
            if core.done.is_set()
            else "open"
            if core.phase is _OPEN
            else "closed"
        )
        counts = core.table.counts()
        return (
            f"<supervisor.Supervisor {core.name!r} at {id(self):#x}, {state}, "
            f"{counts['running']} running, {counts['pending']} pending>"
        )
