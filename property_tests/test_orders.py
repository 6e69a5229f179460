"""Small scenarios whose outcome must not depend on the order trio runs tasks in.

Hypothesis chooses the order of every batch of runnable tasks
(``hypothesis_scheduling``); each scenario asserts what holds in every order.
"""

from __future__ import annotations

from typing import Any

import trio
from hypothesis import given, strategies as st

from supervisor import (
    Backoff,
    Decision,
    Restart,
    RestartIntensityExceeded,
    Strategy,
    TaskEvent,
    TaskStatus,
    open_supervisor,
)
from supervisor.testing import hypothesis_scheduling

from .virtual_time import run_on_mock_clock

S = TaskStatus


@given(st.data())
def test_start_child_and_its_group_restart_share_the_wait_for_readiness(
    data: st.DataObject,
) -> None:
    runs = {"child": 0}
    outcome: dict[str, Any] = {}

    async def child(*, task_status: Any) -> None:
        runs["child"] += 1
        await trio.sleep(1)
        if runs["child"] == 1:
            raise ValueError("not ready the first time")
        task_status.started("ready")
        await trio.sleep_forever()

    async def main() -> None:
        async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as sup:
            h = await sup.start_child(child)  # PERMANENT: stopped at the exit
            later = sup.submit_nowait(trio.sleep_forever, restart=Restart.PERMANENT)
            # Whichever of start_child and the group restart looks for the wait
            # first, both are woken by the same started().
            outcome["ready_at"] = trio.current_time()
            outcome["attempts"] = h.attempts
            await trio.sleep(1)
            outcome["later"] = later.status
        # A graceful exit waits for every task of the supervisor, the group
        # restart's too: one left waiting for readiness would hang it here.
        outcome["exited_at"] = trio.current_time()

    with hypothesis_scheduling(data):
        run_on_mock_clock(main)
    assert outcome == {
        "ready_at": 2,
        "attempts": 2,
        "later": S.RUNNING,
        "exited_at": 3,
    }


@given(st.data())
def test_tasks_never_lists_an_ended_task(data: st.DataObject) -> None:
    ended_but_listed: list[tuple[str, S]] = []
    sup_ref: list[Any] = []

    def check(event: TaskEvent) -> None:
        if sup_ref:
            ended_but_listed.extend(
                (h.name, h.status) for h in sup_ref[0].tasks() if h.done()
            )

    async def fail_at_1() -> None:
        await trio.sleep(1)
        if trio.current_time() == 1:
            raise ValueError("both fail at 1")
        await trio.sleep_forever()

    async def main() -> None:
        try:
            async with open_supervisor(
                max_restarts=1, restart_period=10, on_event=check
            ) as sup:
                sup_ref.append(sup)
                # Both fail at 1 and restart at once: the second decision is one
                # too many, while the first one's restart holds a slot and has not
                # run yet, in whichever order they went.
                sup.submit_nowait(fail_at_1, restart=Restart.TRANSIENT, name="x")
                sup.submit_nowait(fail_at_1, restart=Restart.TRANSIENT, name="y")
                await trio.sleep_forever()
        except RestartIntensityExceeded:
            pass

    with hypothesis_scheduling(data):
        run_on_mock_clock(main)
    assert ended_but_listed == []


@given(st.data())
def test_cancelling_a_task_just_given_a_slot_keeps_the_counts(
    data: st.DataObject,
) -> None:
    seen: dict[str, Any] = {}

    async def main() -> None:
        async with open_supervisor(max_concurrent=1) as sup:
            first = sup.submit_nowait(trio.sleep, 1)
            second = sup.submit_nowait(trio.sleep, 1)  # queued until 1
            await first.wait()
            # first's end handed its slot to second; second's runner may or may
            # not have run yet.
            second.cancel()
            seen["waiting"] = sup.health().waiting
            await second.wait()
            seen["second"] = second.status
            seen["after"] = sup.health().waiting

    with hypothesis_scheduling(data):
        run_on_mock_clock(main)
    assert seen == {"waiting": 0, "second": S.CANCELLED, "after": 0}


@given(st.data())
def test_cancelling_a_restart_just_given_a_slot_leaves_nothing_behind(
    data: st.DataObject,
) -> None:
    seen: dict[str, Any] = {}

    async def fails_once() -> None:
        if trio.current_time() < 1:
            await trio.sleep(1)
            raise ValueError("once")
        await trio.sleep_forever()

    async def main() -> None:
        async with open_supervisor(max_concurrent=1) as sup:
            restarting = sup.submit_nowait(
                fails_once,
                restart=Restart.TRANSIENT,
                backoff=Backoff(initial=1, jitter=0),
            )
            await trio.sleep(1.5)
            holder = sup.submit_nowait(trio.sleep, 1.5)  # the slot, to 3
            await holder.wait()
            # holder's end handed the slot to the waiting restart, whose runner
            # may or may not have run yet.
            restarting.cancel()
            seen["listed"] = [h.status for h in sup.tasks() if h.done()]
            await restarting.wait()
            seen["status"] = restarting.status

    with hypothesis_scheduling(data):
        run_on_mock_clock(main)
    assert seen == {"listed": [], "status": S.CANCELLED}


@given(st.data())
def test_after_simultaneous_failures_each_child_restarts_its_group_again(
    data: st.DataObject,
) -> None:
    events: list[TaskEvent] = []

    def child(times: list[float]) -> Any:
        async def run() -> None:
            for when in times:
                if trio.current_time() < when:
                    await trio.sleep_until(when)
                    raise ValueError(f"fails at {when}")
            await trio.sleep_forever()

        return run

    async def main() -> None:
        async with open_supervisor(
            strategy=Strategy.ONE_FOR_ALL, on_event=events.append
        ) as sup:
            # a and b fail together at 1: one group restart answers both, in
            # whichever order trio took the failures. Then a fails alone at 3.
            sup.submit_nowait(child([1, 3]), restart=Restart.PERMANENT, name="a")
            sup.submit_nowait(child([1]), restart=Restart.PERMANENT, name="b")
            await trio.sleep(5)
            sup.cancel()

    with hypothesis_scheduling(data):
        run_on_mock_clock(main)
    at_3 = {(e.name, e.new, e.decision) for e in events if e.at == 3}
    assert at_3 == {
        ("a", S.RESTARTING, Decision.RESTART),
        ("a", S.RUNNING, None),
        ("b", S.RESTARTING, Decision.SIBLING_RESTART),
        ("b", S.RUNNING, None),
    }
