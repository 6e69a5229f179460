"""Running one attempt: the body of its trio task, and how the attempt ended.

This is the hot path. A plain one-shot task (no Extra) goes from ``_run`` to
``_finish`` and pays for nothing else; anything that may restart, stop on purpose
or take part in a group restart goes on to ``_finish_extra`` (``_restarts``).

With ``runners="task"`` each attempt is a trio task of its own, started in a copy
of the submitter's context. With ``runners="pooled"`` a runner task holds a slot
and runs one attempt after another: each in its own cancel scope, and each driven
in its own copy of its submitter's context (``drive``).
"""

from __future__ import annotations

import functools
import types
from typing import TYPE_CHECKING, Any, cast

import trio

from ._admission import Admission
from ._backend import TRIO
from ._errors import TaskTimeout
from ._handle import CURRENT_HANDLE, TRIO_RUNNERS, TaskStarter, start_key
from ._policy import Phase, Role
from ._spec import Restart
from ._status import Decision, TaskEvent, TaskStatus

if TYPE_CHECKING:
    import contextvars
    from collections.abc import Awaitable, Callable, Coroutine, Generator

    from ._handle import Extra, TaskHandle

_PENDING = TaskStatus.PENDING
_RUNNING = TaskStatus.RUNNING
_COMPLETED = TaskStatus.COMPLETED
_FAILED = TaskStatus.FAILED
_CANCELLED = TaskStatus.CANCELLED
_RESTARTING = TaskStatus.RESTARTING
_TEMPORARY = Restart.TEMPORARY
_PERMANENT = Restart.PERMANENT
_GIVE_UP = Decision.GIVE_UP
_STOPPING = Phase.STOPPING
_CLOSED = Phase.CLOSED
_NO_ROLE = Role.NONE

_set_current_handle = CURRENT_HANDLE.set
_current_trio_task = trio.lowlevel.current_task


def _timed_out(h: TaskHandle[Any], timeout: float | None) -> TaskTimeout:
    return TaskTimeout(
        f"task {h._name!r} (id {h._id}) timed out after {timeout!r} seconds"
    )


def _first_step(
    h: TaskHandle[Any], fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]
) -> tuple[Coroutine[Any, Any, Any], object]:
    """In an attempt's own context: make ``h`` its current handle, then make the
    coroutine and run its first step (StopIteration: it returned at once)."""
    _set_current_handle(h)
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


