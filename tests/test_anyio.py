"""The public API under anyio, on both backends (trio and asyncio).

No mock clock exists for asyncio, so these tests synchronise on events and
``wait_all_tasks_blocked``, never on sleeps; exact timing is covered on trio.
"""

from __future__ import annotations

import contextvars
import math
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from supervisor import (
    AutoShutdown,
    ChildNotFound,
    ChildRunning,
    QueueFull,
    Restart,
    RestartIntensityExceeded,
    SupervisorClosed,
    TaskCancelled,
    TaskFailed,
    TaskHandle,
    TaskStatus,
    TaskTimeout,
    current_handle,
    open_supervisor,
)

pytestmark = pytest.mark.anyio
S = TaskStatus

var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")


async def wait_event(event: anyio.Event, value: object = None) -> object:
    await event.wait()
    return value


async def raise_after(event: anyio.Event, exc: BaseException) -> None:
    await event.wait()
    raise exc


async def test_submit_result_and_failure() -> None:
    go = anyio.Event()
    async with open_supervisor() as sup:
        ok = await sup.submit(wait_event, go, 42)
        bad = sup.submit_nowait(raise_after, go, KeyError("k"))
        await anyio.wait_all_tasks_blocked()
        assert (ok.status, bad.status) == (S.RUNNING, S.RUNNING)
        go.set()
        assert await ok.result() == 42
        with pytest.raises(TaskFailed) as info:
            await bad.result()
        assert isinstance(info.value.__cause__, KeyError)
    assert ok.created_at <= ok.started_at <= ok.completed_at  # type: ignore[operator]


async def test_cancel_running_and_pending() -> None:
    async with open_supervisor(max_concurrent=1) as sup:
        running = sup.submit_nowait(anyio.sleep_forever)
        pending = sup.submit_nowait(anyio.sleep_forever)
        await anyio.wait_all_tasks_blocked()
        pending.cancel()
        assert pending.status is S.CANCELLED
        running.cancel()
        with pytest.raises(TaskCancelled):
            await running.result()
    assert pending.started_at is None
    assert running.status is S.CANCELLED


async def test_timeout_fails_with_task_timeout() -> None:
    async with open_supervisor() as sup:
        h = sup.submit_nowait(anyio.sleep_forever, timeout=1e-6)
        await h.wait()
    assert h.status is S.FAILED
    assert isinstance(h.exception, TaskTimeout)


async def test_capacity_queue_and_queue_full() -> None:
    go = anyio.Event()
    async with open_supervisor(max_concurrent=2, max_pending=1) as sup:
        handles = [sup.submit_nowait(wait_event, go) for _ in range(3)]
        with pytest.raises(QueueFull):
            sup.submit_nowait(wait_event, go)
        await anyio.wait_all_tasks_blocked()
        assert [h.status for h in handles] == [S.RUNNING, S.RUNNING, S.PENDING]
        assert sup.health().running == 2
        go.set()
    assert [h.status for h in handles] == [S.COMPLETED] * 3


async def test_backpressure_then_closed() -> None:
    async with open_supervisor(max_concurrent=1, max_pending=0) as sup:
        sup.submit_nowait(anyio.sleep_forever)
        outcome: list[str] = []

        async def blocked() -> None:
            try:
                await sup.submit(anyio.sleep_forever)
            except SupervisorClosed:
                outcome.append("closed")

        async with anyio.create_task_group() as tg:
            tg.start_soon(blocked)
            await anyio.wait_all_tasks_blocked()
            sup.cancel()
    assert outcome == ["closed"]


async def test_graceful_exit_drains() -> None:
    go = anyio.Event()
    async with open_supervisor(max_concurrent=1) as sup:
        handles = [sup.submit_nowait(wait_event, go) for _ in range(3)]
        go.set()
    assert [h.status for h in handles] == [S.COMPLETED] * 3


async def test_shutdown_with_zero_grace_cancels_the_rest() -> None:
    async with open_supervisor() as sup:
        h = sup.submit_nowait(anyio.sleep_forever)
        await anyio.wait_all_tasks_blocked()
        await sup.shutdown(grace=0)
        assert h.status is S.CANCELLED
        with pytest.raises(SupervisorClosed):
            sup.submit_nowait(anyio.sleep_forever)


async def test_body_exception_cancels_all_and_escapes_bare() -> None:
    boom = LookupError("body")
    with pytest.raises(LookupError) as info:
        async with open_supervisor(max_concurrent=1) as sup:
            running = sup.submit_nowait(anyio.sleep_forever)
            queued = sup.submit_nowait(anyio.sleep_forever)
            await anyio.wait_all_tasks_blocked()
            raise boom
    assert info.value is boom
    assert (running.status, queued.status) == (S.CANCELLED, S.CANCELLED)
    assert queued.started_at is None


