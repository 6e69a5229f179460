"""start_child: trio's start protocol for supervised children (trio, virtual time)."""

from __future__ import annotations

from typing import Any, NoReturn

import anyio
import pytest
import trio
import trio.testing

from supervisor import (
    Restart,
    TaskCancelled,
    TaskFailed,
    TaskStatus,
    open_supervisor,
)

S = TaskStatus


async def server(port: int, *, task_status: Any) -> None:
    await trio.sleep(2)  # binding takes a while
    task_status.started(port)
    await trio.sleep_forever()


@pytest.mark.trio
async def test_start_child_returns_once_started(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        h = await sup.start_child(server, 8080, name="http")
        assert trio.current_time() == 2
        assert h.started_value == 8080
        assert (h.status, h.started_at) == (S.RUNNING, 0)  # RUNNING from the call
        assert h.restart is Restart.PERMANENT
    assert (h.status, h.completed_at) == (S.CANCELLED, 2)  # the block stops it


@pytest.mark.trio
async def test_failure_before_started_raises_task_failed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def broken(*, task_status: Any) -> NoReturn:
        await trio.sleep(1)
        raise OSError("address in use")

    async with open_supervisor() as sup:
        with pytest.raises(
            TaskFailed, match=r"^task 'broken' \(id 1\) failed before it was ready$"
        ) as info:
            await sup.start_child(broken, name="broken", restart=Restart.TEMPORARY)
        assert isinstance(info.value.__cause__, OSError)


@pytest.mark.trio
async def test_restarted_child_is_awaited_until_a_later_attempt_starts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    attempts = 0

    async def flaky(*, task_status: Any) -> None:
        nonlocal attempts
        attempts += 1
        await trio.sleep(1)
        if attempts < 3:
            raise OSError("not yet")
        task_status.started(f"attempt {attempts}")
        await trio.sleep_forever()

    async with open_supervisor() as sup:
        h = await sup.start_child(flaky)
        assert trio.current_time() == 3
        assert (h.started_value, h.attempts) == ("attempt 3", 3)
        h.cancel()


@pytest.mark.trio
async def test_returning_without_started_is_a_runtime_error(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def forgetful(*, task_status: Any) -> None:
        await trio.sleep(1)

    async with open_supervisor() as sup:
        with pytest.raises(TaskFailed) as info:
            await sup.start_child(forgetful, restart=Restart.TEMPORARY)
    cause = info.value.__cause__
    assert isinstance(cause, RuntimeError)
    assert (
        str(cause)
        == "task 'test_returning_without_started_is_a_runtime_error.<locals>.forgetful' (id 1) returned without calling task_status.started()"
    )


@pytest.mark.trio
async def test_calling_started_twice_fails_the_task(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def eager(*, task_status: Any) -> None:
        task_status.started(1)
        task_status.started(2)

    async with open_supervisor() as sup:
        h = await sup.start_child(eager, restart=Restart.TEMPORARY)
        await h.wait()
    assert h.started_value == 1
    assert isinstance(h.exception, RuntimeError)
    assert str(h.exception) == "task_status.started() called more than once"


@pytest.mark.trio
async def test_function_without_task_status_is_rejected() -> None:
    async def plain() -> None:
        pass

    async with open_supervisor() as sup:
        with pytest.raises(
            TypeError,
            match=r"^start_child\(\) needs a function that takes a task_status keyword "
            r"argument and calls task_status.started\(\), got <function .*plain at 0x",
        ):
            await sup.start_child(plain)
        assert sup.health().submitted == 0


@pytest.mark.trio
async def test_cancelled_start_child_cancels_the_child(
    autojump_clock: trio.testing.MockClock,
) -> None:
    handles: list[Any] = []

    async def slow_start(*, task_status: Any) -> None:
        await trio.sleep(10)
        task_status.started()

    async with open_supervisor(on_event=lambda e: handles.append(e)) as sup:
        with trio.move_on_after(1):
            await sup.start_child(slow_start)
        await trio.testing.wait_all_tasks_blocked()
        assert sup.tasks() == []
    assert [e.new for e in handles] == [S.PENDING, S.RUNNING, S.CANCELLED]


@pytest.mark.trio
async def test_child_cancelled_before_ready_raises_task_cancelled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def never_ready(*, task_status: Any) -> None:
        await trio.sleep_forever()

    async with open_supervisor() as sup:

        async def stop_soon() -> None:
            await trio.sleep(1)
            sup.cancel()

        sup_task = trio.lowlevel.current_task()
        assert sup_task is not None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(stop_soon)
            with pytest.raises(
                TaskCancelled,
                match=r"^task 'test_child_cancelled_before_ready_raises_task_cancelled"
                r"\.<locals>\.never_ready' \(id 1\) was cancelled before it was ready$",
            ):
                await sup.start_child(never_ready)


@pytest.mark.anyio
async def test_start_child_on_both_backends() -> None:
    async def ready(*, task_status: Any) -> None:
        task_status.started("up")
        await anyio.sleep_forever()

    async with open_supervisor() as sup:
        h = await sup.start_child(ready)
        during = h.status
        assert h.started_value == "up"
    assert during is S.RUNNING
    assert h.status is S.CANCELLED
