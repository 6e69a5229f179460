"""Group restarts (ONE_FOR_ALL / REST_FOR_ONE) in their less common states."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from supervisor import (
    Decision,
    Health,
    HealthRules,
    Restart,
    RestartIntensityExceeded,
    Strategy,
    Supervisor,
    TaskEvent,
    TaskStatus,
    open_supervisor,
)

from .helpers import crash_at, crash_once_at, running, slow_cleanup

pytestmark = pytest.mark.trio
S = TaskStatus
D = Decision


def ends(events: list[TaskEvent], name: str) -> list[tuple[S, D | None, float]]:
    """(new status, decision, time) of a task's events after its first start."""
    return [(e.new, e.decision, e.at) for e in events if e.name == name][2:]


async def test_a_restarted_sibling_that_fails_later_restarts_the_group_again(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events: list[TaskEvent] = []
    runs = {"a": 0, "b": 0}

    async def a() -> None:
        runs["a"] += 1
        if runs["a"] == 1:
            await crash_at(1)
        await trio.sleep_forever()

    async def b() -> None:
        runs["b"] += 1
        if runs["b"] == 2:  # after the group restart at 1, b fails by itself at 3
            await crash_at(3)
        await trio.sleep_forever()

    async with open_supervisor(
        strategy=Strategy.ONE_FOR_ALL, on_event=events.append
    ) as sup:
        sup.submit_nowait(a, restart=Restart.PERMANENT, name="a")
        sup.submit_nowait(b, restart=Restart.PERMANENT, name="b")
        await trio.sleep(5)
        assert sup.health().restarts_in_period == 2
        sup.cancel()
    assert ends(events, "b") == [
        (S.RESTARTING, D.SIBLING_RESTART, 1),
        (S.RUNNING, None, 1),
        (S.RESTARTING, D.RESTART, 3),  # its own failure: a new group restart
        (S.RUNNING, None, 3),
        (S.CANCELLED, None, 5),
    ]
    assert ends(events, "a")[2:4] == [
        (S.RESTARTING, D.SIBLING_RESTART, 3),
        (S.RUNNING, None, 3),
    ]


async def test_siblings_stopped_for_a_group_restart_record_their_end(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cleanup_error = OSError("cleanup failed")

    async def fails_in_cleanup() -> None:
        try:
            await trio.sleep_forever()
        finally:
            if trio.current_time() == 1:
                raise cleanup_error  # raised while being stopped for the group

    events: list[TaskEvent] = []
    async with open_supervisor(
        strategy=Strategy.ONE_FOR_ALL, on_event=events.append
    ) as sup:
        one_shot = sup.submit_nowait(trio.sleep_forever)
        messy = sup.submit_nowait(fails_in_cleanup, restart=Restart.TRANSIENT)
        crasher = sup.submit_nowait(crash_once_at(1), restart=Restart.TRANSIENT)
        await trio.sleep(1.5)
        # The TEMPORARY sibling ended at the stop; the other restarted, and its
        # handle keeps the error its stopped attempt raised.
        assert (one_shot.status, one_shot.completed_at) == (S.CANCELLED, 1)
        assert (messy.status, messy.attempts, messy.exception) == (
            S.RUNNING,
            2,
            cleanup_error,
        )
        assert crasher.attempts == 2
        sup.cancel()
    (stopped,) = [e for e in events if e.task_id == messy.id and e.decision]
    assert (stopped.new, stopped.exception) == (S.RESTARTING, cleanup_error)


async def test_counts_while_a_group_restart_waits_for_cleanup(
    autojump_clock: trio.testing.MockClock,
) -> None:

    async with open_supervisor(
        strategy=Strategy.ONE_FOR_ALL,
        health_rules=HealthRules(
            failure_rate_degraded=None, failure_rate_unhealthy=None
        ),
    ) as sup:
        # Started in this order, so a group restart stops quick first (newest
        # first), then slow.
        slow = sup.submit_nowait(slow_cleanup, restart=Restart.PERMANENT)
        await running(slow)
        quick = sup.submit_nowait(trio.sleep_forever, restart=Restart.PERMANENT)
        await running(quick)
        crasher = sup.submit_nowait(crash_once_at(1), restart=Restart.PERMANENT)
        await trio.sleep(2)  # quick is stopped, slow still cleans up (until 3)
        assert [quick.status, slow.status, crasher.status] == [
            S.RESTARTING,
            S.RUNNING,
            S.RESTARTING,
        ]
        assert sup.tasks() == [slow, quick, crasher]
        report = sup.health()
        assert (report.running, report.restarting, report.pending) == (1, 2, 0)
        assert report.status is Health.HEALTHY
        await trio.sleep(2)
        assert [h.attempts for h in (quick, slow, crasher)] == [2, 2, 2]
        sup.cancel()


async def test_a_stop_during_a_group_restart_cancels_the_children_not_yet_restarted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events: list[TaskEvent] = []
    runs = {"a": 0}
    handles: list[Any] = []
    sups: list[Supervisor] = []

    async def a() -> None:
        runs["a"] += 1
        if runs["a"] == 1:
            await crash_at(1)
        sups[0].cancel()  # the restarted a stops everything at once
        await slow_cleanup()  # and takes until 3 to clean up

    async with open_supervisor(
        strategy=Strategy.ONE_FOR_ALL, on_event=events.append
    ) as sup:
        sups.append(sup)
        for name, fn in (
            ("a", a),
            ("b", trio.sleep_forever),
            ("c", trio.sleep_forever),
        ):
            handles.append(sup.submit_nowait(fn, restart=Restart.PERMANENT, name=name))
            await trio.sleep(0.1)
        await trio.sleep(5)
    # b and c were stopped for the group at 1 and are never started again: they
    # end then, not when a's cleanup lets the block exit at 3.
    for name in "bc":
        assert ends(events, name) == [
            (S.RESTARTING, D.SIBLING_RESTART, 1),
            (S.CANCELLED, None, 1),
        ]
    assert [h.attempts for h in handles] == [2, 1, 1]
    assert [h.completed_at for h in handles] == [3, 1, 1]


async def test_start_child_waits_through_a_group_restart(
    autojump_clock: trio.testing.MockClock,
) -> None:
    runs = {"c": 0}

    async def child(*, task_status: Any) -> None:
        runs["c"] += 1
        await trio.sleep(1)
        if runs["c"] == 1:
            raise ValueError("not ready the first time")
        task_status.started("ready")
        await trio.sleep_forever()

    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as sup:
        sibling = sup.submit_nowait(trio.sleep_forever, restart=Restart.PERMANENT)
        await trio.sleep(0.5)  # the sibling is first in start order
        with trio.fail_after(100):  # a lost wake-up fails instead of hanging
            h = await sup.start_child(child, restart=Restart.TRANSIENT)
        # Failed at 1.5; the group restarted (sibling first); ready at 2.5.
        assert (trio.current_time(), h.started_value, h.attempts) == (2.5, "ready", 2)
        assert sibling.attempts == 2
        sup.cancel()


async def test_cancelling_a_sibling_held_by_a_group_restart_ends_it(
    autojump_clock: trio.testing.MockClock,
) -> None:

    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as sup:
        slow = sup.submit_nowait(slow_cleanup, restart=Restart.PERMANENT)
        await running(slow)
        quick = sup.submit_nowait(trio.sleep_forever, restart=Restart.PERMANENT)
        await running(quick)
        crasher = sup.submit_nowait(crash_once_at(1), restart=Restart.PERMANENT)
        # Stopped newest first: quick at once, then slow, which cleans up until 3.
        await trio.sleep(2)  # quick waits for the group restart; slow cleans up
        assert quick.status is S.RESTARTING
        quick.cancel()
        assert (quick.status, quick.completed_at) == (S.CANCELLED, 2)
        await trio.sleep(2)  # the group restarted at 3, without quick
        assert [h.attempts for h in (quick, slow, crasher)] == [1, 2, 2]
        assert [h.status for h in (quick, slow, crasher)] == [
            S.CANCELLED,
            S.RUNNING,
            S.RUNNING,
        ]
        sup.cancel()


async def test_a_child_that_fails_again_while_its_group_restarts_is_restarted_again(
    autojump_clock: trio.testing.MockClock,
) -> None:
    runs = 0

    async def boots_on_the_third_try(*, task_status: Any) -> None:
        nonlocal runs
        runs += 1
        await trio.sleep(1)
        if runs < 3:
            raise ValueError(f"boot {runs} failed")
        task_status.started(runs)
        await trio.sleep_forever()

    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as sup:
        sup.submit_nowait(trio.sleep_forever, restart=Restart.PERMANENT)
        await trio.sleep(0.5)
        with trio.fail_after(100):  # a lost wake-up fails instead of hanging
            h = await sup.start_child(boots_on_the_third_try)
        # Each boot takes 1 s: it fails at 1.5 and 2.5, and is ready at 3.5.
        assert (trio.current_time(), h.started_value, h.attempts) == (3.5, 3, 3)
        sup.cancel()


async def test_giving_up_while_a_group_restart_goes_on_ends_its_held_children(
    autojump_clock: trio.testing.MockClock,
) -> None:
    runs = {"a": 0}

    async def a() -> None:
        runs["a"] += 1
        if runs["a"] == 1:
            await crash_at(1)  # decision 1: the group restarts, a first
        raise ValueError("fails as it starts")  # decision 2: one too many

    with pytest.raises(RestartIntensityExceeded):
        async with open_supervisor(
            strategy=Strategy.ONE_FOR_ALL, max_restarts=1, restart_period=10
        ) as sup:
            first = sup.submit_nowait(a, restart=Restart.PERMANENT)
            await trio.sleep(0.1)
            b = sup.submit_nowait(trio.sleep_forever, restart=Restart.PERMANENT)
            c = sup.submit_nowait(trio.sleep_forever, restart=Restart.PERMANENT)
            await trio.sleep_forever()
    # b and c waited for the group restart when a gave up: their restart is
    # given up too, and nothing else escapes the block.
    assert [(h.status, h.completed_at) for h in (first, b, c)] == [(S.FAILED, 1)] * 3
    assert [h.attempts for h in (first, b, c)] == [2, 1, 1]


async def test_children_restarted_by_one_group_restart_can_each_fail_again(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events: list[TaskEvent] = []
    # a and b fail together at 1 (one group restart), then b alone at 2 and a
    # alone at 3: each run fails at the next of its times still ahead.
    fail_at = {"a": [1, 3], "b": [1, 2]}

    def child(name: str) -> Any:
        async def run() -> None:
            for when in fail_at[name]:
                if trio.current_time() < when:
                    await crash_at(when)
            await trio.sleep_forever()

        return run

    async with open_supervisor(
        strategy=Strategy.ONE_FOR_ALL, on_event=events.append, restart_period=None
    ) as sup:
        for name in "ab":
            sup.submit_nowait(child(name), restart=Restart.PERMANENT, name=name)
            await trio.sleep(0.5)
        await trio.sleep(5)
        sup.cancel()
    # Each later failure is answered by a restart of the whole group.
    for name, own in (("a", 3), ("b", 2)):
        mine = [(e.new, e.decision, e.at) for e in events if e.name == name]
        assert (S.RESTARTING, D.RESTART, own) in mine, name
        assert [m[:2] for m in mine[-2:]] == [(S.RUNNING, None), (S.CANCELLED, None)]
        assert mine[-1][2] == 6


async def test_cancel_during_a_group_restart_ends_the_children_it_held(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events: list[TaskEvent] = []
    async with open_supervisor(
        strategy=Strategy.ONE_FOR_ALL, on_event=events.append
    ) as sup:
        slow = sup.submit_nowait(slow_cleanup, restart=Restart.PERMANENT)
        await running(slow)
        quick = sup.submit_nowait(trio.sleep_forever, restart=Restart.PERMANENT)
        await running(quick)
        crasher = sup.submit_nowait(crash_once_at(1), restart=Restart.PERMANENT)
        await trio.sleep(2)  # the group restart waits for slow's cleanup, to 3
        sup.cancel()
    # Held by the group restart, with no runner of their own: they end when the
    # supervisor's tasks have all ended (slow's cleanup), never restarted.
    assert [(h.status, h.completed_at, h.attempts) for h in (quick, crasher)] == [
        (S.CANCELLED, 3, 1),
        (S.CANCELLED, 3, 1),
    ]
    assert (slow.status, slow.completed_at) == (S.CANCELLED, 3)
    assert sup.tasks() == []