async def test_outer_cancel_marks_all_cancelled() -> None:
    with anyio.CancelScope() as scope:
        async with open_supervisor(max_concurrent=1) as sup:
            running = sup.submit_nowait(anyio.sleep_forever)
            queued = sup.submit_nowait(anyio.sleep_forever)
            await anyio.wait_all_tasks_blocked()
            scope.cancel()
            await anyio.sleep_forever()
    assert (running.status, queued.status) == (S.CANCELLED, S.CANCELLED)
    assert sup.tasks() == []


async def test_task_exception_does_not_escape() -> None:
    go = anyio.Event()
    go.set()
    async with open_supervisor() as sup:
        h = sup.submit_nowait(raise_after, go, OSError("x"))
    assert h.status is S.FAILED


async def test_contextvars_reach_queued_tasks() -> None:
    go = anyio.Event()

    async def read(event: anyio.Event) -> str:
        await event.wait()
        return var.get()

    async with open_supervisor(max_concurrent=1) as sup:
        var.set("one")
        first = sup.submit_nowait(read, go)
        var.set("two")
        second = sup.submit_nowait(read, go)
        go.set()
    assert (await first.result(), await second.result()) == ("one", "two")


async def test_submit_from_thread() -> None:
    async with open_supervisor() as sup:
        go = anyio.Event()
        h: Any = await anyio.to_thread.run_sync(
            lambda: sup.submit_from_thread(wait_event, go, "t")
        )
        go.set()
        assert await h.result() == "t"


async def test_subscribe_stream() -> None:
    received: list[tuple[int, S | None, S]] = []
    async with anyio.create_task_group() as tg:
        async with open_supervisor() as sup:
            subscription = sup.subscribe()

            async def consume() -> None:
                async with subscription as events:
                    async for e in events:
                        received.append((e.task_id, e.old, e.new))

            tg.start_soon(consume)
            go = anyio.Event()
            sup.submit_nowait(wait_event, go)
            await anyio.wait_all_tasks_blocked()
            go.set()
    assert received == [
        (1, None, S.PENDING),
        (1, S.PENDING, S.RUNNING),
        (1, S.RUNNING, S.COMPLETED),
    ]


async def test_health_report() -> None:
    async with open_supervisor(max_concurrent=1, max_pending=4) as sup:
        sup.submit_nowait(anyio.sleep_forever)
        sup.submit_nowait(anyio.sleep_forever)
        await anyio.wait_all_tasks_blocked()
        report = sup.health()
        sup.cancel()
    assert (report.running, report.pending, report.waiting, report.submitted) == (
        1,
        1,
        1,
        2,
    )
    assert math.isfinite(report.uptime)


async def test_shutdown_from_own_task_returns() -> None:
    async with open_supervisor() as sup:
        other = sup.submit_nowait(anyio.sleep_forever)

        async def stopper() -> str:
            await sup.shutdown(grace=0)
            return "returned"

        me = sup.submit_nowait(stopper)
        assert await me.result() == "returned"
    assert other.status is S.CANCELLED


async def test_transient_restart_on_both_backends() -> None:
    from supervisor import Restart

    attempts = 0

    async def flaky() -> int:
        nonlocal attempts
        attempts += 1
        await anyio.lowlevel.checkpoint()
        if attempts < 3:
            raise OSError("again")
        return attempts

    async with open_supervisor() as sup:
        h = sup.submit_nowait(flaky, restart=Restart.TRANSIENT)
        assert await h.result() == 3
    assert (h.status, h.attempts) == (S.COMPLETED, 3)


async def test_one_for_all_and_intensity_on_both_backends() -> None:
    from supervisor import Restart, RestartIntensityExceeded, Strategy

    async def crash() -> None:
        await anyio.lowlevel.checkpoint()
        raise OSError("crash")

    with pytest.raises(RestartIntensityExceeded):
        async with open_supervisor(
            strategy=Strategy.ONE_FOR_ALL, max_restarts=2, restart_period=60
        ) as sup:
            sibling = sup.submit_nowait(anyio.sleep_forever, restart=Restart.PERMANENT)
            await anyio.wait_all_tasks_blocked()
            sup.submit_nowait(crash, restart=Restart.PERMANENT)
            await anyio.sleep_forever()
    assert sibling.status is S.CANCELLED
    assert sibling.attempts == 3  # restarted with the crashing child twice


async def test_nothing_starts_after_an_outer_cancel() -> None:
    started: list[int] = []

    async def quick(i: int) -> None:
        started.append(i)

    with anyio.CancelScope() as outer:
        async with open_supervisor() as sup:
            # Each has a slot and its runner scheduled; none has started.
            handles = [sup.submit_nowait(quick, i) for i in range(5)]
            outer.cancel()
            await anyio.sleep_forever()
    assert started == []
    assert [(h.status, h.started_at) for h in handles] == [(S.CANCELLED, None)] * 5


