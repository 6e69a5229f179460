"""The supervisor: open_supervisor(), submission, running, shutdown, observation.

Structure of one supervisor block::

    open_supervisor()                      # the async with
    └── nursery N ("outer")                # body of the block runs here
        ├── <body of the user's block>
        ├── host task (_host)              # owns nursery M for the whole block
        │   └── nursery M ("tasks")
        │       ├── runner(handle 1)       # one trio task per started task,
        │       ├── runner(handle 2)       # each in its own cancel scope
        │       └── ...
        └── shutdown drivers (only when shutdown() is called from a task of M)

PENDING tasks waiting for capacity are entries of a deque, not trio tasks: when a
runner finishes it hands its slot straight to the next entry. Cancelling M's
scope stops every task without touching the user's body (``sup.cancel()``).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import random
from collections import deque
from contextlib import asynccontextmanager
from types import FunctionType
from typing import TYPE_CHECKING, Any, Final, TypeVar, final

import anyio
import trio

from ._actor import ActorRef, spawn_actor as _spawn_actor
from ._backend import NEG_INF, Backend, current_backend, current_clock
from ._checks import check_count, check_seconds, check_type
from ._errors import (
    QueueFull,
    RestartIntensityExceeded,
    SupervisorClosed,
    TaskCancelled,
    TaskFailed,
    TaskTimeout,
)
from ._events import EventSubscription
from ._handle import Extra, TaskHandle, TaskStarter
from ._health import FailureWindow, HealthReport, HealthRules, evaluate
from ._intensity import RestartWindow
from ._spec import Backoff, Restart, Strategy
from ._status import Decision, TaskEvent, TaskStatus
from ._util import NoPublicConstructor
from ._waiters import Waiters

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from typing import TypeVarTuple

    from ._actor import Actor
    from ._backend import Event, Nursery

    PosArgsT = TypeVarTuple("PosArgsT")

T = TypeVar("T")
MsgT = TypeVar("MsgT")
ReplyT = TypeVar("ReplyT")

logger: Final = logging.getLogger("supervisor")

_PENDING = TaskStatus.PENDING
_RUNNING = TaskStatus.RUNNING
_COMPLETED = TaskStatus.COMPLETED
_FAILED = TaskStatus.FAILED
_CANCELLED = TaskStatus.CANCELLED
_RESTARTING = TaskStatus.RESTARTING
_TEMPORARY = Restart.TEMPORARY
_PERMANENT = Restart.PERMANENT
_GIVE_UP = Decision.GIVE_UP


class _UseDefault:
    def __repr__(self) -> str:
        return "<default>"


_USE_DEFAULT: Final = _UseDefault()

# The supervisor whose block (and tasks, through the copied context) we are in: how
# a supervisor opened inside a child finds its parent's tree.
_CURRENT_SUPERVISOR: contextvars.ContextVar[Supervisor | None] = contextvars.ContextVar(
    "supervisor.current", default=None
)

# ----------------------------------------------------------------------------
# Argument checks of the submit calls (the general ones are in _checks)
# ----------------------------------------------------------------------------

_CO_COROUTINE: Final = inspect.CO_COROUTINE


def _check_async_fn(fn: object, api: str) -> None:
    """TypeError unless ``fn`` is an async function (or an object with one as __call__)."""
    if type(fn) is FunctionType and fn.__code__.co_flags & _CO_COROUTINE:
        return  # the common case, without inspect's unwrapping
    if inspect.iscoroutinefunction(fn):
        return
    if inspect.iscoroutine(fn):
        fn.close()  # it will never run: spare the user a "never awaited" warning
        msg = (
            f"{api}() takes an async function and its arguments, got a coroutine "
            f"object {fn!r}; call {api}(fn, *args), not {api}(fn(*args))"
        )
        raise TypeError(msg)
    if inspect.iscoroutinefunction(getattr(fn, "__call__", None)):  # noqa: B004 - want async __call__, not callable()
        return
    if not callable(fn):
        msg = f"{api}() takes an async function, got {fn!r}"
        raise TypeError(msg)
    msg = (
        f"{api}() takes an async function, got the sync callable {fn!r}; define it "
        f"with 'async def', or run it in a worker thread: "
        f"{api}(anyio.to_thread.run_sync, fn, *args)"
    )
    raise TypeError(msg)


def _check_takes_task_status(fn: object) -> None:
    """TypeError unless ``fn`` accepts a ``task_status`` keyword (start_child)."""
    try:
        params = inspect.signature(fn).parameters  # type: ignore[arg-type]  # checked callable
    except (TypeError, ValueError):  # no signature to read: let the call decide
        return
    if "task_status" in params or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
    ):
        return
    msg = (
        f"start_child() needs a function that takes a task_status keyword argument "
        f"and calls task_status.started(), got {fn!r}"
    )
    raise TypeError(msg)


def _default_name(fn: object) -> str:
    if type(fn) is FunctionType:
        return fn.__qualname__
    while isinstance(fn, functools.partial):
        fn = fn.func
    name = getattr(fn, "__qualname__", None)
    return name if isinstance(name, str) else type(fn).__qualname__


def _one_or_group(
    eg: BaseExceptionGroup[BaseException], cancelled: type[BaseException]
) -> BaseException | None:
    """What should escape instead of a nursery's group ``eg``, or None to keep it.

    ``Cancelled`` is dropped (the cancel scope that asked for it catches it anyway);
    a single remaining exception escapes bare; several escape as a group of them.
    None means the group held only ``Cancelled``: re-raise it as it is.
    """
    _, rest = eg.split(cancelled)
    if rest is None:
        return None
    if len(rest.exceptions) == 1:
        return rest.exceptions[0]
    return rest


# TaskHandle._create without the extra Python frame of the metaclass method: one
# handle is built per submission.
_new_handle: Callable[..., TaskHandle[Any]] = functools.partial(
    type.__call__, TaskHandle
)

# ----------------------------------------------------------------------------
# The supervisor
# ----------------------------------------------------------------------------


@final
class Supervisor(metaclass=NoPublicConstructor):
    """Runs submitted async functions as supervised tasks; made by :func:`open_supervisor`.

    Every task gets a :class:`TaskHandle`. The supervisor keeps no reference to a
    finished task: finished tasks live on in counters, the failure window and
    ``last_failure`` only.
    """

    __slots__ = (
        "_CancelScope",
        "_active",
        "_actors",
        "_backend",
        "_cancelled_count",
        "_children",
        "_clock",
        "_closed",
        "_completed",
        "_done",
        "_emitting",
        "_failed",
        "_giving_up",
        "_group_event",
        "_group_lock",
        "_health_rules",
        "_host_task_id",
        "_idle",
        "_intensity",
        "_last_failure",
        "_last_restart_failure",
        "_max_concurrent",
        "_max_pending",
        "_n_live",
        "_n_permanent_live",
        "_n_queued",
        "_n_running",
        "_n_slots",
        "_name",
        "_next_id",
        "_no_starts",
        "_on_event",
        "_opened_at",
        "_outer",
        "_permanent",
        "_queue",
        "_restart_queue",
        "_restarting",
        "_rng",
        "_room",
        "_shutdown_grace",
        "_stop",
        "_strategy",
        "_submitted",
        "_subscribers",
        "_tasks",
        "_token",
        "_window",
    )

    def __init__(
        self,
        *,
        name: str,
        max_concurrent: int | None,
        max_pending: int | None,
        shutdown_grace: float | None,
        on_event: Callable[[TaskEvent], object] | None,
        health_rules: HealthRules,
        backend: Backend,
        strategy: Strategy,
        max_restarts: int,
        restart_period: float | None,
        seed: int | None,
    ) -> None:
        self._name = name
        self._max_concurrent = max_concurrent
        self._max_pending = max_pending
        self._shutdown_grace = shutdown_grace
        self._on_event = on_event
        self._health_rules = health_rules
        self._backend = backend
        self._clock = current_clock()
        self._CancelScope = backend.CancelScope  # read once per task
        now = self._clock()
        self._opened_at = now
        self._token = backend.token()
        self._next_id = 0
        # Tasks holding a capacity slot (RUNNING, or PENDING and scheduled to run),
        # by id, in the order they got it. Queued tasks are in _queue only.
        self._active: dict[int, TaskHandle[Any]] = {}
        self._n_slots = 0  # tasks holding a slot: len(_active) plus cancelled ones
        self._n_running = 0
        # Tasks waiting for capacity, oldest first. Cancelling one leaves its entry
        # behind (h._queued False) to be skipped; _n_queued counts live entries.
        self._queue: deque[TaskHandle[Any]] = deque()
        self._n_queued = 0
        self._room = Waiters(backend)
        self._closed = False  # no new submissions
        self._idle: Event | None = None  # set when nothing holds a slot or waits
        self._stop = backend.Event()  # lets nursery M close once drained
        self._done = backend.Event()  # nursery M has exited; every handle terminal
        self._outer: Nursery | None = None
        self._tasks: Nursery | None = None
        self._host_task_id: int | None = None
        self._submitted = 0
        self._completed = 0
        self._failed = 0
        self._cancelled_count = 0
        self._last_failure: TaskEvent | None = None
        self._window = FailureWindow(health_rules.failure_window, now)
        self._subscribers: list[EventSubscription] = []
        self._emitting = on_event is not None
        # Restarts. Everything here is touched only by tasks that may restart.
        self._strategy = strategy
        self._intensity = (
            None
            if restart_period is None
            else RestartWindow(max_restarts, restart_period)
        )
        self._rng = random.Random(seed)
        # Live started tasks in order of first start, kept only when a strategy
        # acts on siblings; group restarts run one at a time.
        self._children: dict[int, TaskHandle[Any]] | None = (
            None if strategy is Strategy.ONE_FOR_ONE else {}
        )
        self._group_lock = backend.Lock()
        self._actors: dict[str, ActorRef[Any, Any]] = {}  # live actors by name
        self._group_event: Event | None = None
        self._restarting: dict[int, TaskHandle[Any]] = {}  # status RESTARTING
        # RESTARTING tasks whose backoff is over, waiting for a slot: served before
        # the PENDING queue. Cancelled entries are skipped, as in _queue.
        self._restart_queue: deque[TaskHandle[Any]] = deque()
        # PERMANENT tasks that have started, by id, in order of first start: the
        # order in which shutdown stops them (newest first).
        self._permanent: dict[int, TaskHandle[Any]] = {}
        self._last_restart_failure: BaseException | None = None
        self._giving_up: RestartIntensityExceeded | None = None
        # Non-terminal tasks; graceful shutdown's first phase waits until only
        # PERMANENT ones are left.
        self._n_live = 0
        self._n_permanent_live = 0
        # True once no task may start or restart: cancel(), or the second phase of a
        # graceful shutdown (stopping PERMANENT tasks).
        self._no_starts = False

    # ------------------------------------------------------------------------
    # status changes: the one place where a handle's status is written
    # ------------------------------------------------------------------------

    def _set_status(
        self,
        h: TaskHandle[Any],
        new: TaskStatus,
        now: float,
        exception: BaseException | None = None,
        decision: Decision | None = None,
    ) -> None:
        old = h._status
        if new not in old._next:
            msg = f"illegal transition {old.name} -> {new.name} of {h!r}"
            raise AssertionError(msg)  # pragma: no cover - internal invariant
        h._status = new
        if self._emitting:
            self._emit(
                TaskEvent(
                    h._id, h._name, old, new, now, h._attempts, exception, decision
                )
            )

    def _emit(self, event: TaskEvent) -> None:
        for subscriber in self._subscribers:
            subscriber._push(event)
        on_event = self._on_event
        if on_event is not None:
            try:
                on_event(event)
            except Exception:
                # Broad on purpose: a faulty hook must not break the task whose status
                # it observes. Logged with traceback; BaseExceptions still propagate.
                logger.exception(
                    "supervisor %r: on_event hook %r raised; ignored",
                    self._name,
                    on_event,
                )

    def _record_end(
        self,
        h: TaskHandle[Any],
        status: TaskStatus,
        now: float,
        exception: BaseException | None = None,
        decision: Decision | None = None,
    ) -> None:
        """Make ``h`` terminal: status, counters, waiters, unobserved-failure log."""
        h._completed_at = now
        h._exception = exception
        old = h._status
        self._set_status(h, status, now, exception, decision)
        # Drop what the finished task no longer needs, so a handle kept by a user
        # does not keep the function, its arguments or the scope alive.
        h._fn = None
        h._args = ()
        h._scope = None
        self._n_live -= 1
        extra = h._extra
        if extra is not None:
            # (PERMANENT tasks and every task of a strategy supervisor have one.)
            h._context = None
            if extra.restart is _PERMANENT:
                self._n_permanent_live -= 1
                self._permanent.pop(h._id, None)
            if self._children is not None:
                self._children.pop(h._id, None)
            ready = extra.ready_event
            if ready is not None:  # a start_child call waits: it sees the end
                extra.ready_event = None
                ready.set()
            on_end = extra.on_end
            if on_end is not None:
                extra.on_end = None
                on_end()
        if status is _COMPLETED:
            self._completed += 1
            self._window.add(now, False)
        elif status is _FAILED:
            self._failed += 1
            self._window.add(now, True)
            self._record_failure(h, old, now, exception, decision)
        else:
            self._cancelled_count += 1
        event = h._done_event
        if event is not None:
            event.set()
        if self._idle is not None:
            self._check_idle()

    def _record_failure(
        self,
        h: TaskHandle[Any],
        old: TaskStatus,
        now: float,
        exception: BaseException | None,
        decision: Decision | None,
    ) -> None:
        # The same event as the one emitted for this change.
        self._last_failure = TaskEvent(
            h._id, h._name, old, _FAILED, now, h._attempts, exception, decision
        )
        if h._result_waiters == 0:
            logger.error(
                "supervisor %r: task %r (id %d) failed",
                self._name,
                h._name,
                h._id,
                exc_info=exception,
            )

    # ------------------------------------------------------------------------
    # submission
    # ------------------------------------------------------------------------

    def _check_submission(
        self,
        fn: object,
        timeout: object,
        name: object,
        api: str,
        restart: object = _TEMPORARY,
        max_attempts: object = None,
        backoff: object = None,
    ) -> None:
        _check_async_fn(fn, api)
        check_seconds("timeout", timeout, zero_ok=False)
        check_type("name", name, str, "a str or None")
        if restart is not _TEMPORARY:
            if not isinstance(restart, Restart):
                msg = f"restart must be a Restart, got {restart!r}"
                raise TypeError(msg)
            check_count("max_attempts", max_attempts, 1)
            check_type("backoff", backoff, Backoff, "a Backoff or None")
        elif max_attempts is not None or backoff is not None:
            check_count("max_attempts", max_attempts, 1)
            check_type("backoff", backoff, Backoff, "a Backoff or None")

    def _closed_error(self) -> SupervisorClosed:
        state = "has exited" if self._done.is_set() else "is shutting down"
        return SupervisorClosed(
            f"supervisor {self._name!r} {state}; no new tasks accepted"
        )

    def _has_room(self) -> bool:
        limit = self._max_concurrent
        if limit is None or self._n_slots < limit:
            return True
        max_pending = self._max_pending
        return max_pending is None or self._n_queued < max_pending

    def _accept(
        self,
        fn: Callable[..., Awaitable[T]],
        args: tuple[Any, ...],
        name: str | None,
        timeout: float | None,
        restart: Restart = _TEMPORARY,
        max_attempts: int | None = None,
        backoff: Backoff | None = None,
        *,
        start: bool = False,
    ) -> TaskHandle[T]:
        """Create the handle and start it or queue it; the caller checked for room."""
        now = self._clock()
        self._next_id += 1
        h: TaskHandle[T] = _new_handle(
            self,
            self._next_id,
            fn,
            args,
            _default_name(fn) if name is None else name,
            timeout,
            now,
        )
        self._submitted += 1
        self._n_live += 1
        if (
            restart is not _TEMPORARY
            or self._children is not None
            or start
            or max_attempts is not None
            or backoff is not None
        ):
            extra = h._extra = Extra(restart, max_attempts, backoff)
            if start:
                extra.starter = TaskStarter(h)  # marks a start_child child
            if restart is not _TEMPORARY:
                h._context = contextvars.copy_context()  # every attempt starts from it
                if restart is _PERMANENT:
                    self._n_permanent_live += 1
        limit = self._max_concurrent
        if limit is None or self._n_slots < limit:
            self._n_slots += 1
            self._active[h._id] = h
            if self._emitting:
                self._emit(TaskEvent(h._id, h._name, None, _PENDING, now, 0))
            # Started from the submitter's task: trio copies the submitter's context
            # into the new task, as nursery.start_soon always does.
            assert self._tasks is not None
            self._tasks.start_soon(self._run, h, name=h._name)
        else:
            if h._context is None:
                h._context = contextvars.copy_context()
            h._queued = True
            self._queue.append(h)
            self._n_queued += 1
            if self._emitting:
                self._emit(TaskEvent(h._id, h._name, None, _PENDING, now, 0))
        return h

    async def submit(
        self,
        fn: Callable[[*PosArgsT], Awaitable[T]],
        *args: *PosArgsT,
        name: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the task's per-attempt limit, not a deadline for submit
        restart: Restart = _TEMPORARY,
        max_attempts: int | None = None,
        backoff: Backoff | None = None,
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

        Raises:
            SupervisorClosed: the supervisor is shutting down or has exited (also
                when that happens while waiting for room).
            TypeError: ``fn`` is not an async function, or a bad option type.
            ValueError: a bad option value.

        A checkpoint. If cancelled, nothing was submitted.
        """
        self._check_submission(
            fn, timeout, name, "submit", restart, max_attempts, backoff
        )
        return await self._submit(
            fn, args, name, timeout, restart, max_attempts, backoff
        )

    async def _submit(
        self,
        fn: Callable[..., Awaitable[T]],
        args: tuple[Any, ...],
        name: str | None,
        timeout: float | None,  # noqa: ASYNC109 - the task's per-attempt limit
        restart: Restart,
        max_attempts: int | None,
        backoff: Backoff | None,
    ) -> TaskHandle[T]:
        """submit() once its arguments were checked."""
        await self._wait_for_room()
        h = self._accept(fn, args, name, timeout, restart, max_attempts, backoff)
        # The task is accepted: from here on a cancel must not make the caller lose
        # its handle, so the schedule point is shielded.
        await self._backend.cancel_shielded_checkpoint()
        return h

    async def _wait_for_room(self) -> None:
        """Backpressure: return once a new task may be accepted (FIFO with other
        waiters). Raises SupervisorClosed once closed. Cancellable; accepts nothing."""
        await self._backend.checkpoint_if_cancelled()
        while True:
            if self._closed:
                raise self._closed_error()
            if self._has_room():
                return
            await self._room.wait()

    def submit_nowait(
        self,
        fn: Callable[[*PosArgsT], Awaitable[T]],
        *args: *PosArgsT,
        name: str | None = None,
        timeout: float | None = None,
        restart: Restart = _TEMPORARY,
        max_attempts: int | None = None,
        backoff: Backoff | None = None,
    ) -> TaskHandle[T]:
        """Like :meth:`submit`, but raise :class:`QueueFull` instead of waiting.

        With ``max_pending=0`` it succeeds only while a capacity slot is free.
        """
        self._check_submission(
            fn, timeout, name, "submit_nowait", restart, max_attempts, backoff
        )
        if self._closed:
            raise self._closed_error()
        if not self._has_room():
            msg = (
                f"supervisor {self._name!r}: {self._n_queued} tasks already wait for "
                f"capacity (max_pending={self._max_pending})"
            )
            raise QueueFull(msg)
        return self._accept(fn, args, name, timeout, restart, max_attempts, backoff)

    def submit_from_thread(
        self,
        fn: Callable[[*PosArgsT], Awaitable[T]],
        *args: *PosArgsT,
        name: str | None = None,
        timeout: float | None = None,
        restart: Restart = _TEMPORARY,
        max_attempts: int | None = None,
        backoff: Backoff | None = None,
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
        self._check_submission(
            fn, timeout, name, "submit_from_thread", restart, max_attempts, backoff
        )
        if self._done.is_set():
            raise self._closed_error()
        # Checked here, in the calling thread; the loop's side only waits for room.
        call = functools.partial(
            self._submit, fn, args, name, timeout, restart, max_attempts, backoff
        )
        try:
            result: TaskHandle[T] = self._backend.run_from_thread(call, self._token)
        except trio.RunFinishedError:
            raise self._closed_error() from None
        return result

    async def start_child(
        self,
        fn: Callable[..., Awaitable[T]],
        *args: object,
        name: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the task's per-attempt limit, not a deadline for start_child
        restart: Restart = _PERMANENT,
        max_attempts: int | None = None,
        backoff: Backoff | None = None,
    ) -> TaskHandle[T]:
        """Start a child with trio's start protocol; return once it is ready.

        ``fn(*args, task_status=...)`` must call ``task_status.started(value)``;
        ``value`` becomes ``handle.started_value`` (updated by each attempt). A
        first attempt that fails before ``started()``, or returns without calling
        it (a RuntimeError), makes this raise :class:`TaskFailed` unless the restart
        policy runs it again; then this waits for a later attempt's ``started()``.

        Raises:
            TaskFailed: the child ended FAILED before it was ready.
            TaskCancelled: the child ended CANCELLED before it was ready.
            SupervisorClosed: the supervisor is shutting down or has exited.
            TypeError: ``fn`` is not an async function taking ``task_status``.

        A checkpoint, with backpressure as :meth:`submit`. If cancelled before the
        child is ready, the child is cancelled too (as with ``nursery.start``).
        """
        self._check_submission(
            fn, timeout, name, "start_child", restart, max_attempts, backoff
        )
        _check_takes_task_status(fn)
        await self._wait_for_room()
        h = self._accept(
            fn, args, name, timeout, restart, max_attempts, backoff, start=True
        )
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
            msg = f"task {h._name!r} (id {h._id}) failed before it was ready"
            raise TaskFailed(msg) from h._exception
        if h._status is _CANCELLED:
            msg = f"task {h._name!r} (id {h._id}) was cancelled before it was ready"
            raise TaskCancelled(msg)
        return h

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
    ) -> ActorRef[MsgT, ReplyT]:
        """Start an actor: ``factory(*args)`` builds each instance (once per start).

        Returns its :class:`ActorRef` once ``on_start`` succeeded; a failing
        ``on_start`` raises :class:`TaskFailed` with the real exception as cause
        (unless the restart policy retries it). The actor is a supervised child: it
        has a handle, a restart policy, and takes part in strategies, intensity and
        shutdown order. ``name`` is unique among this supervisor's live actors.
        """
        return await _spawn_actor(
            self,
            factory,
            *args,
            name=name,
            mailbox_size=mailbox_size,
            restart=restart,
            max_attempts=max_attempts,
            backoff=backoff,
            stop_timeout=stop_timeout,
        )

    def whereis(self, name: str) -> ActorRef[Any, Any] | None:
        """The live actor named ``name`` in this supervision tree, or None.

        A supervisor opened inside a task of another (one submitted from the outer
        block or its tasks) shares its tree's registry: names are unique across it.
        """
        return self._actors.get(name)

    # ------------------------------------------------------------------------
    # running (the hot path)
    # ------------------------------------------------------------------------

    async def _run(self, h: TaskHandle[Any]) -> None:
        """Body of the trio task of one attempt of a supervised task; it holds a slot."""
        status = h._status
        starts = not self._no_starts and (status is _PENDING or status is _RESTARTING)
        if starts:
            backend = self._backend
            try:
                # A scope around the block may have been cancelled before the body
                # noticed (and stopped everything): then this task must not start
                # either. A schedule point only when cancelled. Guarded by
                # test_nothing_starts_after_an_outer_cancel.
                await backend.checkpoint_if_cancelled()
            except backend.cancelled_exc:
                # Swallowed as in _classify: the runner's last frame, and the scope
                # that asked for it is satisfied by the runner ending.
                starts = False
                status = h._status  # it yielded: the task may be recorded already
        if not starts:
            # Cancelled between getting its slot and this first step: handle.cancel()
            # already recorded it, the supervisor gave up on it, or a supervisor-wide
            # stop is under way and it must not start. Guarded by
            # test_cancel_scheduled_task_never_runs.
            if status is _PENDING or status is _RESTARTING:
                del self._active[h._id]
                if status is _RESTARTING:
                    del self._restarting[h._id]
                self._record_end(h, _CANCELLED, self._clock())
            self._release_slot()
            return
        extra = h._extra
        if status is _RESTARTING:
            assert extra is not None
            if extra.held:  # a group restart took it over after its slot was granted
                self._release_slot()
                return
            del self._restarting[h._id]
            ready = extra.ready_event
            if ready is not None and extra.starter is None:
                # A group restart waits for this task to be RUNNING (it runs as soon
                # as this step ends) before it starts the next one.
                extra.ready_event = None
                ready.set()
        now = self._clock()
        timeout = h._timeout
        scope = (
            self._CancelScope()
            if timeout is None
            else self._CancelScope(deadline=now + timeout)
        )
        # The scope exists before the status says RUNNING: an on_event hook may call
        # handle.cancel() from inside the transition.
        h._scope = scope
        if h._started_at is None:
            h._started_at = now
            if extra is not None:
                if extra.restart is _PERMANENT:
                    self._permanent[h._id] = h
                if self._children is not None:
                    self._children[h._id] = h
        h._attempts += 1
        self._n_running += 1
        self._set_status(h, _RUNNING, now)
        fn = h._fn
        assert fn is not None
        args = h._args
        if extra is None or extra.restart is _TEMPORARY:
            # No later attempt needs them: once the call below passed them on, the
            # running function alone holds its arguments (and the handle, none).
            h._fn = None
            h._args = ()
        value: object = None
        exception: BaseException | None = None
        starter = None if extra is None or extra.starter is None else TaskStarter(h)
        try:
            with scope:
                if starter is None:
                    coro = fn(*args)
                else:
                    assert extra is not None
                    extra.starter = starter  # a fresh task_status for each attempt
                    coro = fn(*args, task_status=starter)
                del fn, args  # the coroutine holds what it needs
                value = await coro
        except BaseException as exc:
            # Broad on purpose: every way a task can end must be recorded. Only
            # non-Exception BaseExceptions other than Cancelled (KeyboardInterrupt,
            # SystemExit) are re-raised: they stop the whole supervisor, as in trio.
            ended, exception = self._classify(exc)
            if ended is None:
                # Stop everything first (queued tasks must not start while it
                # propagates), then let it out.
                self.cancel()
                self._finish(h, _CANCELLED)
                raise
        else:
            if not scope.cancelled_caught:
                ended = _COMPLETED
                if starter is not None and not starter.called:
                    ended = _FAILED
                    msg = (
                        f"task {h._name!r} (id {h._id}) returned without calling "
                        "task_status.started()"
                    )
                    exception = RuntimeError(msg)
            elif h._cancel_requested or (extra is not None and extra.strategy_stop):
                ended = _CANCELLED
            else:
                ended = _FAILED
                msg = (
                    f"task {h._name!r} (id {h._id}) timed out after {timeout!r} seconds"
                )
                exception = TaskTimeout(msg)
        delay = self._finish(h, ended, value, exception)
        if delay is not None:
            await self._wait_to_restart(h, delay)

    def _classify(
        self, exc: BaseException
    ) -> tuple[TaskStatus, BaseException | None] | tuple[None, None]:
        """How an attempt that raised ``exc`` ended; (None, None): let ``exc`` out."""
        cancelled = self._backend.cancelled_exc
        if isinstance(exc, Exception):
            return _FAILED, exc
        if isinstance(exc, cancelled):
            # The supervisor's task nursery (sup.cancel(), shutdown past its grace)
            # or a scope around the whole block was cancelled. Swallowed: this is
            # the last frame of the trio task, so nothing is left to cancel, and the
            # scope that asked for it is satisfied by the task ending. (Re-raising
            # would behave the same, but makes nursery M collect one Cancelled per
            # task into a group: measurably slower when 10k tasks are cancelled.)
            return _CANCELLED, None
        if isinstance(exc, BaseExceptionGroup):
            _, rest = exc.split(cancelled)
            if rest is None:  # only Cancelled, from the task's own nurseries
                return _CANCELLED, None
            if isinstance(rest, Exception):  # Exceptions raised while being cancelled
                return _FAILED, rest
        return None, None

    def _finish(
        self,
        h: TaskHandle[Any],
        status: TaskStatus,
        value: object = None,
        exception: BaseException | None = None,
    ) -> float | None:
        """An attempt ended. Record it; returns the backoff delay if it restarts."""
        del self._active[h._id]
        self._n_running -= 1
        extra = h._extra
        if extra is not None:
            return self._finish_extra(h, extra, status, value, exception)
        # A plain one-shot task: the hot path.
        h._result = value
        self._record_end(
            h,
            status,
            self._clock(),
            exception,
            _GIVE_UP if status is _FAILED else None,
        )
        self._release_slot()
        return None

    def _finish_extra(
        self,
        h: TaskHandle[Any],
        extra: Extra,
        status: TaskStatus,
        value: object,
        exception: BaseException | None,
    ) -> float | None:
        """_finish for tasks that may restart, start_child children, strategies."""
        ready = extra.ready_event
        if ready is not None:  # start_child or a group restart waits on this attempt
            extra.ready_event = None
            ready.set()
        if extra.strategy_stop:
            self._stopped_by_strategy(h, extra, exception)
            self._release_slot()
            return None
        if extra.restart is not _TEMPORARY and self._should_restart(h, extra, status):
            delay = self._begin_restart(h, extra, status, value, exception)
            if delay is not None and self._children is not None:
                # ONE_FOR_ALL / REST_FOR_ONE: a coordinator stops the siblings and
                # restarts them all in start order.
                extra.held = True
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
        h._result = value
        decision = None
        if status is _FAILED or (status is _COMPLETED and extra.restart is _PERMANENT):
            decision = Decision.GIVE_UP  # no restart follows
        self._record_end(h, status, self._clock(), exception, decision)
        self._release_slot()
        return None

    # ------------------------------------------------------------------------
    # restarts (only tasks submitted with a restart policy come here)
    # ------------------------------------------------------------------------

    def _should_restart(
        self, h: TaskHandle[Any], extra: Extra, status: TaskStatus
    ) -> bool:
        if self._no_starts:
            return False
        if status is _COMPLETED:
            if extra.restart is not _PERMANENT:
                return False
        elif status is not _FAILED:
            return False  # a cancelled task is never restarted
        max_attempts = extra.max_attempts
        return max_attempts is None or h._attempts < max_attempts

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
        return 0.0 if backoff is None else backoff.delay(h._attempts, self._rng)

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
        if h._status is not _RESTARTING or extra.held:
            return  # given up (FAILED) meanwhile, or a group restart took it over
        if h._cancel_requested or self._no_starts:
            del self._restarting[h._id]
            self._record_end(h, _CANCELLED, self._clock())
            return
        self._restart_when_slot_free(h)

    def _restart_when_slot_free(self, h: TaskHandle[Any]) -> None:
        """Start ``h``'s next attempt now if a slot is free, else queue it first in
        line (ahead of PENDING tasks)."""
        limit = self._max_concurrent
        if limit is None or self._n_slots < limit:
            self._n_slots += 1
            self._start_attempt(h)
        else:
            h._queued = True
            self._restart_queue.append(h)

    def _start_attempt(self, h: TaskHandle[Any]) -> None:
        """Spawn the runner of ``h``'s next attempt; ``h`` already holds a slot."""
        self._active[h._id] = h
        if self._idle is not None:  # draining: this slot may leave the rest stuck
            self._check_idle()
        context = h._context
        assert context is not None
        if h._extra is None or h._extra.restart is _TEMPORARY:
            h._context = None
        assert self._tasks is not None
        # Start it in the submitter's context (copied at submission); start_soon
        # copies it once more, so each attempt owns a fresh copy.
        context.run(self._tasks.start_soon, self._run, h, name=h._name)

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
        self._giving_up = error
        now = self._clock()
        for r in list(self._restarting.values()):
            del self._restarting[r._id]
            extra = r._extra
            assert extra is not None  # every task that restarts has one
            extra.held = False  # no group restart may take it up again
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
        self.cancel()

    # ------------------------------------------------------------------------
    # strategies: ONE_FOR_ALL and REST_FOR_ONE
    # ------------------------------------------------------------------------

    def _stopped_by_strategy(
        self, h: TaskHandle[Any], extra: Extra, exception: BaseException | None
    ) -> None:
        """An attempt that a group restart stopped has ended (its cleanup is done)."""
        extra.strategy_stop = False
        max_attempts = extra.max_attempts
        if (
            extra.restart is _TEMPORARY
            or self._no_starts
            or (max_attempts is not None and h._attempts >= max_attempts)
        ):
            # Stopped for good, as OTP does with temporary children.
            self._record_end(
                h, _CANCELLED, self._clock(), None, Decision.SIBLING_RESTART
            )
        else:
            # Not a cancellation for its policy: it waits for the group restart.
            extra.held = True
            h._exception = exception
            self._restarting[h._id] = h
            self._set_status(
                h, _RESTARTING, self._clock(), exception, Decision.SIBLING_RESTART
            )
        event = self._group_event
        if event is not None:
            self._group_event = None
            event.set()

    def _stop_for_group(self, s: TaskHandle[Any]) -> None:
        """Stop RUNNING sibling ``s`` for a group restart; its runner unwinds."""
        extra = s._extra
        assert extra is not None  # every task of a strategy supervisor has one
        extra.strategy_stop = True
        assert s._scope is not None
        s._scope.cancel()

    async def _restart_group(self, h: TaskHandle[Any], delay: float) -> None:
        """Restart ``h`` with its siblings (all of them, or those started after it).

        Runs in nursery M: cancelling the supervisor ends it, and _finalize records
        the tasks it held. One group restart at a time.
        """
        async with self._group_lock:
            children = self._children
            assert children is not None
            order = list(children.values())
            if h._status is not _RESTARTING or h not in order:
                return  # cancelled, or given up, while it waited for the lock
            if self._strategy is Strategy.REST_FOR_ONE:
                order = order[order.index(h) :]
            # Every restart of a strategy supervisor's task goes through a group
            # restart, which holds the task until it runs again, and group restarts
            # run one at a time: so a sibling that is not RUNNING is held already.
            unwinding = [s for s in order if s is not h and s._status is _RUNNING]
            for s in unwinding:
                self._stop_for_group(s)
            # The stopped siblings' cleanup finishes before anything restarts.
            while any(s._status is _RUNNING for s in unwinding):
                event = self._group_event = self._backend.Event()
                await event.wait()
            if delay:
                await self._backend.sleep(delay)
            for s in order:
                extra = s._extra
                assert extra is not None
                if not extra.held:
                    continue  # ended meanwhile: stopped for good, cancelled, given up
                extra.held = False
                if self._no_starts:
                    del self._restarting[s._id]
                    self._record_end(s, _CANCELLED, self._clock())
                    continue
                self._restart_when_slot_free(s)
                # In start order: each child is RUNNING (a start_child child: ready)
                # before the next starts, as OTP does. The event may be shared with
                # a start_child call still waiting for this child.
                ready = extra.ready_event
                if ready is None:
                    ready = extra.ready_event = self._backend.Event()
                await ready.wait()

    # ------------------------------------------------------------------------
    # slots and queues
    # ------------------------------------------------------------------------

    def _release_slot(self) -> None:
        """A runner is done with its slot: hand it to the oldest waiting task, or free it.

        Tasks waiting to restart go before PENDING ones: they were admitted first.
        """
        # The effective-deadline test asks whether this runner's task is being
        # cancelled from outside (a scope around the block): then no queued task
        # may start, even before the block's body notices. Guarded by
        # test_outer_cancel_never_starts_queued_tasks.
        if (
            (self._queue or self._restart_queue)
            and not self._no_starts
            and self._backend.current_effective_deadline() != NEG_INF
        ):
            restart_queue = self._restart_queue
            while restart_queue:
                h = restart_queue.popleft()
                if h._queued:  # else cancelled while it waited
                    h._queued = False
                    self._start_attempt(h)
                    return
            queue = self._queue
            while queue:
                h = queue.popleft()
                if h._queued:  # else cancelled while it waited
                    h._queued = False
                    self._n_queued -= 1
                    self._start_attempt(h)
                    self._room.wake_one()
                    return
        self._n_slots -= 1
        if self._room:
            # A free slot is room too (with max_pending=0 it is the only room).
            # Guarded by test_cancelled_submit_submits_nothing.
            self._room.wake_one()

    def _check_idle(self) -> None:
        """Wake a graceful shutdown once only PERMANENT tasks are left, or once the
        one-shot work left can never get a slot."""
        idle = self._idle
        if idle is not None and (
            self._n_live == self._n_permanent_live or self._one_shot_work_is_stuck()
        ):
            idle.set()

    def _one_shot_work_is_stuck(self) -> bool:
        """Every slot is held by a PERMANENT task, so no waiting one-shot task can
        start before shutdown stops them, which it does only after the one-shot
        work drained: without this, a graceful shutdown with no grace would wait
        forever. Guarded by test_shutdown_does_not_wait_for_work_stuck_behind_permanent.
        """
        limit = self._max_concurrent
        # Every slot held by a task in _active: a slot still being handed on by a
        # finishing runner may yet go to a waiting task.
        if limit is None or len(self._active) < limit:
            return False
        for h in self._active.values():
            extra = h._extra
            if extra is None or extra.restart is not _PERMANENT:
                return False
        return True

    def _cancel_waiting(self, h: TaskHandle[Any]) -> None:
        """handle.cancel() of a PENDING or RESTARTING task: it ends CANCELLED and no
        attempt of it starts again."""
        h._cancel_requested = True
        extra = h._extra
        if extra is not None and extra.held:  # held by a group restart: no runner
            extra.held = False
        elif h._queued:
            h._queued = False
            if h._status is _PENDING:
                h._context = None
                self._n_queued -= 1
                queue = self._queue
                if len(queue) > 2 * self._n_queued + 64:
                    # Dead entries outnumber live ones: compact, so cancelled tasks
                    # never make the queue grow without bound.
                    self._queue = deque(q for q in queue if q._queued)
                self._room.wake_one()
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

    # ------------------------------------------------------------------------
    # shutdown
    # ------------------------------------------------------------------------

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            self._room.wake_all()  # blocked submitters now raise SupervisorClosed

    def cancel(self) -> None:
        """Stop everything at once; sync and idempotent.

        Closes the supervisor to new work, ends every queued task CANCELLED without
        starting it, and cancels every running task. The block's body is not
        cancelled; on leaving the block, the supervisor waits for the cancelled
        tasks' cleanup.
        """
        self._close()  # every step below is idempotent too
        self._no_starts = True
        self._cancel_queue()
        if self._tasks is not None:
            self._tasks.cancel_scope.cancel()
        self._check_idle()

    def _cancel_queue(self) -> None:
        """End every task waiting for a slot CANCELLED (PENDING ones, and RESTARTING
        ones whose backoff is over); none of them starts."""
        waiting = [*self._restart_queue, *self._queue]
        self._queue = deque()
        self._restart_queue = deque()
        now = self._clock()
        for h in waiting:
            if h._queued:
                h._queued = False
                h._context = None
                if h._status is _PENDING:
                    self._n_queued -= 1
                else:
                    del self._restarting[h._id]
                self._record_end(h, _CANCELLED, now)

    def _cancel_one_shot(self) -> None:
        """Shutdown grace expired: cancel every task that is not PERMANENT."""
        self._cancel_queue()  # queued PERMANENT tasks never started: no order to keep
        for h in [*self._active.values(), *self._restarting.values()]:
            if h._extra is None or h._extra.restart is not _PERMANENT:
                h.cancel()

    async def _stop_permanent(self) -> None:
        """Second phase of a graceful shutdown: stop PERMANENT tasks one at a time,
        newest first, each fully stopped (cleanup done) before the next."""
        self._no_starts = True
        self._cancel_queue()
        permanent = self._permanent
        while permanent:
            h = permanent[next(reversed(permanent))]
            h.cancel()
            await h.wait()

    async def _wait_idle(self) -> None:
        """Wait until only PERMANENT tasks are left (or the rest is stuck)."""
        if self._n_live == self._n_permanent_live or self._one_shot_work_is_stuck():
            return
        idle = self._idle
        if idle is None:
            idle = self._idle = self._backend.Event()
        await idle.wait()

    async def _drain(self, grace: float | None) -> None:
        """Graceful stop, in two phases.

        1. Close to new work; let PENDING, RUNNING and RESTARTING tasks that are not
           PERMANENT finish, for at most ``grace`` seconds; then cancel them.
        2. Stop PERMANENT tasks one at a time, newest first (see _stop_permanent).

        Returns without waiting for the cleanup of tasks cancelled in phase 1.
        Cancelling a drain cancels the supervisor at once (``self.cancel()``) and
        re-raises: a cancelled shutdown is an immediate one, never a hang.
        """
        self._close()
        try:
            if grace is None:
                await self._wait_idle()
            else:
                with self._backend.CancelScope(deadline=self._clock() + grace):
                    await self._wait_idle()
            if self._n_live != self._n_permanent_live:
                # Grace expired, or what is left can never get a slot before the
                # PERMANENT tasks are stopped.
                self._cancel_one_shot()
            if not self._no_starts:  # the first drain to get here runs phase 2
                await self._stop_permanent()
                self._stop.set()
        except BaseException:
            # Broad on purpose: whatever interrupts the drain (Cancelled from a scope
            # around it, KeyboardInterrupt) turns it into an immediate stop, then
            # propagates.
            self.cancel()
            raise

    def _own_task(self) -> bool:
        """Whether the calling task runs inside this supervisor's task nursery."""
        host = self._host_task_id
        assert host is not None  # set before open_supervisor() gives out the supervisor
        parents = {task.id: task.parent_id for task in anyio.get_running_tasks()}
        task_id: int | None = anyio.get_current_task().id
        while task_id is not None:
            task_id = parents.get(task_id)
            if task_id == host:
                return True
        return False

    async def shutdown(self, grace: float | _UseDefault | None = _USE_DEFAULT) -> None:
        """Shut down gracefully now, as leaving the block normally would.

        Closes to new work, lets PENDING and RUNNING tasks finish for up to
        ``grace`` seconds (omitted: the supervisor's ``shutdown_grace``; None: no
        limit), cancels the rest, and waits until every task is terminal. Several
        concurrent calls each apply their own grace: the earliest deadline wins.

        Called from one of this supervisor's own tasks, it starts the shutdown and
        returns at once, since a task cannot wait for its own end.

        A checkpoint. If cancelled while waiting, the supervisor is cancelled at
        once (:meth:`cancel`) and the ``Cancelled`` propagates.
        """
        if isinstance(grace, _UseDefault):
            grace = self._shutdown_grace
        else:
            check_seconds("grace", grace, zero_ok=True)
        if self._done.is_set():
            await self._backend.checkpoint()
            return
        if self._own_task():
            assert self._outer is not None
            self._close()
            self._outer.start_soon(self._drain, grace)
            await self._backend.checkpoint()
            return
        await self._drain(grace)
        await self._wait_done()

    async def _wait_done(self) -> None:
        try:
            await self._done.wait()
        except BaseException:
            # Broad on purpose: giving up on the wait (cancelled) must still leave no
            # task running unnoticed; the tasks' cleanup goes on under the block.
            self.cancel()
            raise

    async def _host(self, *, task_status: Any) -> None:
        """Own nursery M, where every task runs, until the supervisor stops.

        Exception-group policy: runners re-raise only non-Exception BaseExceptions
        (KeyboardInterrupt, SystemExit); M's group of those (minus Cancelled) escapes
        as one bare exception when there is one, else as a group of them.
        """
        raise_this: BaseException | None = None
        try:
            async with self._backend.open_nursery() as tasks:
                self._tasks = tasks
                self._host_task_id = anyio.get_current_task().id
                task_status.started()
                await self._stop.wait()
        except self._backend.cancelled_exc:
            if self._giving_up is None:
                raise
            # Swallowed on purpose: this task is cancelled (the block's body raised,
            # or a scope around the block was cancelled) just as the supervisor gave
            # up, and the RestartIntensityExceeded raised below must not be lost
            # with the Cancelled. Bounded: this task ends right here.
        except BaseExceptionGroup as eg:
            raise_this = _one_or_group(eg, self._backend.cancelled_exc)
            if raise_this is None and self._giving_up is None:
                raise
        finally:
            self._finalize()
        if raise_this is not None:
            raise raise_this  # outside the except: keeps the exception's own context
        if self._giving_up is not None:
            raise self._giving_up

    def _finalize(self) -> None:
        """Nursery M has exited: every runner is done. Record whatever is left."""
        self._closed = True
        self._no_starts = True
        self._cancel_queue()
        now = self._clock()
        # Runners always record their task before exiting; nothing remains here
        # unless M never ran them (the run itself is being torn down).
        for h in [*self._active.values(), *self._restarting.values()]:
            if not h._status.is_terminal:
                self._active.pop(h._id, None)
                self._restarting.pop(h._id, None)
                self._record_end(h, _CANCELLED, now)
        self._active.clear()
        self._restarting.clear()
        self._n_slots = 0
        self._room.wake_all()
        self._done.set()
        for subscriber in self._subscribers:
            subscriber._end()
        if self._idle is not None:
            self._idle.set()

    # ------------------------------------------------------------------------
    # observing
    # ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def max_concurrent(self) -> int | None:
        return self._max_concurrent

    @property
    def max_pending(self) -> int | None:
        return self._max_pending

    @property
    def closed(self) -> bool:
        """True once the supervisor accepts no new tasks."""
        return self._closed

    def tasks(self) -> list[TaskHandle[Any]]:
        """The tasks that are not terminal, in submission order."""
        live = {h._id: h for h in self._active.values()}
        live.update((h._id, h) for h in self._restarting.values())
        live.update((h._id, h) for h in self._queue if h._queued)
        return [live[i] for i in sorted(live)]

    def health(self) -> HealthReport:
        """A frozen snapshot of counts, ages and the status chosen by the rules.

        O(number of tasks holding a slot) at worst, usually far less; not a
        checkpoint.
        """
        now = self._clock()
        oldest_pending_age = None
        for h in self._queue:
            if h._queued:
                oldest_pending_age = now - h._created_at
                break
        longest_running_age = None
        for h in self._active.values():  # in the order they got their slot
            if h._status is _RUNNING:
                assert h._started_at is not None
                longest_running_age = now - h._started_at
                break
        recent_finished, recent_failed = self._window.totals(now)
        intensity = self._intensity
        status, reasons = evaluate(
            self._health_rules,
            waiting=self._n_queued,
            max_pending=self._max_pending,
            recent_finished=recent_finished,
            recent_failed=recent_failed,
            oldest_pending_age=oldest_pending_age,
        )
        return HealthReport(
            status=status,
            reasons=reasons,
            pending=self._n_live - self._n_running - len(self._restarting),
            waiting=self._n_queued,
            running=self._n_running,
            restarting=len(self._restarting),
            completed=self._completed,
            failed=self._failed,
            cancelled=self._cancelled_count,
            submitted=self._submitted,
            max_concurrent=self._max_concurrent,
            max_pending=self._max_pending,
            restarts_in_period=0 if intensity is None else intensity.count(now),
            restarts_remaining=None if intensity is None else intensity.remaining(now),
            oldest_pending_age=oldest_pending_age,
            longest_running_age=longest_running_age,
            recent_finished=recent_finished,
            recent_failed=recent_failed,
            last_failure=self._last_failure,
            uptime=now - self._opened_at,
            closed=self._closed,
            actors=tuple(
                ref.statistics()
                for ref in self._actors.values()
                if ref._handle is not None and ref._handle._sup is self
            ),
        )

    def subscribe(self, max_buffer: int = 1000) -> EventSubscription:
        """Events from now on: ``async with sup.subscribe() as events: async for ...``.

        Past ``max_buffer`` undelivered events the oldest are dropped (counted in
        ``events.lost``); the supervisor never waits for a subscriber.
        """
        check_count("max_buffer", max_buffer, 1)
        sub = EventSubscription._create(
            self._backend, max_buffer, ended=self._done.is_set()
        )
        if not self._done.is_set():
            self._subscribers.append(sub)
            self._emitting = True
            sub._unsubscribe = self._unsubscribe
        return sub

    def _unsubscribe(self, sub: EventSubscription) -> None:
        if sub in self._subscribers:
            self._subscribers.remove(sub)
        self._emitting = bool(self._subscribers) or self._on_event is not None

    def __repr__(self) -> str:
        state = "done" if self._done.is_set() else "closed" if self._closed else "open"
        return (
            f"<supervisor.Supervisor {self._name!r} at {id(self):#x}, {state}, "
            f"{self._n_running} running, "
            f"{self._n_live - self._n_running - len(self._restarting)} pending>"
        )


