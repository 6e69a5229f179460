"""Running one attempt: the body of its trio task, and how the attempt ended.

This is the hot path. A plain one-shot task on trio runs ``run_plain``, which
pays for nothing it does not use; every other attempt runs ``run_attempt``. Both
end through the runtime's ``finish`` (``_core``), which asks ``_policy`` what
follows; ``run_plain`` inlines a completion (the table's ``complete_plain``).

With ``runners="task"`` each attempt is a trio task of its own, started in a copy
of the submitter's context. With ``runners="pooled"`` a runner task holds a slot
and runs one attempt after another (``pooled_runner``): each in its own cancel
scope, and each driven in its own copy of its submitter's context (``drive``).
"""

from __future__ import annotations

import functools
import types
from typing import TYPE_CHECKING, Any, Protocol, cast

import trio

from ._backend import TRIO
from ._errors import TaskTimeout
from ._handle import CURRENT_HANDLE, TRIO_RUNNERS, TaskStarter
from ._policy import Phase, Role
from ._spec import Restart
from ._status import TaskStatus

if TYPE_CHECKING:
    import contextvars
    from collections.abc import Awaitable, Callable, Coroutine, Generator

    from ._backend import Backend
    from ._handle import Extra, TaskHandle
    from ._ledger import Ledger
    from ._table import TaskTable

_PENDING = TaskStatus.PENDING
_RUNNING = TaskStatus.RUNNING
_COMPLETED = TaskStatus.COMPLETED
_FAILED = TaskStatus.FAILED
_CANCELLED = TaskStatus.CANCELLED
_RESTARTING = TaskStatus.RESTARTING
_TEMPORARY = Restart.TEMPORARY
_PERMANENT = Restart.PERMANENT
_STOPPING = Phase.STOPPING
_CLOSED = Phase.CLOSED
_NO_ROLE = Role.NONE

_set_current_handle = CURRENT_HANDLE.set
_current_trio_task = trio.lowlevel.current_task


class Runtime(Protocol):
    """What a runner uses of the runtime (``_core.Core``)."""

    backend: Backend
    clock: Callable[[], float]
    CancelScope: Any
    phase: Phase
    pooled: bool
    trio: bool
    table: TaskTable
    ledger: Ledger
    runners_cancel_status: Any
    tasks: Any
    room: Any
    handoff: TaskHandle[Any] | None

    def finish(
        self,
        h: TaskHandle[Any],
        status: TaskStatus,
        value: object = ...,
        exception: BaseException | None = ...,
        handing_on: bool = ...,
        /,
    ) -> float | None: ...

    def never_started(self, h: TaskHandle[Any], /) -> None: ...

    def release_slot(self) -> None: ...

    def start_attempt(self, h: TaskHandle[Any], /) -> None: ...

    def cancel_all(self) -> None: ...

    async def wait_to_restart(self, h: TaskHandle[Any], delay: float, /) -> None: ...


def timed_out(h: TaskHandle[Any], timeout: float | None) -> TaskTimeout:
    return TaskTimeout(
        f"task {h._name!r} (id {h._id}) timed out after {timeout!r} seconds"
    )


def _first_step(
    h: TaskHandle[Any], fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]
) -> tuple[Coroutine[Any, Any, Any], object]:
    """In an attempt's own context: make ``h`` its current handle, then make the
    coroutine and run its first step (StopIteration: it returned at once)."""
    _set_current_handle((h, h._attempts))
    coro = cast("Coroutine[Any, Any, Any]", fn(*args))
    return coro, coro.send(None)