async def test_a_failing_start_child_that_tips_the_intensity_loses_no_error() -> None:
    async def fails(*, task_status: Any) -> None:
        raise ValueError("boom")

    with pytest.RaisesGroup(TaskFailed, RestartIntensityExceeded):
        async with open_supervisor(max_restarts=0) as sup:
            await sup.start_child(fails, restart=Restart.TRANSIENT)


async def test_intensity_exceeded_escapes_through_an_outer_cancel() -> None:
    async def fails() -> None:
        await anyio.lowlevel.checkpoint()
        raise ValueError("boom")

    with anyio.CancelScope() as outer, pytest.raises(RestartIntensityExceeded):
        async with open_supervisor(max_restarts=0) as sup:
            h = sup.submit_nowait(fails, restart=Restart.TRANSIENT)
            await h.wait()
            outer.cancel()
            await anyio.sleep_forever()


async def test_intensity_and_the_bodys_own_error_escape_together() -> None:
    async def fails() -> None:
        raise ValueError("boom")

    with pytest.RaisesGroup(RestartIntensityExceeded, KeyError):
        async with open_supervisor(max_restarts=0) as sup:
            sup.submit_nowait(fails, restart=Restart.TRANSIENT)
            with anyio.CancelScope(shield=True):
                await anyio.sleep(0.01)  # the supervisor gives up meanwhile
            raise KeyError("the body's own error")


# -- children (API.md, "Children"), on both backends --------------------------------


async def ready_then_serve(*, task_status: Any) -> None:
    task_status.started()
    await anyio.sleep_forever()


async def finish_when_asked(*, task_status: Any) -> str:
    h = current_handle()
    assert h is not None
    task_status.started()
    await h.wait_stop_requested()
    await anyio.lowlevel.checkpoint()  # the unit of work in hand
    return "finished"


async def test_terminate_restart_delete_and_which_children() -> None:
    async with open_supervisor() as sup:
        a = await sup.start_child(ready_then_serve, name="a")
        b = await sup.start_child(finish_when_asked, name="b", shutdown=math.inf)
        await sup.terminate_child("a")
        await sup.terminate_child(b)
        assert (a.status, b.status, await b.result()) == (
            S.CANCELLED,
            S.COMPLETED,
            "finished",
        )
        assert [(i.id, i.handle) for i in sup.which_children()] == [("a", a), ("b", b)]
        with pytest.raises(ChildRunning):
            await sup.restart_child(await sup.restart_child("a"))
        sup.delete_child("b")
        with pytest.raises(ChildNotFound):
            await sup.restart_child("b")
        assert [i.id for i in sup.which_children()] == ["a"]


async def test_per_child_shutdown_bounds_a_child_that_ignores_its_stop() -> None:
    async with open_supervisor() as sup:
        h = await sup.start_child(ready_then_serve, shutdown=0.01)
        await sup.terminate_child(h)
        assert (h.status, h.attempts) == (S.CANCELLED, 1)


async def test_graceful_exit_asks_and_stops_by_policy() -> None:
    async with open_supervisor() as sup:
        permanent = await sup.start_child(finish_when_asked, shutdown=None)
        one_shot = await sup.start_child(finish_when_asked, restart=Restart.TEMPORARY)
    assert (permanent.status, one_shot.status) == (S.COMPLETED, S.COMPLETED)


async def test_auto_shutdown_ends_the_block_without_an_error() -> None:
    gate = anyio.Event()

    async def job(*, task_status: Any) -> None:
        task_status.started()
        await gate.wait()

    async with open_supervisor(auto_shutdown=AutoShutdown.ANY_SIGNIFICANT) as sup:
        h = await sup.start_child(job, restart=Restart.TRANSIENT, significant=True)
        server = await sup.start_child(ready_then_serve)
        gate.set()
        await anyio.sleep_forever()  # cancelled by the auto shutdown
    assert (h.status, server.status) == (S.COMPLETED, S.CANCELLED)


async def test_a_stop_travels_down_a_tree_gracefully() -> None:
    async def subtree(*, task_status: Any) -> None:
        async with open_supervisor(name="inner") as inner:
            leaf = await inner.start_child(finish_when_asked, shutdown=None)
            task_status.started(leaf)
            await anyio.sleep_forever()

    async with open_supervisor() as sup:
        h = await sup.start_child(subtree, shutdown=None)
        leaf = h.started_value
        await sup.terminate_child(h)
    assert isinstance(leaf, TaskHandle)
    assert (h.status, leaf.status) == (S.COMPLETED, S.COMPLETED)
