"""TaskHandle: the lifecycle record of one supervised task."""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, final

from trio.lowlevel import current_task as current_trio_task, in_trio_run

from ._errors import TaskCancelled, TaskFailed
from ._policy import Phase, Role
from ._spec import Restart
from ._status import TaskStatus
from ._util import NoPublicConstructor

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from trio.lowlevel import Task

    from ._backend import Backend, Event, Scope
    from ._spec import Backoff

T = TypeVar("T")


class Owner(Protocol):
    """What a handle needs of its supervisor's runtime (``_core.Core``)."""

    backend: Backend
    phase: Phase

    def cancel_waiting(self, h: TaskHandle[Any], /) -> None: ...

    def retrieved(self, task_id: int, /) -> None: ...


class ChildEntry(Protocol):
    """The entry of a start_child / spawn_actor child (``_children.Child``)."""

    handle: TaskHandle[Any]
    kept: bool


# The handle of the supervised task the caller runs in, with the number of the
# attempt, set in the attempt's own copy of the context: by pooled runners, and on
# asyncio. A task started in a nursery outside the supervisor copies it; the
# attempt number tells that copy apart once the attempt has ended.
CURRENT_HANDLE: contextvars.ContextVar[tuple[TaskHandle[Any], int] | None] = (
    contextvars.ContextVar("supervisor.current_handle", default=None)
)

#: On trio, the trio tasks that run attempts, while they do: the handle of the
#: attempt for a task that runs one, None for a pooled runner (which sets
#: CURRENT_HANDLE in each attempt's context). Live entries only: a runner removes
#: its own when it ends, so the map never holds more than the tasks running now.
TRIO_RUNNERS: dict[Task, TaskHandle[Any] | None] = {}


def current_handle() -> TaskHandle[Any] | None:
    """The handle of the supervised task the caller runs in; None outside one.

    Inside a task started by any supervisor (``submit``, ``start_child``,
    ``spawn_actor``), and in the tasks it starts in its own nurseries. A task of a
    supervisor opened inside a task sees its own handle.
    """
    if in_trio_run():
        # On trio, a task that runs one attempt is found among the caller's trio
        # ancestors: setting a context variable in each such task would cost two
        # more objects per task for the garbage collector to walk.
        task: Task | None = current_trio_task()
        while task is not None:
            if task in TRIO_RUNNERS:
                handle = TRIO_RUNNERS[task]
                if handle is not None:
                    return handle
                break  # a pooled runner: the attempt's context says
            nursery = task.parent_nursery
            task = None if nursery is None else nursery.parent_task
    current = CURRENT_HANDLE.get()
    if current is None:
        return None
    handle, attempt = current
    if handle._attempts != attempt or handle._status is not TaskStatus.RUNNING:
        # The attempt that set it has ended: the caller is a task it started in
        # a nursery outside the supervisor, which outlived it. Guarded by
        # test_current_handle_is_none_once_the_attempt_ended.
        return None
    return handle


_PENDING = TaskStatus.PENDING
_RUNNING = TaskStatus.RUNNING
_COMPLETED = TaskStatus.COMPLETED
_FAILED = TaskStatus.FAILED
_RESTARTING = TaskStatus.RESTARTING