@types.coroutine
def drive(
    context: contextvars.Context, coro: Coroutine[Any, Any, Any], trap: object
) -> Generator[Any, Any, Any]:
    """Go on running ``coro`` (which yielded ``trap`` once) inside ``context``.

    Every step of the coroutine runs in ``context``, whichever task drives it: what
    the event loop sends or throws in is passed on, what the coroutine yields is
    passed out. Its return value is this one's; its exception propagates.
    """
    run = context.run
    send = coro.send
    while True:
        try:
            sent = yield trap
        except BaseException as exc:
            # Broad on purpose: whatever the loop throws in (Cancelled, a
            # GeneratorExit when closed) belongs to the coroutine, which decides.
            try:
                trap = run(coro.throw, exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                trap = run(send, sent)
            except StopIteration as stop:
                return stop.value


def classify(
    backend: Backend, exc: BaseException
) -> tuple[TaskStatus, BaseException | None] | tuple[None, None]:
    """How an attempt that raised ``exc`` ended; (None, None): let ``exc`` out."""
    cancelled = backend.cancelled_exc
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


def _stopped_on_purpose(h: TaskHandle[Any]) -> bool:
    """Whether the attempt's scope was cancelled by ``handle.cancel()`` or a stop
    on purpose (else its timeout expired). Read again at the end: a stop on
    purpose gives a plain task an Extra, and so does a wait for its stop request
    (which is no stop: bug 1 of issue 18)."""
    extra = h._extra
    return h._cancel_requested or (extra is not None and extra.role is not _NO_ROLE)


async def pooled_runner(core: Runtime, h: TaskHandle[Any] | None) -> None:
    """A pooled runner (it holds a slot): ``h``, then every attempt handed to it,
    until its slot is freed."""
    runner_task = _current_trio_task() if core.trio else None
    if runner_task is not None:
        TRIO_RUNNERS[runner_task] = None  # current_handle() reads the context
    try:
        checkpoint = core.backend.cancel_shielded_checkpoint
        while h is not None:
            yielded = await run_attempt(core, h)
            h = core.handoff  # what the attempt's end handed on to this runner
            if h is not None and not yielded:
                # The attempt never yielded: let the other tasks run before the next
                # one, or a stream of such attempts would starve them. Shielded: an
                # outer cancel reaches the next attempt's first step instead.
                await checkpoint()
    finally:
        if runner_task is not None:
            del TRIO_RUNNERS[runner_task]


async def run_plain(core: Runtime, h: TaskHandle[Any]) -> None:
    """``run_attempt`` for a plain one-shot task on trio: the same lifecycle,
    without what such a task never needs (restarts, roles, contexts to drive).
    Anything else, or a task that must not start, goes the whole way."""
    if (
        h._extra is not None
        or core.ledger.observed  # metrics or tracing: they see every attempt
        or h._status is not _PENDING
        or core.phase is _STOPPING
        or (status := core.runners_cancel_status) is None
        or status.effectively_cancelled
    ):
        await run_attempt(core, h)
        return
    runner_task = _current_trio_task()
    TRIO_RUNNERS[runner_task] = h  # how current_handle() finds it
    try:
        table = core.table
        now = core.clock()
        timeout = h._timeout
        scope = (
            core.CancelScope()
            if timeout is None
            else core.CancelScope(deadline=now + timeout)
        )
        h._scope = scope  # before RUNNING: an on_event hook may cancel it
        table.start_plain(h, now)
        fn = h._fn
        assert fn is not None
        args = h._args
        h._fn = None
        h._args = ()
        value: object = None
        exception: BaseException | None = None
        try:
            with scope:
                coro = fn(*args)
                del fn, args
                value = await coro
        except BaseException as exc:
            # Broad on purpose, as in run_attempt: every way a task can end is
            # recorded.
            ended, exception = classify(core.backend, exc)
            if ended is None:
                core.cancel_all()
                core.finish(h, _CANCELLED)
                raise
        else:
            if not scope.cancelled_caught:
                ended = _COMPLETED
            elif _stopped_on_purpose(h):
                ended = _CANCELLED  # cancelled, or stopped on purpose
            else:
                ended = _FAILED
                exception = timed_out(h, timeout)
        if ended is not _COMPLETED or h._extra is not None:
            core.finish(h, ended, value, exception)
            return
        nxt = table.complete_plain(h, value, core.clock(), status)
        if nxt is not None:  # the slot is handed on
            core.start_attempt(nxt)
            if nxt._status is _PENDING:  # room in the PENDING queue
                core.room.wake_one()
        elif core.room.events:
            core.room.wake_one()  # a free slot is room too
    finally:
        del TRIO_RUNNERS[runner_task]


async def run_attempt(core: Runtime, h: TaskHandle[Any]) -> bool:
    """One attempt of a supervised task, which holds a slot: the body of its trio
    task, or a step of a pooled runner. Returns whether the attempt yielded to
    the scheduler (a pooled runner checkpoints before its next one if not)."""
    pooled = core.pooled
    # (A pooled runner registered itself; on asyncio the context says.)
    runner_task = None if pooled or not core.trio else _current_trio_task()
    if runner_task is not None:
        TRIO_RUNNERS[runner_task] = h  # how current_handle() finds it
    try:
        status = h._status
        starts = core.phase is not _STOPPING and (
            status is _PENDING or status is _RESTARTING
        )
        if starts:
            backend = core.backend
            try:
                # A scope around the block may have been cancelled before the
                # body noticed (and stopped everything): then this task must not
                # start either. A schedule point only when cancelled. Guarded by
                # test_nothing_starts_after_an_outer_cancel.
                await backend.checkpoint_if_cancelled()
            except backend.cancelled_exc:
                # Swallowed as in classify: the runner's last frame, and the scope
                # that asked for it is satisfied by the runner ending.
                starts = False
        if not starts:
            core.never_started(h)
            return True
        extra = h._extra
        now = core.clock()
        timeout = h._timeout
        scope = (
            core.CancelScope()
            if timeout is None
            else core.CancelScope(deadline=now + timeout)
        )
        if extra is not None:
            _begin_extra(core, h, extra, now, scope)
        # The scope exists before the status says RUNNING: an on_event hook may
        # call handle.cancel() from inside the transition.
        h._scope = scope
        if h._started_at is None:
            h._started_at = now
        h._attempts += 1
        core.table.transition(h, _RUNNING, now)
        if (
            extra is not None
            and core.phase is _CLOSED
            and extra.restart is not _PERMANENT
        ):
            # A graceful shutdown is draining: its advice to stop reaches the
            # one-shot attempts that start meanwhile too. Guarded by
            # test_a_task_that_starts_during_a_drain_is_asked_to_stop.
            extra.request_stop()
        fn = h._fn
        assert fn is not None
        args = h._args
        last = extra is None or extra.restart is _TEMPORARY or _last_attempt(h, extra)
        if last:
            # No later attempt needs them: once the call below passed them on, the
            # running function alone holds its arguments (and the handle, none).
            # Guarded by test_bug0_the_last_allowed_attempt_holds_no_reference_...
            h._fn = None
            h._args = ()
        value: object = None
        exception: BaseException | None = None
        starter = None if extra is None or extra.starter is None else TaskStarter(h)
        tracing = core.ledger.attempt_tracing
        span: object = None
        context = None
        if pooled:
            # A fresh copy of the submitter's context for this attempt, as a trio
            # task of its own would get; the attempt's every step runs in it.
            context = h._context
            assert context is not None
            if last:
                h._context = None  # the last attempt runs in it: no copy
            else:
                context = context.copy()
            if tracing is not None:
                span = context.run(tracing.begin, h)
        else:
            if last:
                h._context = None  # (this task runs in a copy of its own)
            if core.backend is not TRIO:
                # On trio, current_handle() finds this task's frame instead.
                _set_current_handle((h, h._attempts))  # this task's own context
            if tracing is not None:
                span = tracing.begin(h)
        yielded = True
        try:
            with scope:
                if starter is not None:
                    assert extra is not None
                    extra.starter = starter  # a fresh task_status for each attempt
                    fn = functools.partial(fn, task_status=starter)
                if context is None:
                    coro = fn(*args)
                    del fn, args  # the coroutine holds what it needs
                    value = await coro
                else:
                    try:
                        pooled_coro, trap = context.run(_first_step, h, fn, args)
                    except StopIteration as stop:
                        value = stop.value
                        yielded = False
                    else:
                        del fn, args
                        value = await drive(context, pooled_coro, trap)
        except BaseException as exc:
            # Broad on purpose: every way a task can end must be recorded. Only
            # non-Exception BaseExceptions other than Cancelled (KeyboardInterrupt,
            # SystemExit) are re-raised: they stop the whole supervisor, as in trio.
            ended, exception = classify(core.backend, exc)
            if ended is None:
                _escapes(core, h, span, context, exc)
                raise
        else:
            if starter is None and not scope.cancelled_caught:
                ended = _COMPLETED
            else:
                ended, exception = _returned(h, extra, scope, starter)
        if extra is not None:
            extra.start_deadline = None
        # (Pooled: whatever gets this slot next is this runner's next attempt.)
        delay = core.finish(h, ended, value, exception, pooled)
        if span is not None or core.ledger.recorder is not None:
            _observed(core, h, now, span, context, ended, exception)
        if delay is not None:
            if pooled:  # the runner goes on; the backoff waits in a task of its own
                core.tasks.start_soon(core.wait_to_restart, h, delay)
            else:
                await core.wait_to_restart(h, delay)
        return yielded
    finally:
        if runner_task is not None:
            del TRIO_RUNNERS[runner_task]


def _begin_extra(
    core: Runtime, h: TaskHandle[Any], extra: Extra, now: float, scope: Any
) -> None:
    """What an attempt of a task with an Extra does before it is RUNNING."""
    if h._status is _RESTARTING and extra.starter is None:
        # A group restart waits for this task to be RUNNING (it runs as soon as
        # this step ends) before it starts the next one.
        extra.wake_ready()
    extra.clear_stop_request()
    if extra.start_timeout is not None and extra.starter is not None:
        # start_timeout bounds the wait for started(); started() restores the
        # attempt's own deadline.
        start_by = now + extra.start_timeout
        extra.start_deadline = (start_by, scope.deadline)
        scope.deadline = min(scope.deadline, start_by)
    if h._started_at is None:
        core.table.first_start(h, extra)  # it takes its place in start order


def _last_attempt(h: TaskHandle[Any], extra: Extra) -> bool:
    """Whether no attempt of ``h`` can follow this one (its attempts are used up)."""
    max_attempts = extra.max_attempts
    return max_attempts is not None and h._attempts >= max_attempts


def _returned(
    h: TaskHandle[Any], extra: Extra | None, scope: Any, starter: TaskStarter | None
) -> tuple[TaskStatus, BaseException | None]:
    """How an attempt whose body returned ended."""
    if not scope.cancelled_caught:
        if starter is not None and not starter.called:
            msg = (
                f"task {h._name!r} (id {h._id}) returned without calling "
                "task_status.started()"
            )
            return _FAILED, RuntimeError(msg)
        return _COMPLETED, None
    if _stopped_on_purpose(h):
        return _CANCELLED, None  # cancelled, or stopped on purpose
    if extra is not None and extra.start_deadline is not None:
        start_by, own = extra.start_deadline
        if start_by <= own:  # the bound on started() expired first
            return _FAILED, TaskTimeout(
                f"task {h._name!r} (id {h._id}) did not call "
                f"task_status.started() within {extra.start_timeout!r} "
                "seconds (start_timeout)"
            )
    return _FAILED, timed_out(h, h._timeout)


def _escapes(
    core: Runtime,
    h: TaskHandle[Any],
    span: object,
    context: contextvars.Context | None,
    exc: BaseException,
) -> None:
    """The attempt raised a non-Exception BaseException (KeyboardInterrupt,
    SystemExit), which the caller lets out: stop everything first (queued tasks
    must not start while it propagates), record the attempt, end its span."""
    core.cancel_all()
    core.finish(h, _CANCELLED)
    if span is not None:
        _end_span(core, span, context, _CANCELLED, exc)


def _observed(
    core: Runtime,
    h: TaskHandle[Any],
    started: float,
    span: object,
    context: contextvars.Context | None,
    ended: TaskStatus,
    exception: BaseException | None,
) -> None:
    """The attempt that started at ``started`` ended: its span ends, and the
    metrics recorder counts it."""
    if span is not None:
        _end_span(core, span, context, ended, exception)
    recorder = core.ledger.recorder
    if recorder is not None:
        first = h._started_at
        assert first is not None
        recorder.attempt(
            started, core.clock(), first - h._created_at if h._attempts == 1 else None
        )


def _end_span(
    core: Runtime,
    span: object,
    context: contextvars.Context | None,
    ended: TaskStatus,
    exception: BaseException | None,
) -> None:
    tracing = core.ledger.attempt_tracing
    assert tracing is not None
    if context is None:
        tracing.end(span, ended, exception)
    else:
        context.run(tracing.end, span, ended, exception)
