"""Behaviour of the supervisor on trio, in virtual time (autojump_clock)."""

from __future__ import annotations

import contextvars
import functools
import gc
import inspect
import logging
import math
import weakref
from typing import TYPE_CHECKING, Any

import pytest
import trio
import trio.lowlevel
import trio.testing

from supervisor import (
    QueueFull,
    Supervisor,
    SupervisorClosed,
    TaskCancelled,
    TaskFailed,
    TaskHandle,
    TaskStatus,
    TaskTimeout,
    open_supervisor,
)

from .helpers import sleep_then, sleep_then_raise

if TYPE_CHECKING:
    from .conftest import Recorder

pytestmark = pytest.mark.trio

S = TaskStatus


# ---------------------------------------------------------------------------
# lifecycle and times
# ---------------------------------------------------------------------------


async def test_completed_task_records_exact_times(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    async with open_supervisor(on_event=recorder) as sup:
        await trio.sleep(2)
        h = sup.submit_nowait(sleep_then, 3, "v")
        status_before = h.status
        times_before = [h.created_at, h.started_at, h.completed_at]
        assert await h.result() == "v"
    assert status_before is S.PENDING
    assert times_before == [2, None, None]
    assert h.status is S.COMPLETED
    assert (h.created_at, h.started_at, h.completed_at) == (2, 2, 5)
    assert h.attempts == 1
    assert h.exception is None
    assert h.done()
    assert recorder.history(h.id) == [(S.PENDING, 2), (S.RUNNING, 2), (S.COMPLETED, 5)]


async def test_failed_task_records_exception_and_result_raises_task_failed(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    boom = ValueError("boom")
    async with open_supervisor(on_event=recorder) as sup:
        h = await sup.submit(sleep_then_raise, 1, boom)
        with pytest.raises(
            TaskFailed, match=r"^task 'sleep_then_raise' \(id 1\) failed$"
        ) as info:
            await h.result()
    assert info.value.__cause__ is boom
    assert h.status is S.FAILED
    assert h.exception is boom
    assert h.completed_at == 1
    assert [e.exception for e in recorder.events] == [None, None, boom]


async def test_timeout_fails_at_exactly_the_timeout(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    async with open_supervisor(on_event=recorder) as sup:
        h = sup.submit_nowait(sleep_then, 10, timeout=1)
    assert h.status is S.FAILED
    assert isinstance(h.exception, TaskTimeout)
    assert isinstance(h.exception, TimeoutError)
    assert str(h.exception) == "task 'sleep_then' (id 1) timed out after 1 seconds"
    assert (h.started_at, h.completed_at) == (0, 1)
    assert recorder.history(h.id) == [(S.PENDING, 0), (S.RUNNING, 0), (S.FAILED, 1)]


async def test_timeout_counts_from_start_not_submission(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=1) as sup:
        first = sup.submit_nowait(sleep_then, 5)
        second = sup.submit_nowait(sleep_then, 10, timeout=2)
    assert first.completed_at == 5
    assert (second.created_at, second.started_at, second.completed_at) == (0, 5, 7)
    assert isinstance(second.exception, TaskTimeout)


async def test_task_finishing_before_timeout_completes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        h = sup.submit_nowait(sleep_then, 1, "ok", timeout=1.5)
    assert h.status is S.COMPLETED
    assert h.completed_at == 1


async def test_names_default_from_function_and_can_be_given(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        a = sup.submit_nowait(sleep_then, 0)
        b = sup.submit_nowait(functools.partial(sleep_then, 0))
        c = sup.submit_nowait(sleep_then, 0, name="custom")
    assert (a.name, b.name, c.name) == ("sleep_then", "sleep_then", "custom")
    assert [a.id, b.id, c.id] == [1, 2, 3]
    assert repr(c) == "<supervisor.TaskHandle 3 'custom' COMPLETED>"


async def test_handle_attributes_are_read_only() -> None:
    async with open_supervisor() as sup:
        h = sup.submit_nowait(sleep_then, 0)
        with pytest.raises(AttributeError):
            h.status = S.COMPLETED  # type: ignore[misc]  # the point of the test
    with pytest.raises(
        TypeError, match=r"^supervisor.TaskHandle has no public constructor$"
    ):
        TaskHandle()  # type: ignore[call-arg]  # the point of the test
    with pytest.raises(
        TypeError, match=r"^supervisor.Supervisor has no public constructor$"
    ):
        Supervisor()  # type: ignore[call-arg]  # the point of the test


async def test_keyword_arguments_go_through_partial(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def job(a: int, *, b: int) -> int:
        await trio.lowlevel.checkpoint()
        return a + b

    async with open_supervisor() as sup:
        h = sup.submit_nowait(functools.partial(job, b=2), 1)
        assert await h.result() == 3


async def test_async_callable_object_is_accepted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class Job:
        async def __call__(self) -> str:
            return "called"

    async with open_supervisor() as sup:
        h = sup.submit_nowait(Job())
        assert await h.result() == "called"
    assert h.name == "test_async_callable_object_is_accepted.<locals>.Job"


# ---------------------------------------------------------------------------
# capacity and the queue
# ---------------------------------------------------------------------------


async def test_max_concurrent_queues_the_rest_in_fifo_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    peak = 0
    running = 0

    async def job(seconds: float) -> None:
        nonlocal peak, running
        running += 1
        peak = max(peak, running)
        await trio.sleep(seconds)
        running -= 1

    async with open_supervisor(max_concurrent=2) as sup:
        handles = [sup.submit_nowait(job, 1) for _ in range(5)]
        await trio.testing.wait_all_tasks_blocked()
        assert [h.status for h in handles] == [S.RUNNING] * 2 + [S.PENDING] * 3
        report = sup.health()
        assert (report.running, report.pending, report.waiting) == (2, 3, 3)
    assert peak == 2
    assert [h.started_at for h in handles] == [0, 0, 1, 1, 2]
    assert [h.completed_at for h in handles] == [1, 1, 2, 2, 3]


async def test_queued_task_is_a_queue_entry_not_a_trio_task(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=1) as sup:
        sup.submit_nowait(trio.sleep_forever)
        for _ in range(1000):
            sup.submit_nowait(trio.sleep_forever)
        await trio.testing.wait_all_tasks_blocked()
        stats = trio.lowlevel.current_statistics()
        # the test task, the supervisor's host, its running task; not 1000 more
        assert stats.tasks_living < 10
        sup.cancel()


async def test_submit_nowait_raises_queue_full(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=1, max_pending=2) as sup:
        sup.submit_nowait(sleep_then, 1)
        sup.submit_nowait(sleep_then, 1)
        sup.submit_nowait(sleep_then, 1)
        with pytest.raises(
            QueueFull,
            match=r"^supervisor 'supervisor': 2 tasks already wait for capacity \(max_pending=2\)$",
        ):
            sup.submit_nowait(sleep_then, 1)
        assert sup.health().submitted == 3


async def test_max_pending_zero_accepts_only_with_a_free_slot(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=1, max_pending=0) as sup:
        first = sup.submit_nowait(sleep_then, 1)
        with pytest.raises(QueueFull):
            sup.submit_nowait(sleep_then, 1)
        await first.wait()
        second = sup.submit_nowait(sleep_then, 1)
    assert second.started_at == 1


async def test_submit_waits_for_room_in_fifo_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    accepted: list[tuple[str, float]] = []

    async def producer(tag: str, sup: Supervisor) -> None:
        await sup.submit(sleep_then, 1, name=tag)
        accepted.append((tag, trio.current_time()))

    async with open_supervisor(max_concurrent=1, max_pending=1) as sup:
        sup.submit_nowait(sleep_then, 1)
        sup.submit_nowait(sleep_then, 1)
        async with trio.open_nursery() as nursery:
            for tag in "abc":
                nursery.start_soon(producer, tag, sup)
                await trio.testing.wait_all_tasks_blocked()
    assert accepted == [("a", 1), ("b", 2), ("c", 3)]


async def test_cancelled_submit_submits_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=1, max_pending=0) as sup:
        sup.submit_nowait(sleep_then, 5)
        with trio.move_on_after(1):
            await sup.submit(sleep_then, 1)
        assert sup.health().submitted == 1
        # the cancelled waiter did not eat the wake-up meant for the next one
        await sup.submit(sleep_then, 1)
        assert trio.current_time() == 5


async def test_submit_is_a_checkpoint_even_with_room(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        with trio.testing.assert_checkpoints():
            await sup.submit(sleep_then, 0)
        with trio.testing.assert_no_checkpoints():
            sup.submit_nowait(sleep_then, 0)


async def test_cancelled_waiter_passes_on_its_wakeup(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A waiter woken and cancelled in the same step must hand the room to the next."""
    async with open_supervisor(max_concurrent=1, max_pending=0) as sup:
        first = sup.submit_nowait(trio.sleep_forever)
        got: list[str] = []

        async def waiter(tag: str, scope: trio.CancelScope | None = None) -> None:
            with scope or trio.CancelScope():
                await sup.submit(sleep_then, 1)
                got.append(tag)

        async with trio.open_nursery() as nursery:
            scope = trio.CancelScope()
            nursery.start_soon(waiter, "a", scope)
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(waiter, "b")
            await trio.testing.wait_all_tasks_blocked()
            first.cancel()  # frees the slot: wakes "a"
            scope.cancel()  # ... which is cancelled before it runs
        assert got == ["b"]


# ---------------------------------------------------------------------------
# cancelling one task
# ---------------------------------------------------------------------------


async def test_cancel_running_task_stops_exactly_that_task(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    async with open_supervisor(on_event=recorder) as sup:
        a = sup.submit_nowait(sleep_then, 10)
        b = sup.submit_nowait(sleep_then, 10)
        await trio.sleep(3)
        a.cancel()
        a.cancel()  # idempotent
        await a.wait()
        assert trio.current_time() == 3
        assert b.status is S.RUNNING
        with pytest.raises(
            TaskCancelled, match=r"^task 'sleep_then' \(id 1\) was cancelled$"
        ):
            await a.result()
    assert (a.status, a.completed_at) == (S.CANCELLED, 3)
    assert (b.status, b.completed_at) == (S.COMPLETED, 10)
    assert recorder.history(a.id) == [(S.PENDING, 0), (S.RUNNING, 0), (S.CANCELLED, 3)]


async def test_cancel_queued_task_never_starts(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    async with open_supervisor(max_concurrent=1, on_event=recorder) as sup:
        sup.submit_nowait(sleep_then, 2)
        queued = sup.submit_nowait(sleep_then, 2)
        after = sup.submit_nowait(sleep_then, 2)
        await trio.sleep(1)
        queued.cancel()
        assert queued.status is S.CANCELLED
        assert queued.completed_at == 1
    assert queued.started_at is None
    assert queued.attempts == 0
    assert recorder.history(queued.id) == [(S.PENDING, 0), (S.CANCELLED, 1)]
    assert after.started_at == 2  # took the slot the cancelled one would have had


async def test_cancel_scheduled_task_never_runs(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ran = False

    async def job() -> None:
        nonlocal ran
        ran = True

    async with open_supervisor() as sup:
        h = sup.submit_nowait(job)  # holds a slot, its trio task not yet run
        h.cancel()
        assert h.status is S.CANCELLED
    assert not ran
    assert h.started_at is None
    assert sup.health().running == 0


async def test_cancel_after_completion_is_a_no_op(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        h = sup.submit_nowait(sleep_then, 1, "v")
        await h.wait()
        h.cancel()
        assert h.status is S.COMPLETED
        assert await h.result() == "v"


async def test_task_that_swallows_its_cancel_and_returns_is_completed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def stubborn() -> str:
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            return "swallowed"
        raise AssertionError("unreachable")

    async with open_supervisor() as sup:
        h = sup.submit_nowait(stubborn)
        await trio.sleep(1)
        h.cancel()
    assert h.status is S.COMPLETED
    assert await h.result() == "swallowed"


async def test_cancelled_queued_entries_do_not_accumulate(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=1) as sup:
        sup.submit_nowait(trio.sleep_forever)
        for _ in range(10_000):
            sup.submit_nowait(trio.sleep_forever).cancel()
        assert len(sup._core.table.queue) < 200
        assert sup.health().waiting == 0
        sup.cancel()


# ---------------------------------------------------------------------------
# contextvars
# ---------------------------------------------------------------------------

request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "request_id", default="-"
)


async def test_task_runs_in_copy_of_submitters_context_even_when_queued(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: list[str] = []

    async def job() -> None:
        seen.append(request_id.get())
        request_id.set("changed by task")
        await trio.sleep(1)

    async with open_supervisor(max_concurrent=1) as sup:
        request_id.set("first")
        sup.submit_nowait(job)
        request_id.set("second")
        sup.submit_nowait(job)  # queued: starts later, from the first task's runner
        request_id.set("third")
    assert seen == ["first", "second"]
    assert request_id.get() == "third"


# ---------------------------------------------------------------------------
# shutdown
# ---------------------------------------------------------------------------


async def test_normal_exit_drains_pending_and_running(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=1) as sup:
        handles = [sup.submit_nowait(sleep_then, 2) for _ in range(3)]
    assert trio.current_time() == 6
    assert [h.status for h in handles] == [S.COMPLETED] * 3
    assert sup.tasks() == []
    with pytest.raises(
        SupervisorClosed,
        match=r"^supervisor 'supervisor' has exited; no new tasks accepted$",
    ):
        sup.submit_nowait(sleep_then, 1)


async def test_shutdown_grace_bounds_the_drain_then_cancels_everything(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=1, shutdown_grace=3) as sup:
        first = sup.submit_nowait(sleep_then, 2)
        second = sup.submit_nowait(sleep_then, 2)  # runs 2..4: cut at 3
        third = sup.submit_nowait(sleep_then, 2)  # never starts
    assert trio.current_time() == 3
    assert (first.status, second.status, third.status) == (
        S.COMPLETED,
        S.CANCELLED,
        S.CANCELLED,
    )
    assert second.completed_at == 3
    assert third.started_at is None


async def test_shutdown_on_demand_with_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        quick = sup.submit_nowait(sleep_then, 1)
        slow = sup.submit_nowait(sleep_then, 100)
        await sup.shutdown(grace=5)
        assert trio.current_time() == 5
        assert (quick.status, slow.status) == (S.COMPLETED, S.CANCELLED)
        assert sup.closed
        with pytest.raises(SupervisorClosed):
            await sup.submit(sleep_then, 1)
        await sup.shutdown()  # again: already done
    assert trio.current_time() == 5


async def test_shutdown_grace_none_waits_for_everything(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(shutdown_grace=1) as sup:
        h = sup.submit_nowait(sleep_then, 50)
        await sup.shutdown(grace=None)
        assert trio.current_time() == 50
        assert h.status is S.COMPLETED


async def test_concurrent_shutdowns_earliest_deadline_wins(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        h = sup.submit_nowait(sleep_then, 100)
        ended: list[float] = []

        async def stop(grace: float | None) -> None:
            await sup.shutdown(grace=grace)
            ended.append(trio.current_time())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(stop, None)
            nursery.start_soon(stop, 7)
    assert ended == [7, 7]
    assert h.status is S.CANCELLED


async def test_shutdown_from_own_task_returns_at_once_and_stops_the_rest(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        other = sup.submit_nowait(sleep_then, 100)

        async def stopper() -> float:
            await trio.sleep(1)
            await sup.shutdown(grace=2)
            return trio.current_time()

        me = sup.submit_nowait(stopper)
        assert await me.result() == 1
    assert trio.current_time() == 3
    assert other.status is S.CANCELLED
    assert other.completed_at == 3


async def test_cancel_stops_everything_but_not_the_body(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=1) as sup:
        running = sup.submit_nowait(sleep_then, 10)
        queued = sup.submit_nowait(sleep_then, 10)
        await trio.sleep(1)
        sup.cancel()
        assert queued.status is S.CANCELLED
        await running.wait()
        await trio.sleep(1)  # the body goes on
        assert trio.current_time() == 2
    assert (running.status, running.completed_at) == (S.CANCELLED, 1)
    assert queued.started_at is None


async def test_shutdown_wakes_blocked_submitters_with_supervisor_closed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=1, max_pending=0) as sup:
        sup.submit_nowait(sleep_then, 5)
        errors: list[BaseException] = []

        async def blocked() -> None:
            try:
                await sup.submit(sleep_then, 1)
            except SupervisorClosed as exc:
                errors.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(blocked)
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(sup.shutdown)
    assert len(errors) == 1
    assert (
        str(errors[0])
        == "supervisor 'supervisor' is shutting down; no new tasks accepted"
    )


async def test_cancelled_shutdown_cancels_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        h = sup.submit_nowait(sleep_then, 100)
        with trio.move_on_after(2):
            await sup.shutdown(grace=None)
        await h.wait()
        assert (h.status, h.completed_at) == (S.CANCELLED, 2)


# ---------------------------------------------------------------------------
# leaving by exception or cancellation
# ---------------------------------------------------------------------------


async def test_body_exception_cancels_everything_and_escapes_bare(
    autojump_clock: trio.testing.MockClock,
) -> None:
    handles: list[TaskHandle[Any]] = []
    boom = RuntimeError("body failed")
    with pytest.raises(RuntimeError) as info:
        async with open_supervisor(max_concurrent=1) as sup:
            handles.append(sup.submit_nowait(sleep_then, 10))
            handles.append(sup.submit_nowait(sleep_then, 10))
            await trio.sleep(1)
            raise boom
    assert info.value is boom
    assert [h.status for h in handles] == [S.CANCELLED, S.CANCELLED]
    assert [h.completed_at for h in handles] == [1, 1]
    assert handles[1].started_at is None


async def test_outer_cancel_marks_every_task_cancelled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    handles: list[TaskHandle[Any]] = []
    with trio.move_on_after(4) as scope:
        async with open_supervisor(max_concurrent=2) as sup:
            handles.extend(sup.submit_nowait(sleep_then, 10) for _ in range(5))
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert [h.status for h in handles] == [S.CANCELLED] * 5
    assert all(h.completed_at == 4 for h in handles)
    assert sup.health().running == 0


async def test_outer_cancel_during_drain_cancels_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.move_on_after(4):
        async with open_supervisor() as sup:
            h = sup.submit_nowait(sleep_then, 10)
    assert (h.status, h.completed_at) == (S.CANCELLED, 4)


async def test_outer_cancel_never_starts_queued_tasks(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    """Runners see an outer cancel before the (shielded) body does: no queued task starts."""
    started: list[int] = []

    async def job(i: int) -> None:
        started.append(i)
        await trio.sleep(10)

    with trio.move_on_after(1):
        async with open_supervisor(max_concurrent=2, on_event=recorder) as sup:
            handles = [sup.submit_nowait(job, i) for i in range(4)]
            with trio.CancelScope(shield=True):
                await trio.sleep(5)  # the runners unwind at t=1, the body at t=5
    assert sorted(started) == [0, 1]
    assert [h.status for h in handles] == [S.CANCELLED] * 4
    assert [h.completed_at for h in handles] == [1, 1, 1, 1]  # at once, not at t=5
    assert S.RUNNING not in [s for s, _ in recorder.history(handles[2].id)]


async def test_tasks_that_catch_cancelled_in_cleanup_end_terminal(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cleaned: list[float] = []

    async def with_cleanup() -> None:
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(2)
                cleaned.append(trio.current_time())

    with trio.move_on_after(1):
        async with open_supervisor() as sup:
            h = sup.submit_nowait(with_cleanup)
            await trio.sleep_forever()
    assert cleaned == [3]
    assert trio.current_time() == 3  # the block waited for the cleanup
    assert (h.status, h.completed_at) == (S.CANCELLED, 3)


async def test_keyboard_interrupt_in_task_propagates_bare_after_cancelling_all(
    autojump_clock: trio.testing.MockClock,
) -> None:
    handles: list[TaskHandle[Any]] = []
    with pytest.raises(KeyboardInterrupt):
        async with open_supervisor(max_concurrent=2) as sup:
            handles.append(sup.submit_nowait(sleep_then_raise, 1, KeyboardInterrupt()))
            handles.append(sup.submit_nowait(sleep_then, 10))
            handles.append(sup.submit_nowait(sleep_then, 10))  # queued: must not start
            await trio.sleep_forever()
    assert [h.status for h in handles] == [S.CANCELLED] * 3
    assert handles[2].started_at is None
    assert trio.current_time() == 1


async def test_body_exception_and_task_base_exception_escape_as_group(
    autojump_clock: trio.testing.MockClock,
) -> None:
    body_error = ValueError("body")

    async def interrupt_now() -> None:
        raise SystemExit(3)

    with pytest.RaisesGroup(ValueError, SystemExit, flatten_subgroups=True) as info:
        async with open_supervisor() as sup:
            sup.submit_nowait(interrupt_now)
            try:
                await trio.sleep_forever()
            finally:
                raise body_error
    assert body_error in info.value.exceptions


async def test_task_exception_never_escapes_the_block(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        h = sup.submit_nowait(sleep_then_raise, 1, OSError("disk"))
    assert h.status is S.FAILED


async def test_task_exception_group_with_cancelled_is_a_failure(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def child_fails_on_cancel() -> None:
        await trio.sleep_forever()
        # (raised from cleanup below)

    async def task() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.sleep_forever)

            async def cleanup_raises() -> None:
                try:
                    await trio.sleep_forever()
                finally:
                    raise OSError("cleanup")

            nursery.start_soon(cleanup_raises)

    with trio.move_on_after(1):
        async with open_supervisor() as sup:
            h = sup.submit_nowait(task)
            await trio.sleep_forever()
    assert h.status is S.FAILED
    assert isinstance(h.exception, ExceptionGroup)
    assert h.exception.subgroup(OSError) is not None


# ---------------------------------------------------------------------------
# reporting failures
# ---------------------------------------------------------------------------


async def test_unobserved_failure_is_logged_once_with_traceback(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="supervisor")
    async with open_supervisor("jobs") as sup:
        h = sup.submit_nowait(sleep_then_raise, 1, ValueError("lost"))
    records = [r for r in caplog.records if r.name == "supervisor"]
    assert len(records) == 1
    assert (
        records[0].getMessage()
        == "supervisor 'jobs': task 'sleep_then_raise' (id 1) failed"
    )
    assert records[0].exc_info is not None
    assert records[0].exc_info[1] is h.exception
    assert records[0].exc_info[2] is not None  # the traceback


async def test_failure_awaited_by_result_is_not_logged(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="supervisor")
    async with open_supervisor() as sup:
        h = sup.submit_nowait(sleep_then_raise, 1, ValueError("seen"))
        with pytest.raises(TaskFailed):
            await h.result()
    assert [r for r in caplog.records if r.name == "supervisor"] == []


async def test_on_event_exceptions_are_logged_and_swallowed(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    def bad_hook(event: object) -> None:
        raise ZeroDivisionError

    async with open_supervisor(on_event=bad_hook) as sup:
        h = sup.submit_nowait(sleep_then, 1, "fine")
    assert h.status is S.COMPLETED
    hook_logs = [r for r in caplog.records if "on_event hook" in r.getMessage()]
    assert len(hook_logs) == 3  # created, running, completed
    assert all(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in hook_logs)


async def test_on_event_may_cancel_the_task_it_observes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    handles: dict[int, TaskHandle[Any]] = {}

    def hook(event: Any) -> None:
        if event.new is S.RUNNING:
            handles[event.task_id].cancel()

    async with open_supervisor(on_event=hook) as sup:
        h = sup.submit_nowait(sleep_then, 5)
        handles[h.id] = h
    assert (h.status, h.completed_at) == (S.CANCELLED, 0)


# ---------------------------------------------------------------------------
# bookkeeping does not grow with finished tasks
# ---------------------------------------------------------------------------


async def test_finished_tasks_are_not_retained(
    autojump_clock: trio.testing.MockClock,
) -> None:
    refs: list[weakref.ref[TaskHandle[Any]]] = []
    async with open_supervisor(max_concurrent=3) as sup:
        for _ in range(50):
            refs.append(weakref.ref(sup.submit_nowait(sleep_then, 1)))
        await trio.sleep(100)
        assert sup._core.table.active == {}
        assert len(sup._core.table.queue) == 0
        gc.collect()
        assert all(r() is None for r in refs)
        assert sup.health().completed == 50


async def test_finished_handle_drops_function_and_arguments(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class Payload:
        pass

    payload = Payload()
    ref = weakref.ref(payload)
    async with open_supervisor() as sup:
        h = sup.submit_nowait(sleep_then, 1, payload)
    del payload
    gc.collect()
    # the result is kept (it is the value); the argument tuple is not
    assert h._args == ()
    assert h._fn is None
    assert ref() is not None  # still the result
    h._result = None
    gc.collect()
    assert ref() is None


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


def sync_function() -> None:
    pass


async def async_function() -> None:
    pass


async def test_sync_function_is_rejected_with_the_right_call() -> None:
    async with open_supervisor() as sup:
        with pytest.raises(
            TypeError,
            match=r"^submit\(\) takes an async function, got the sync callable <function sync_function at .*>; "
            r"define it with 'async def', or run it in a worker thread: "
            r"submit\(anyio.to_thread.run_sync, fn, \*args\)$",
        ):
            await sup.submit(sync_function)  # type: ignore[arg-type]  # the point of the test
        with pytest.raises(
            TypeError, match=r"^submit_nowait\(\) takes an async function"
        ):
            sup.submit_nowait(sync_function)  # type: ignore[arg-type]  # the point of the test


async def test_coroutine_object_is_rejected_and_closed() -> None:
    async with open_supervisor() as sup:
        coro = async_function()
        with pytest.raises(
            TypeError,
            match=r"^submit\(\) takes an async function and its arguments, got a coroutine object "
            r"<coroutine object async_function at .*>; call submit\(fn, \*args\), not submit\(fn\(\*args\)\)$",
        ):
            await sup.submit(coro)  # type: ignore[arg-type]  # the point of the test
        assert (
            inspect.getcoroutinestate(coro) == "CORO_CLOSED"
        )  # no "never awaited" warning


async def test_non_callable_is_rejected() -> None:
    async with open_supervisor() as sup:
        with pytest.raises(
            TypeError, match=r"^submit_nowait\(\) takes an async function, got 42$"
        ):
            sup.submit_nowait(42)  # type: ignore[arg-type]  # the point of the test


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (0, ValueError, r"^timeout must be > 0, got 0$"),
        (-1, ValueError, r"^timeout must be > 0, got -1$"),
        (math.nan, ValueError, r"^timeout must not be NaN$"),
        ("1", TypeError, r"^timeout must be a number of seconds or None, got '1'$"),
        (True, TypeError, r"^timeout must be a number of seconds or None, got True$"),
    ],
)
async def test_bad_timeout_is_rejected(
    bad: Any, error: type[Exception], message: str
) -> None:
    async with open_supervisor() as sup:
        with pytest.raises(error, match=message):
            sup.submit_nowait(async_function, timeout=bad)
        assert sup.health().submitted == 0


async def test_bad_name_is_rejected() -> None:
    async with open_supervisor() as sup:
        with pytest.raises(TypeError, match=r"^name must be a str or None, got 3$"):
            sup.submit_nowait(async_function, name=3)  # type: ignore[arg-type]  # the point of the test


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"max_concurrent": 0}, ValueError, r"^max_concurrent must be >= 1, got 0$"),
        ({"max_concurrent": -5}, ValueError, r"^max_concurrent must be >= 1, got -5$"),
        (
            {"max_concurrent": 1.5},
            TypeError,
            r"^max_concurrent must be an int or None, got 1.5$",
        ),
        ({"max_pending": -1}, ValueError, r"^max_pending must be >= 0, got -1$"),
        (
            {"shutdown_grace": -0.5},
            ValueError,
            r"^shutdown_grace must be >= 0, got -0.5$",
        ),
        ({"shutdown_grace": math.nan}, ValueError, r"^shutdown_grace must not be NaN$"),
        ({"on_event": 5}, TypeError, r"^on_event must be callable or None, got 5$"),
        (
            {"on_event": async_function},
            TypeError,
            r"^on_event must be a sync callable, got the async function",
        ),
        (
            {"health_rules": {}},
            TypeError,
            r"^health_rules must be a HealthRules or None, got \{\}$",
        ),
        ({"name": None}, TypeError, r"^name must be a str, got None$"),
    ],
)
async def test_bad_supervisor_options_are_rejected(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        async with open_supervisor(**kwargs):
            pass  # pragma: no cover - never entered


async def test_bad_shutdown_grace_is_rejected() -> None:
    async with open_supervisor() as sup:
        with pytest.raises(ValueError, match=r"^grace must be >= 0, got -1$"):
            await sup.shutdown(grace=-1)
        assert not sup.closed


async def test_open_supervisor_outside_an_event_loop_is_an_error() -> None:
    cm = open_supervisor()

    def enter_without_loop() -> None:
        import asyncio

        async def main() -> None:
            async with cm:
                pass  # pragma: no cover - never entered

        coro = main()
        with pytest.raises(
            RuntimeError,
            match=r"^open_supervisor\(\) must run inside trio.run or an asyncio event loop$",
        ):
            coro.send(None)
        coro.close()
        del asyncio

    await trio.to_thread.run_sync(enter_without_loop)


async def test_repr_names_state_and_counts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor("pool", max_concurrent=1) as sup:
        sup.submit_nowait(sleep_then, 1)
        sup.submit_nowait(sleep_then, 1)
        await trio.testing.wait_all_tasks_blocked()
        assert repr(sup).startswith("<supervisor.Supervisor 'pool' at 0x")
        assert repr(sup).endswith(", open, 1 running, 1 pending>")
    assert repr(sup).endswith(", done, 0 running, 0 pending>")


@pytest.mark.parametrize("runners", ["task", "pooled"])
async def test_a_keyboard_interrupt_on_the_general_route_ends_its_span_cancelled(
    traced: tuple[Any, Any], runners: str, autojump_clock: trio.testing.MockClock
) -> None:
    """A non-Exception BaseException out of the attempt of a named task (the
    general route): every task is cancelled, none queued starts, the attempt ends
    CANCELLED and so does its span, and the interrupt propagates bare."""
    from supervisor.tracing import instrument

    provider, exporter = traced

    async def interrupted() -> None:
        await trio.sleep(1)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        async with open_supervisor("api", max_concurrent=2, runners=runners) as sup:  # type: ignore[arg-type]
            instrument(sup, provider)
            h = sup.submit_nowait(interrupted, name="interrupted")
            other = sup.submit_nowait(trio.sleep_forever, name="other")
            queued = sup.submit_nowait(trio.sleep_forever, name="queued")
            await trio.sleep_forever()
    assert [x.status for x in (h, other, queued)] == [S.CANCELLED] * 3
    assert (h.attempts, h.completed_at, queued.started_at) == (1, 1, None)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert sorted(spans) == ["interrupted", "other"]
    attributes = spans["interrupted"].attributes
    assert attributes is not None
    assert attributes["trio_supervisor.task.outcome"] == "cancelled"
    assert attributes["trio_supervisor.task.id"] == h.id