def _check_options(name: object, on_event: object, health_rules: object) -> None:
    if not isinstance(name, str):
        msg = f"name must be a str, got {name!r}"
        raise TypeError(msg)
    if on_event is not None and not callable(on_event):
        msg = f"on_event must be callable or None, got {on_event!r}"
        raise TypeError(msg)
    if inspect.iscoroutinefunction(on_event):
        msg = f"on_event must be a sync callable, got the async function {on_event!r}"
        raise TypeError(msg)
    check_type("health_rules", health_rules, HealthRules, "a HealthRules or None")


def _check_restart_options(
    strategy: object, max_restarts: object, restart_period: object, seed: object
) -> None:
    if not isinstance(strategy, Strategy):
        msg = f"strategy must be a Strategy, got {strategy!r}"
        raise TypeError(msg)
    if max_restarts is None:
        msg = "max_restarts must be an int, got None; use restart_period=None for no limit"
        raise TypeError(msg)
    check_count("max_restarts", max_restarts, 0)
    check_seconds("restart_period", restart_period, zero_ok=False)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        msg = f"seed must be an int or None, got {seed!r}"
        raise TypeError(msg)


@asynccontextmanager
async def open_supervisor(
    name: str = "supervisor",
    *,
    max_concurrent: int | None = None,
    max_pending: int | None = None,
    strategy: Strategy = Strategy.ONE_FOR_ONE,
    max_restarts: int = 3,
    restart_period: float | None = 5.0,
    shutdown_grace: float | None = None,
    on_event: Callable[[TaskEvent], object] | None = None,
    seed: int | None = None,
    health_rules: HealthRules | None = None,
) -> AsyncIterator[Supervisor]:
    """Open a supervisor for the duration of an ``async with`` block.

    Args:
        name: shown in logs, errors and reprs.
        max_concurrent: at most this many tasks RUNNING at once (>= 1); None: no limit.
        max_pending: at most this many PENDING tasks waiting for capacity (>= 0);
            None: no limit.
        strategy: which children restart with a restarted one (:class:`Strategy`).
        max_restarts: restart intensity: more than this many restart decisions
            (>= 0) ...
        restart_period: ... within this many seconds (> 0) make the supervisor give
            up with :class:`RestartIntensityExceeded`; None: no limit.
        shutdown_grace: seconds a graceful shutdown lets work finish before
            cancelling it (>= 0); None: no limit.
        on_event: sync callback given every :class:`TaskEvent`; it must not block,
            and its exceptions are logged and ignored.
        seed: seeds the random generator of backoff jitter, for reproducible runs.
        health_rules: how :meth:`Supervisor.health` chooses its status.

    Leaving the block normally shuts down gracefully (see :meth:`Supervisor.shutdown`).
    Leaving it by an exception, or by cancellation of a scope around it, cancels
    every task at once. Either way, when the block exits every handle is terminal and
    no task is left running.

    Exception-group policy (what escapes the block):
      - the body raised E and no task raised a BaseException: E itself, bare;
      - a task raised a non-Exception BaseException K (KeyboardInterrupt,
        SystemExit) and the body did not raise: K itself, bare (task
        ``Exception`` s never escape: they make the task FAILED);
      - both, or several such: a ``BaseExceptionGroup`` of exactly those;
      - only ``Cancelled``: it propagates to the scope that cancelled.
    """
    _check_options(name, on_event, health_rules)
    check_count("max_concurrent", max_concurrent, 1)
    check_count("max_pending", max_pending, 0)
    check_seconds("shutdown_grace", shutdown_grace, zero_ok=True)
    _check_restart_options(strategy, max_restarts, restart_period, seed)
    if health_rules is None:
        health_rules = HealthRules()
    backend = current_backend()
    sup = Supervisor._create(
        name=name,
        max_concurrent=max_concurrent,
        max_pending=max_pending,
        shutdown_grace=shutdown_grace,
        on_event=on_event,
        health_rules=health_rules,
        backend=backend,
        strategy=strategy,
        max_restarts=max_restarts,
        restart_period=restart_period,
        seed=seed,
    )
    # Supervision trees share one actor registry: a supervisor opened inside a task
    # of another one (which inherits the submitter's context) joins its tree.
    parent = _CURRENT_SUPERVISOR.get()
    if parent is not None and not parent._done.is_set():
        sup._actors = parent._actors
    token = _CURRENT_SUPERVISOR.set(sup)
    raise_this: BaseException | None = None
    try:
        async with backend.open_nursery() as outer:
            sup._outer = outer
            await outer.start(sup._host)
            try:
                yield sup
                await sup._drain(sup._shutdown_grace)
                await sup._wait_done()
            except BaseException:
                # Broad on purpose: the body raised, or a scope around the block was
                # cancelled: stop every task at once, then let it propagate.
                sup.cancel()
                raise
    except BaseExceptionGroup as eg:
        raise_this = _one_or_group(eg, backend.cancelled_exc)
        if raise_this is None:
            raise
    finally:
        _CURRENT_SUPERVISOR.reset(token)
    if raise_this is not None:
        # Raised outside the except block so that it keeps its own __context__.
        try:
            raise raise_this
        finally:
            del raise_this