@final
class TaskHandle(Generic[T], metaclass=NoPublicConstructor):
    """One supervised task: its status, times, attempts and outcome.

    Handles are made by ``submit``/``submit_nowait``/``submit_from_thread``; their
    attributes are read-only. Times come from the supervisor's clock
    (``anyio.current_time()``, so trio's ``MockClock`` controls them).
    """

    # Plain __slots__ rather than attrs: one handle is built per submission, on the
    # hot path, and half of these fields are private bookkeeping.
    __slots__ = (
        "__weakref__",
        "_args",
        "_attempts",
        "_cancel_requested",
        "_completed_at",
        "_context",
        "_created_at",
        "_done_event",
        "_exception",
        "_extra",
        "_fn",
        "_id",
        "_name",
        "_queued",
        "_result",
        "_scope",
        "_started_at",
        "_started_value",
        "_status",
        "_sup",
        "_timeout",
    )

    # Set later, never read before: the value once COMPLETED; the cancel scope of
    # the current attempt (or of the wait before it) once it starts.
    _result: T
    _scope: Scope | None

    def __init__(
        self,
        sup: Owner,
        task_id: int,
        fn: Callable[..., Awaitable[T]],
        args: tuple[Any, ...],
        name: str,
        timeout: float | None,
        created_at: float,
    ) -> None:
        self._sup = sup
        self._id = task_id
        self._fn: Callable[..., Awaitable[T]] | None = fn
        self._args = args
        self._name = name
        self._timeout = timeout
        # Restart, start_child and strategy state; None for the plain one-shot tasks
        # of a ONE_FOR_ONE supervisor, which then pay for none of it.
        self._extra: Extra | None = None
        self._status = _PENDING
        self._created_at = created_at
        self._started_at: float | None = None
        self._completed_at: float | None = None
        self._attempts = 0
        self._exception: BaseException | None = None
        self._started_value: object = None
        # The submitter's context, copied at submission, that attempts start from:
        # set while the task waits in the queue, and for the life of a task that may
        # be restarted (each attempt runs in a fresh copy of it).
        self._context: contextvars.Context | None = None
        # Waiting in the queue for a slot; cancel() was called.
        self._queued = self._cancel_requested = False
        # Created by the first waiter only: most handles are never awaited.
        self._done_event: Event | None = None

    # -- read-only view ---------------------------------------------------------

    @property
    def id(self) -> int:
        """Unique in its supervisor, increasing in submission order."""
        return self._id

    @property
    def name(self) -> str:
        """The name given at submission, or one derived from the function."""
        return self._name

    @property
    def status(self) -> TaskStatus:
        """The current :class:`TaskStatus`."""
        return self._status

    @property
    def created_at(self) -> float:
        """Supervisor-clock time of submission."""
        return self._created_at

    @property
    def started_at(self) -> float | None:
        """Supervisor-clock time it first became RUNNING; None if it never ran."""
        return self._started_at

    @property
    def completed_at(self) -> float | None:
        """Supervisor-clock time it became terminal; None until then."""
        return self._completed_at

    @property
    def attempts(self) -> int:
        """How many times it has become RUNNING."""
        return self._attempts

    @property
    def exception(self) -> BaseException | None:
        """The exception that made it FAILED (a :class:`TaskTimeout` on timeout).

        While RESTARTING: the exception that ended the last attempt, if any.
        Reading it retrieves a failure: the supervisor then does not log it.
        """
        if self._status is _FAILED:
            self._retrieved()
        return self._exception

    def _retrieved(self) -> None:
        self._sup.retrieved(self._id)

    @property
    def started_value(self) -> object:
        """The value passed to ``task_status.started()`` (for ``start_child``)."""
        return self._started_value

    @property
    def restart(self) -> Restart:
        """The restart policy."""
        extra = self._extra
        return Restart.TEMPORARY if extra is None else extra.restart

    @property
    def max_attempts(self) -> int | None:
        """The cap on attempts, or None."""
        extra = self._extra
        return None if extra is None else extra.max_attempts

    @property
    def timeout(self) -> float | None:
        """The per-attempt timeout in seconds, or None."""
        return self._timeout

    @property
    def shutdown(self) -> float | None:
        """How a stop on purpose ends it: seconds it may take to end by itself
        after the stop request (0: cancelled at once; None: no limit)."""
        extra = self._extra
        return 0 if extra is None else extra.shutdown

    @property
    def significant(self) -> bool:
        """Whether its end by itself may shut the supervisor down (auto_shutdown)."""
        extra = self._extra
        return extra is not None and extra.significant

    @property
    def stop_requested(self) -> bool:
        """Whether the supervisor asked the current attempt to stop.

        Set before every stop on purpose (``terminate_child``, a group restart, a
        graceful shutdown), so the task can finish its unit of work; cleared when
        a new attempt starts.
        """
        extra = self._extra
        if extra is None:
            return _drain_asks_to_stop(self)
        return extra.stop_requested

    async def wait_stop_requested(self) -> None:
        """Return once :attr:`stop_requested` is set (at once if it is).

        A checkpoint. Cancelling the wait leaves the task untouched.
        """
        extra = extra_of(self)
        if extra.stop_requested:
            await self._sup.backend.checkpoint()
            return
        event = extra.stop_event
        if event is None:
            event = extra.stop_event = self._sup.backend.Event()
        await event.wait()

    def done(self) -> bool:
        """Whether the status is terminal (COMPLETED, FAILED or CANCELLED)."""
        return self._status.is_terminal

    # -- control -----------------------------------------------------------------

    def cancel(self) -> None:
        """Cancel this task and only this task. Sync and idempotent.

        A PENDING task ends CANCELLED at once and its function is never called. A
        RUNNING task's cancel scope is cancelled: it ends CANCELLED when its body
        unwinds (a body that swallows ``Cancelled`` and returns ends COMPLETED).
        A RESTARTING task is not restarted: it ends CANCELLED. A cancelled task is
        never restarted. No-op once terminal. From another thread, go through
        ``trio.from_thread``.
        """
        status = self._status
        if status is _RUNNING:
            self._cancel_requested = True
            assert self._scope is not None
            self._scope.cancel()
        elif status is _PENDING or status is _RESTARTING:
            self._sup.cancel_waiting(self)

    async def wait(self) -> None:
        """Wait until the task is terminal. Never raises the task's error.

        A checkpoint. Cancelling the wait leaves the task untouched.
        """
        if self._status.is_terminal:
            await self._sup.backend.checkpoint()
            return
        event = self._done_event
        if event is None:
            event = self._done_event = self._sup.backend.Event()
        await event.wait()

    async def result(self) -> T:
        """Wait until terminal, then return the value or raise.

        Raises:
            TaskFailed: it ended FAILED; ``__cause__`` is the task's exception.
            TaskCancelled: it ended CANCELLED.

        A checkpoint. A failure it raises counts as retrieved: the supervisor does
        not log it. Cancelling the wait leaves the task untouched.
        """
        await self.wait()
        status = self._status
        if status is _COMPLETED:
            return self._result
        if status is _FAILED:
            self._retrieved()
            msg = f"task {self._name!r} (id {self._id}) failed"
            raise TaskFailed(msg) from self._exception
        msg = f"task {self._name!r} (id {self._id}) was cancelled"
        raise TaskCancelled(msg)

    def __repr__(self) -> str:
        return f"<supervisor.TaskHandle {self._id} {self._name!r} {self._status.name}>"