class Running(Admission):
    """The runner of an attempt: start it, run it in its own scope, record its end."""

    __slots__ = ()

    async def _runner(self, h: TaskHandle[Any] | None) -> None:
        """A pooled runner (it holds a slot): ``h``, then every attempt handed to it,
        until its slot is freed."""
        runner_task = _current_trio_task() if self._trio else None
        if runner_task is not None:
            TRIO_RUNNERS[runner_task] = None  # current_handle() reads the context
        try:
            checkpoint = self._backend.cancel_shielded_checkpoint
            while h is not None:
                await self._run(h)
                h = self._handoff
                self._handoff = None
                if h is not None and not self._handoff_yielded:
                    # The attempt never yielded: let the other tasks run before the next
                    # one, or a stream of such attempts would starve them. Shielded: an
                    # outer cancel reaches the next attempt's first step instead.
                    await checkpoint()
        finally:
            if runner_task is not None:
                del TRIO_RUNNERS[runner_task]

    async def _run_plain(self, h: TaskHandle[Any]) -> None:
        """``_run`` for a plain one-shot task on trio: the same lifecycle, without
        what such a task never needs (restarts, roles, contexts to drive, the
        lifecycle table's check). Anything else, or a task that must not start,
        goes the whole way."""
        if (
            h._extra is not None
            or self._tracing is not None
            or self._metrics is not None
            or h._status is not _PENDING
            or self._phase is _STOPPING
            or (status := self._runners_cancel_status) is None
            or status.effectively_cancelled
        ):
            await self._run(h)
            return
        runner_task = _current_trio_task()
        TRIO_RUNNERS[runner_task] = h  # how current_handle() finds it
        try:
            now = self._clock()
            timeout = h._timeout
            scope = (
                self._CancelScope()
                if timeout is None
                else self._CancelScope(deadline=now + timeout)
            )
            h._scope = scope  # before RUNNING: an on_event hook may cancel it
            h._started_at = now
            h._attempts = 1
            self._running_since[h._id] = now
            h._status = _RUNNING
            if self._emitting:
                self._emit(TaskEvent(h._id, h._name, _PENDING, _RUNNING, now, 1))
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
                # Broad on purpose, as in _run: every way a task can end is recorded.
                ended, exception = self._classify(exc)
                if ended is None:
                    self._cancel_all()
                    self._finish(h, _CANCELLED)
                    raise
            else:
                if not scope.cancelled_caught:
                    ended = _COMPLETED
                elif h._cancel_requested or h._extra is not None:
                    ended = _CANCELLED  # cancelled, or stopped on purpose
                else:
                    ended = _FAILED
                    exception = _timed_out(h, timeout)
            if ended is not _COMPLETED or h._extra is not None:
                self._finish(h, ended, value, exception)
                return
            # Completed: _finish and _record_end for a plain task, inlined.
            del self._active[h._id]
            del self._running_since[h._id]
            h._result = value
            now = self._clock()
            h._completed_at = now
            h._status = _COMPLETED
            if self._emitting:
                self._emit(TaskEvent(h._id, h._name, _RUNNING, _COMPLETED, now, 1))
            h._scope = None
            self._n_live -= 1
            self._completed += 1
            self._window.add(now, False)
            event = h._done_event
            if event is not None:
                event.set()
            if self._idle is not None and (
                self._n_live == self._n_permanent_live
                or self._max_concurrent is not None
            ):
                self._check_idle()
            if self._queue or self._restart_queue:
                self._release_slot()  # hand the slot on
            else:
                self._n_slots -= 1
                if self._room.events:
                    self._room.wake_one()
        finally:
            del TRIO_RUNNERS[runner_task]

    async def _run(self, h: TaskHandle[Any]) -> None:
        """One attempt of a supervised task, which holds a slot: the body of its trio
        task, or a step of a pooled runner."""
        pooled = self._pooled
        # (A pooled runner registered itself; on asyncio the context says.)
        runner_task = None if pooled or not self._trio else _current_trio_task()
        if runner_task is not None:
            TRIO_RUNNERS[runner_task] = h  # how current_handle() finds it
        try:
            status = h._status
            starts = self._phase is not _STOPPING and (
                status is _PENDING or status is _RESTARTING
            )
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
                h._context = None
                if pooled:
                    self._handoff_open = True
                    self._handoff_yielded = True
                    self._release_slot()
                    self._handoff_open = False
                else:
                    self._release_slot()
                return
            extra = h._extra
            if extra is not None:
                if status is _RESTARTING:
                    del self._restarting[h._id]
                    if extra.starter is None:
                        # A group restart waits for this task to be RUNNING (it runs as
                        # soon as this step ends) before it starts the next one.
                        extra.wake_ready()
                extra.clear_stop_request()
            now = self._clock()
            timeout = h._timeout
            scope = (
                self._CancelScope()
                if timeout is None
                else self._CancelScope(deadline=now + timeout)
            )
            if (
                extra is not None
                and extra.start_timeout is not None
                and extra.starter is not None
            ):
                # start_timeout bounds the wait for started(); started() restores the
                # attempt's own deadline.
                start_by = now + extra.start_timeout
                extra.start_deadline = (start_by, scope.deadline)
                scope.deadline = min(scope.deadline, start_by)
            # The scope exists before the status says RUNNING: an on_event hook may call
            # handle.cancel() from inside the transition.
            h._scope = scope
            if h._started_at is None:
                h._started_at = now
                if extra is not None:
                    self._first_start(h, extra)
            h._attempts += 1
            self._running_since[h._id] = now
            self._set_status(h, _RUNNING, now)
            if (
                self._phase is _CLOSED
                and extra is not None
                and extra.restart is not _PERMANENT
            ):
                # A graceful shutdown is draining: its advice to stop reaches the
                # one-shot attempts that start meanwhile too. Guarded by
                # test_a_task_that_starts_during_a_drain_is_asked_to_stop.
                self._request_stop(h)
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
            tracing = self._tracing
            span: object = None
            context = None
            if pooled:
                # A fresh copy of the submitter's context for this attempt, as a trio
                # task of its own would get; the attempt's every step runs in it.
                context = h._context
                assert context is not None
                if extra is None or extra.restart is _TEMPORARY:
                    h._context = None
                else:
                    context = context.copy()
                if tracing is not None:
                    span = context.run(tracing.begin, h)
            else:
                if self._backend is not TRIO:
                    # On trio, current_handle() finds this task's frame instead.
                    _set_current_handle(h)  # this task's own copy of the context
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
                ended, exception = self._classify(exc)
                if ended is None:
                    # Stop everything first (queued tasks must not start while it
                    # propagates), then let it out.
                    self._cancel_all()
                    self._finish(h, _CANCELLED)
                    if span is not None:
                        assert tracing is not None
                        if context is None:
                            tracing.end(span, _CANCELLED, exc)
                        else:
                            context.run(tracing.end, span, _CANCELLED, exc)
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
                elif h._cancel_requested or (
                    # (Read again: a stop on purpose gives a plain task an Extra.)
                    h._extra is not None and h._extra.role is not _NO_ROLE
                ):
                    ended = _CANCELLED  # cancelled, or stopped on purpose
                else:
                    ended = _FAILED
                    exception = _timed_out(h, timeout)
                    if extra is not None and extra.start_deadline is not None:
                        start_by, own = extra.start_deadline
                        if start_by <= own:  # the bound on started() expired first
                            exception = TaskTimeout(
                                f"task {h._name!r} (id {h._id}) did not call "
                                f"task_status.started() within {extra.start_timeout!r} "
                                "seconds (start_timeout)"
                            )
            if extra is not None:
                extra.start_deadline = None
            if pooled:
                # Whatever gets this slot next is this runner's next attempt.
                self._handoff_open = True
                self._handoff_yielded = yielded
                delay = self._finish(h, ended, value, exception)
                self._handoff_open = False
            else:
                delay = self._finish(h, ended, value, exception)
            if span is not None:
                assert tracing is not None
                if context is None:
                    tracing.end(span, ended, exception)
                else:
                    context.run(tracing.end, span, ended, exception)
            metrics = self._metrics
            if metrics is not None:
                started = h._started_at
                assert started is not None
                metrics.attempt(
                    now,
                    self._clock(),
                    started - h._created_at if h._attempts == 1 else None,
                )
            if delay is not None:
                if pooled:  # the runner goes on; the backoff waits in a task of its own
                    assert self._tasks is not None
                    self._tasks.start_soon(self._wait_to_restart, h, delay)
                else:
                    await self._wait_to_restart(h, delay)
        finally:
            if runner_task is not None:
                del TRIO_RUNNERS[runner_task]

    def _first_start(self, h: TaskHandle[Any], extra: Extra) -> None:
        """``h`` runs for the first time: it takes its place in start order."""
        inherited = extra.order is not None  # restart_child keeps the child's place
        if not inherited:
            extra.order = self._next_order
            self._next_order += 1
        for in_order in (
            self._children,  # what strategies act on
            self._permanent if extra.restart is _PERMANENT else None,  # shutdown
        ):
            if in_order is not None:
                in_order[h._id] = h
                if inherited:
                    _sort_by_start(in_order)

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
        del self._running_since[h._id]
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


def _sort_by_start(tasks: dict[int, TaskHandle[Any]]) -> None:
    ordered = sorted(tasks.values(), key=start_key)
    tasks.clear()
    tasks.update((t._id, t) for t in ordered)
