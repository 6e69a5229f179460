"""No lost wake-ups: several waiters on one thing all wake, at the exact time."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest
import trio
import trio.testing

from supervisor import (
    Decision,
    Restart,
    Strategy,
    TaskCancelled,
    TaskFailed,
    TaskStatus,
    open_supervisor,
)

from .helpers import sleep_then, sleep_then_raise

if TYPE_CHECKING:
    from .conftest import Recorder

pytestmark = pytest.mark.trio
S = TaskStatus


async def test_every_waiter_on_one_handle_wakes_when_it_ends(
    autojump_clock: trio.testing.MockClock,
) -> None:
    woke: list[tuple[str, float, object]] = []
    async with open_supervisor() as sup:
        h = sup.submit_nowait(sleep_then, 5, "v")

        async def waiter(tag: str, how: str) -> None:
            value: object = None
            if how == "result":
                value = await h.result()
            else:
                await h.wait()
            woke.append((tag, trio.current_time(), value))

        # A lost wake-up would hang: fail_after turns that into a failure at once.
        with trio.fail_after(100):
            async with trio.open_nursery() as nursery:
                for tag, how in [("w1", "wait"), ("r1", "result"), ("w2", "wait")]:
                    nursery.start_soon(waiter, tag, how)
                    await trio.sleep(1)  # the waiters arrive at 0, 1 and 2
                nursery.start_soon(waiter, "r2", "result")
    assert sorted(woke) == [
        ("r1", 5, "v"),
        ("r2", 5, "v"),
        ("w1", 5, None),
        ("w2", 5, None),
    ]


@pytest.mark.parametrize(
    ("fn", "error"), [(sleep_then_raise, TaskFailed), (sleep_then, TaskCancelled)]
)
async def test_every_result_waiter_gets_the_error(
    autojump_clock: trio.testing.MockClock, fn: Any, error: type[Exception]
) -> None:
    raised: list[tuple[float, type[BaseException]]] = []
    async with open_supervisor() as sup:
        h = sup.submit_nowait(fn, 3, ValueError("boom"))

        async def waiter() -> None:
            with pytest.raises(error) as info:
                await h.result()
            raised.append((trio.current_time(), info.type))

        with trio.fail_after(100):  # a lost wake-up fails instead of hanging
            async with trio.open_nursery() as nursery:
                nursery.start_soon(waiter)
                nursery.start_soon(waiter)
                await trio.sleep(2)
                if error is TaskCancelled:
                    h.cancel()
    when = 3 if error is TaskFailed else 2
    assert raised == [(when, error), (when, error)]


async def test_a_cancelled_waiter_leaves_the_others_waiting(
    autojump_clock: trio.testing.MockClock,
) -> None:
    woke: list[float] = []
    async with open_supervisor() as sup:
        h = sup.submit_nowait(sleep_then, 5)

        async def waiter() -> None:
            await h.wait()
            woke.append(trio.current_time())

        with trio.fail_after(100):  # a lost wake-up fails instead of hanging
            async with trio.open_nursery() as nursery:
                nursery.start_soon(waiter)  # this one stays
                await trio.sleep(1)
                with trio.move_on_after(1):
                    await h.wait()  # gives up at 2
                assert trio.current_time() == 2
                nursery.start_soon(waiter)
    assert woke == [5, 5]
    assert h.status is S.COMPLETED


async def test_concurrent_shutdowns_all_return_when_everything_ended(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ended: list[tuple[str, float]] = []
    async with open_supervisor() as sup:
        one_shot = sup.submit_nowait(sleep_then, 4)
        permanent = sup.submit_nowait(sleep_then, 100, restart=Restart.PERMANENT)

        async def stop(tag: str, delay: float) -> None:
            await trio.sleep(delay)
            await sup.shutdown(grace=None)
            ended.append((tag, trio.current_time()))

        with trio.fail_after(100):  # a lost wake-up fails instead of hanging
            async with trio.open_nursery() as nursery:
                nursery.start_soon(stop, "first", 1)
                nursery.start_soon(stop, "second", 2)
                nursery.start_soon(stop, "third", 3)
    # All three waited for the one-shot task (4 s), then the PERMANENT one's stop.
    assert sorted(ended) == [("first", 4), ("second", 4), ("third", 4)]
    assert (one_shot.status, one_shot.completed_at) == (S.COMPLETED, 4)
    assert (permanent.status, permanent.completed_at) == (S.CANCELLED, 4)


async def test_shutdown_after_the_supervisor_is_done_returns_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        sup.submit_nowait(sleep_then, 1)
    await sup.shutdown()
    await sup.shutdown(grace=0)
    assert trio.current_time() == 1


async def test_simultaneous_failures_under_one_for_all_restart_the_group_once(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    runs: dict[str, int] = {}

    def child(tag: str) -> Any:
        async def run() -> None:
            runs[tag] = runs.get(tag, 0) + 1
            if tag in "ab" and runs[tag] == 1:
                await trio.sleep(1 - trio.current_time())  # a and b fail at t=1
                raise ValueError(tag)
            await trio.sleep_forever()

        return run

    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL, on_event=recorder) as sup:
        handles = []
        for tag in "abc":
            handles.append(
                sup.submit_nowait(child(tag), restart=Restart.PERMANENT, name=tag)
            )
            await trio.sleep(0.25)  # first starts in the order a, b, c
        await trio.sleep(5)
        report = sup.health()
        sup.cancel()
    assert runs == {"a": 2, "b": 2, "c": 2}
    assert [h.attempts for h in handles] == [2, 2, 2]
    # Each failure is a restart decision; the second one joins the group
    # restart that the first started, and no second round follows.
    assert report.restarts_in_period == 2
    after_one = [
        (e.name, e.new, e.decision) for e in recorder.events if e.at == 1 and e.old
    ]
    assert sorted(after_one[:3]) == [
        ("a", S.RESTARTING, Decision.RESTART),
        ("b", S.RESTARTING, Decision.RESTART),
        ("c", S.RESTARTING, Decision.SIBLING_RESTART),
    ]
    assert after_one[3:] == [
        ("a", S.RUNNING, None),
        ("b", S.RUNNING, None),
        ("c", S.RUNNING, None),
    ]
    assert sorted((e.name, e.new, e.at) for e in recorder.events if e.at > 1) == [
        ("a", S.CANCELLED, 5.75),
        ("b", S.CANCELLED, 5.75),
        ("c", S.CANCELLED, 5.75),
    ]


async def test_two_readers_of_one_subscription_share_the_events_and_both_end(
    autojump_clock: trio.testing.MockClock,
) -> None:
    got: dict[str, list[int]] = {"r1": [], "r2": []}
    async with trio.open_nursery() as nursery:
        async with open_supervisor() as sup:
            events = sup.subscribe()

            async def reader(tag: str) -> None:
                async for event in events:
                    got[tag].append(event.task_id)
                    await trio.sleep(1)  # slow: the other reader takes the next

            nursery.start_soon(reader, "r1")
            nursery.start_soon(reader, "r2")
            await trio.testing.wait_all_tasks_blocked()  # both wait
            for _ in range(3):
                sup.submit_nowait(sleep_then, 10)
                await trio.sleep(0.5)
        # The readers end once every event was delivered.
        # A reader that never woke is cancelled here, and the test fails below.
        nursery.cancel_scope.deadline = trio.current_time() + 100
    # 3 tasks x 3 events, each delivered once, and both readers ended.
    assert not nursery.cancel_scope.cancelled_caught, "a reader never woke"
    assert sorted(got["r1"] + got["r2"]) == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert got["r1"]
    assert got["r2"]


async def test_a_failure_awaited_by_a_waiter_that_gave_up_is_logged(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="supervisor")
    async with open_supervisor() as sup:
        h = sup.submit_nowait(sleep_then_raise, 5, ValueError("boom"))
        with trio.move_on_after(1):
            await h.result()  # gives up before the failure
    assert [r.getMessage() for r in caplog.records if r.name == "supervisor"] == [
        "supervisor 'supervisor': task 'sleep_then_raise' (id 1) failed"
    ]


async def test_a_failure_awaited_by_one_of_two_waiters_is_not_logged(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="supervisor")
    async with open_supervisor() as sup:
        h = sup.submit_nowait(sleep_then_raise, 5, ValueError("boom"))

        async def patient() -> None:
            with pytest.raises(TaskFailed):
                await h.result()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(patient)
            with trio.move_on_after(1):
                await h.result()  # this one gives up; the other still waits
    assert [r for r in caplog.records if r.name == "supervisor"] == []