@final
class TaskStarter:
    """The ``task_status`` given to a ``start_child`` function, one per attempt.

    ``task_status.started(value)`` reports the child ready: ``start_child`` returns
    and ``handle.started_value`` is ``value``. Calling it twice is a RuntimeError.
    """

    __slots__ = ("_handle",)

    def __init__(self, handle: TaskHandle[Any]) -> None:
        # The handle until started() is called, then None: one call per attempt.
        self._handle: TaskHandle[Any] | None = handle

    @property
    def called(self) -> bool:
        """Whether ``started()`` was called."""
        return self._handle is None

    def started(self, value: object = None) -> None:
        h = self._handle
        if h is None:
            msg = "task_status.started() called more than once"
            raise RuntimeError(msg)
        self._handle = None
        h._started_value = value
        extra = h._extra
        assert extra is not None
        extra.was_started = True
        bound = extra.start_deadline
        if bound is not None:  # ready in time: only the attempt's timeout is left
            extra.start_deadline = None
            if h._scope is not None:
                h._scope.deadline = bound[1]
        extra.wake_ready()


def extra_of(h: TaskHandle[Any]) -> Extra:
    """``h``'s Extra, made for a plain task the first time it is needed."""
    extra = h._extra
    if extra is None:
        extra = h._extra = Extra(Restart.TEMPORARY, None, None)
        extra.stop_requested = _drain_asks_to_stop(h)
    return extra


def _drain_asks_to_stop(h: TaskHandle[Any]) -> bool:
    """Whether a plain task (no Extra yet) is asked to stop: it runs while its
    supervisor drains. A graceful shutdown's stop request to such tasks is this
    rule rather than an Extra made for each (the burst-then-exit pattern starts
    every task during the drain)."""
    return h._status is _RUNNING and h._sup.phase is not Phase.OPEN


def start_key(h: TaskHandle[Any]) -> tuple[float, int]:
    """Where ``h`` stands in start order: its child's place (kept by
    restart_child); one that never started goes last."""
    extra = h._extra
    assert extra is not None  # every task with a place in start order has one
    order = extra.order
    return (float("inf") if order is None else order, h._id)


@final
class Extra:
    """Per-task state that only some tasks need, kept off the plain handle.

    Made for tasks with a restart policy, a ``max_attempts``, a ``backoff``, a
    ``shutdown`` or ``significant`` option, for children (``start_child``,
    ``spawn_actor``), for every task of a ONE_FOR_ALL / REST_FOR_ONE supervisor, and
    for a task whose stop is requested.
    """

    __slots__ = (
        "attempt_end",
        "backoff",
        "child",
        "max_attempts",
        "on_end",
        "order",
        "ready_event",
        "restart",
        "role",
        "shutdown",
        "significant",
        "start_deadline",
        "start_timeout",
        "starter",
        "stop_event",
        "stop_hooks",
        "stop_requested",
        "was_started",
    )

    def __init__(
        self,
        restart: Restart,
        max_attempts: int | None,
        backoff: Backoff | None,
        shutdown: float | None = 0,  # (the NO_WAIT of _arguments)
        significant: bool = False,
    ) -> None:
        self.restart = restart
        self.max_attempts = max_attempts
        self.backoff = backoff
        #: Seconds a stop on purpose waits for the task to end by itself before
        #: cancelling it (0: cancel at once; None: no limit).
        self.shutdown = shutdown
        self.significant = significant
        #: What the supervisor is doing with this child (one field, named states).
        self.role = Role.NONE
        #: Place in start order, given when it first runs (kept by restart_child).
        self.order: int | None = None
        #: The child's entry (start_child / spawn_actor children only).
        self.child: ChildEntry | None = None
        #: start_child only: the current attempt's task_status.
        self.starter: TaskStarter | None = None
        #: start_child's start_timeout, and while an attempt is not ready yet,
        #: its deadline for started() and the attempt's own deadline to restore.
        self.start_timeout: float | None = None
        self.start_deadline: tuple[float, float] | None = None
        #: Whether an attempt called started(): start_child returns then.
        self.was_started = False
        #: Set by started(), and when an attempt or the task ends: what start_child
        #: and group restarts wait on.
        self.ready_event: Event | None = None
        #: Set when the current attempt ends: what a stop by policy waits on.
        self.attempt_end: Event | None = None
        #: The stop request of the current attempt, its waiters, and the callbacks
        #: of supervisors opened inside the task (they shut down when it is set).
        self.stop_requested = False
        self.stop_event: Event | None = None
        self.stop_hooks: list[Callable[[], None]] | None = None
        #: Called once when the task becomes terminal (actors close their mailbox).
        self.on_end: Callable[[], None] | None = None

    def set_role(self, new: Role) -> None:
        """The one place a role changes, checked against Role's table."""
        if not self.role.may_become(new):
            msg = f"illegal role change {self.role.name} -> {new.name}"
            raise AssertionError(msg)  # pragma: no cover - internal invariant
        self.role = new

    def wake_ready(self) -> None:
        ready = self.ready_event
        if ready is not None:
            self.ready_event = None
            ready.set()

    def wake_attempt_end(self) -> None:
        ended = self.attempt_end
        if ended is not None:
            self.attempt_end = None
            ended.set()

    def request_stop(self) -> None:
        """Set the stop request: wake its waiters, run the hooks (once each)."""
        if self.stop_requested:
            return
        self.stop_requested = True
        event = self.stop_event
        if event is not None:
            event.set()
        hooks = self.stop_hooks
        if hooks:
            for hook in list(hooks):
                hook()

    def clear_stop_request(self) -> None:
        """A new attempt starts: its stop request starts unset. (An unset event is
        kept: whoever waits on it waits for the new attempt's request.)"""
        if self.stop_requested:
            self.stop_requested = False
            self.stop_event = None
