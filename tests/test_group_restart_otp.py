"""Group restarts in OTP's order (API.md, "Group restarts"): stops one at a time,
newest first, by each child's shutdown policy; starts in start order and stops
at the first child that fails before it is ready; kept children come along."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from supervisor import (
    Restart,
    Strategy,
    TaskCancelled,
    TaskStatus,
    current_handle,
    open_supervisor,
)

pytestmark = pytest.mark.trio
S = TaskStatus
Log = list[tuple[float, str]]


def child(log: Log, tag: str) -> Any:
    """Ready at once; logs its start and, once stopped, its cleanup (0.5 s)."""

    async def run(*, task_status: Any) -> None:
        log.append((trio.current_time(), f"{tag} start"))
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(0.5)
            log.append((trio.current_time(), f"{tag} cleaned"))

    return run


def slow_to_stop(cleanup: float) -> Any:
    """Ready at once; once stopped, its cleanup takes ``cleanup`` seconds."""

    async def run(*, task_status: Any) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(cleanup)

    return run


def flaky_boot(log: Log, tag: str, boots: list[bool]) -> Any:
    """Its attempts go by ``boots``: True crashes at 1 s after being ready, False
    fails 0.25 s into its boot, before it is ready; past the list it serves."""
    attempt = 0

    async def run(*, task_status: Any) -> None:
        nonlocal attempt
        attempt += 1
        plan = boots[attempt - 1] if attempt <= len(boots) else None
        log.append((trio.current_time(), f"{tag} start"))
        if plan is False:
            await trio.sleep(0.25)
            raise ValueError(f"{tag} boot {attempt} failed")
        task_status.started()
        if plan is True:
            await trio.sleep(1)
            raise ValueError(f"{tag} crashed")
        await trio.sleep_forever()

    return run


async def test_a_group_restart_stops_at_the_first_child_that_fails_to_start(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    async with open_supervisor(strategy=Strategy.REST_FOR_ONE) as sup:
        a = await sup.start_child(child(log, "a"), name="a")
        b = await sup.start_child(flaky_boot(log, "b", [True, False, False]), name="b")
        c = await sup.start_child(child(log, "c"), name="c")
        await trio.sleep(3)
        assert [h.attempts for h in (a, b, c)] == [1, 4, 2]
        assert sup.health().restarts_in_period == 3  # one per failure of b
        await trio.sleep(7)
        sup.cancel()
    # b crashes at 1; c is stopped (cleanup to 1.5); b's boots at 1.5 and 1.75
    # fail before it is ready: c is not started then; b's fourth boot is ready at
    # 2.0, and only then does c start.
    lines = [line for line in log if line[0] < 10]
    assert lines == [
        (0, "a start"),
        (0, "b start"),
        (0, "c start"),
        (1.5, "c cleaned"),
        (1.5, "b start"),
        (1.75, "b start"),
        (2.0, "b start"),
        (2.0, "c start"),
    ]


async def test_when_the_failed_child_ends_for_good_the_later_ones_are_kept(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    async with open_supervisor(strategy=Strategy.REST_FOR_ONE) as sup:
        await sup.start_child(child(log, "a"), name="a")
        b = await sup.start_child(
            flaky_boot(log, "b", [True, False]), name="b", max_attempts=2
        )
        c = await sup.start_child(child(log, "c"), name="c")
        d = sup.submit_nowait(trio.sleep_forever, restart=Restart.PERMANENT)
        await trio.sleep(5)
        # b's second boot failed at 1.75 and it had no attempt left: c and d,
        # held back, end CANCELLED, never restarted; c's spec is kept
        assert (b.status, b.completed_at) == (S.FAILED, 1.75)
        assert [(h.status, h.completed_at, h.attempts) for h in (c, d)] == [
            (S.CANCELLED, 1.75, 1),
            (S.CANCELLED, 1.75, 1),
        ]
        assert [(i.id, i.handle.status) for i in sup.which_children()] == [
            ("a", S.RUNNING),
            ("c", S.CANCELLED),
        ]
        again = await sup.restart_child("c")
        assert again.status is S.RUNNING
        sup.cancel()


async def test_a_held_child_is_kept_when_the_child_it_waits_for_is_cancelled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    async with open_supervisor(strategy=Strategy.REST_FOR_ONE) as sup:
        b = await sup.start_child(
            flaky_boot(log, "b", [True, False, False, False]), name="b"
        )
        c = await sup.start_child(child(log, "c"), name="c")
        # b crashed at 1; its boots at 1.5 and 1.75 fail before it is ready, c
        # held back meanwhile; at 1.8 its third boot is under way: cancel it
        await trio.sleep(1.8)
        b.cancel()
        await trio.sleep(1)
        assert b.status is S.CANCELLED
        assert c.status is S.CANCELLED
        assert [i.id for i in sup.which_children()] == ["c"]
        sup.cancel()


async def test_kept_children_restart_with_the_group(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as sup:
        await sup.start_child(flaky_boot(log, "a", [True]), name="a")
        old_b = await sup.start_child(child(log, "b"), name="b")
        await sup.start_child(child(log, "c"), name="c")
        await sup.terminate_child("b")  # cancelled at 0, cleaned at 0.5
        await trio.sleep(5)
        infos = sup.which_children()
        assert [(i.id, i.handle.status) for i in infos] == [
            ("a", S.RUNNING),
            ("b", S.RUNNING),
            ("c", S.RUNNING),
        ]
        assert infos[1].handle is not old_b  # a new task, in b's place
        sup.cancel()
    # a crashes at 1; c is stopped (to 1.5); then a, b (its new task) and c
    # start in start order
    assert [line for line in log if 0.5 < line[0] < 5] == [
        (1.5, "c cleaned"),
        (1.5, "a start"),
        (1.5, "b start"),
        (1.5, "c start"),
    ]


async def test_a_group_restart_stops_each_sibling_by_its_shutdown_policy(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []

    async def finishes_its_work(*, task_status: Any) -> None:
        h = current_handle()
        assert h is not None
        log.append((trio.current_time(), "w start"))
        task_status.started()
        await h.wait_stop_requested()
        await trio.sleep(2)  # the unit of work in hand
        log.append((trio.current_time(), "w done"))

    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as sup:
        w = await sup.start_child(finishes_its_work, name="w", shutdown=5)
        x = await sup.start_child(child(log, "x"), name="x", shutdown=5)
        await sup.start_child(flaky_boot(log, "z", [True]), name="z")
        await trio.sleep(10)
        assert [h.attempts for h in (w, x)] == [2, 2]
        sup.cancel()
    # z crashes at 1; x (newest) ignores its request and is cancelled at 1 + 5,
    # cleaned up at 6.5; then w, asked at 6.5, finishes its work at 8.5; then all
    # restart in start order
    assert [line for line in log if 0 < line[0] < 10] == [
        (6.5, "x cleaned"),
        (8.5, "w done"),
        (8.5, "w start"),
        (8.5, "x start"),
        (8.5, "z start"),
    ]


async def test_a_restarted_child_keeps_its_place_in_a_group_restart(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as sup:
        await sup.start_child(child(log, "a"), name="a")
        await sup.start_child(child(log, "b"), name="b")
        await sup.start_child(flaky_boot(log, "c", [True]), name="c")
        await sup.terminate_child("a")
        await sup.restart_child("a")  # a new task (a higher id), in a's place
        await trio.sleep(5)
        assert [i.handle.name for i in sup.which_children()] == ["a", "b", "c"]
        sup.cancel()
    # c crashes at 1: b then a are stopped, newest first by start order (a is
    # older than b, though its task is newer); then a, b, c start in that order
    assert [line for line in log if 0.5 < line[0] < 5] == [
        (1.5, "b cleaned"),
        (2.0, "a cleaned"),
        (2.0, "a start"),
        (2.0, "b start"),
        (2.0, "c start"),
    ]


async def test_a_kept_child_that_never_started_restarts_last_with_the_group(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    async with open_supervisor(
        strategy=Strategy.ONE_FOR_ALL, max_concurrent=2, max_pending=1
    ) as sup:
        await sup.start_child(flaky_boot(log, "a", [True]), name="a")
        await sup.start_child(child(log, "b"), name="b")

        async def start_late() -> None:
            with pytest.raises(TaskCancelled):
                await sup.start_child(child(log, "late"), name="late")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(start_late)  # no slot: it waits, PENDING
            await trio.testing.wait_all_tasks_blocked()
            await sup.terminate_child("late")  # kept, never started
        await trio.sleep(5)
        infos = sup.which_children()
        assert [(i.id, i.handle.status, i.handle.name) for i in infos] == [
            ("a", S.RUNNING, "a"),
            ("b", S.RUNNING, "b"),
            ("late", S.PENDING, "late"),  # started with the group: waits for a slot
        ]
        sup.cancel()


async def test_a_temporary_sibling_in_the_middle_ends_and_the_rest_restart(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []

    async def fails_when_stopped() -> None:
        try:
            await trio.sleep_forever()
        finally:
            raise ValueError("failed in cleanup")

    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as sup:
        a = await sup.start_child(flaky_boot(log, "a", [True]), name="a")
        t = sup.submit_nowait(fails_when_stopped)  # TEMPORARY, started after a
        await trio.sleep(0.5)
        c = await sup.start_child(child(log, "c"), name="c")
        await trio.sleep(5)
        # t is stopped for good, and ended as it did: FAILED, its own error
        assert t.status is S.FAILED
        assert str(t.exception) == "failed in cleanup"
        assert [(h.status, h.attempts) for h in (a, c)] == [
            (S.RUNNING, 2),
            (S.RUNNING, 2),
        ]
        sup.cancel()


async def test_a_leader_cancelled_during_its_backoff_keeps_the_held_children(
    autojump_clock: trio.testing.MockClock,
) -> None:
    from supervisor import Backoff

    log: Log = []
    async with open_supervisor(strategy=Strategy.REST_FOR_ONE) as sup:
        b = await sup.start_child(
            flaky_boot(log, "b", [True]),
            name="b",
            backoff=Backoff(initial=2, jitter=0),
        )
        c = await sup.start_child(child(log, "c"), name="c")
        # b crashes at 1; c is stopped (to 1.5); the group restart waits out b's
        # backoff, to 3.5. b is cancelled meanwhile, at 2.
        await trio.sleep(2)
        b.cancel()
        await trio.sleep(3)
        assert (b.status, b.completed_at) == (S.CANCELLED, 2)
        assert (c.status, c.completed_at, c.attempts) == (S.CANCELLED, 3.5, 1)
        assert [i.id for i in sup.which_children()] == ["c"]  # kept
        sup.cancel()


async def test_a_group_restart_whose_leader_ended_while_it_waited_does_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []

    async def ignores_its_stop(*, task_status: Any) -> None:
        log.append((trio.current_time(), "b start"))
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(0.5)

    async with open_supervisor(strategy=Strategy.REST_FOR_ONE) as sup:
        x = await sup.start_child(flaky_boot(log, "x", [True]), name="x")
        await trio.sleep(0.5)
        a = await sup.start_child(flaky_boot(log, "a", [True]), name="a")
        b = await sup.start_child(ignores_its_stop, name="b", shutdown=4)
        # x crashes at 1: its group restart stops b (asked at 1, cancelled at 5,
        # cleaned at 5.5) and a; a crashes at 1.5, before it is stopped: its group
        # restart waits for the first one. a is cancelled at 2, while it waits.
        await trio.sleep(1.5)
        a.cancel()
        await trio.sleep(10)
        assert a.status is S.CANCELLED
        assert [(h.status, h.attempts) for h in (x, b)] == [
            (S.RUNNING, 2),
            (S.RUNNING, 2),
        ]
        sup.cancel()


async def test_a_child_cancelled_while_it_waits_for_a_slot_stops_the_group_there(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []

    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL, max_concurrent=3) as sup:
        a = await sup.start_child(flaky_boot(log, "a", [True]), name="a")
        b = await sup.start_child(slow_to_stop(1), name="b")
        c = await sup.start_child(child(log, "c"), name="c")
        # a crashes at 1; c is stopped (cleanup to 1.5), then b (to 2.5); at 1.5
        # two new tasks take two of the three slots, so at 2.5 a restarts and b
        # waits for a slot
        await trio.sleep(1.5)
        sup.submit_nowait(trio.sleep_forever)
        sup.submit_nowait(trio.sleep_forever)
        await trio.sleep(1.5)
        assert (a.status, b.status, c.status) == (S.RUNNING, S.RESTARTING, S.RESTARTING)
        b.cancel()  # at 3: it ended for good before it was ready
        await trio.testing.wait_all_tasks_blocked()
        assert (c.status, c.completed_at, c.attempts) == (S.CANCELLED, 3, 1)
        assert [i.id for i in sup.which_children()] == ["a", "c"]  # c is kept
        sup.cancel()


async def test_a_kept_actor_whose_name_is_taken_stays_kept_in_a_group_restart(
    autojump_clock: trio.testing.MockClock,
) -> None:
    from supervisor import Actor

    class Echo(Actor[str, str]):
        async def handle(self, message: str) -> str:
            return message

    log: Log = []
    go = trio.Event()

    async def subtree(*, task_status: Any) -> None:
        # a supervisor further down the tree takes the name, once told to
        async with open_supervisor(name="inner") as inner:
            task_status.started()
            await go.wait()
            await inner.spawn_actor(Echo, name="w")
            await trio.sleep_forever()

    async with open_supervisor(strategy=Strategy.REST_FOR_ONE) as sup:
        await sup.start_child(subtree, name="subtree")
        await sup.start_child(flaky_boot(log, "a", [True]), name="a")
        ref = await sup.spawn_actor(Echo, name="w")
        await sup.terminate_child("w")
        z = await sup.start_child(child(log, "z"), name="z")
        go.set()
        await trio.sleep(5)  # a crashed at 1: its group restart (a, w, z) keeps w
        infos = sup.which_children()
        assert [(i.id, i.handle.status) for i in infos] == [
            ("subtree", S.RUNNING),
            ("a", S.RUNNING),
            ("w", S.CANCELLED),
            ("z", S.RUNNING),
        ]
        assert z.attempts == 2  # the children after w restart all the same
        assert infos[2].handle is ref.handle
        other = sup.whereis("w")
        assert other is not None
        assert other is not ref
        assert await other.call("still there") == "still there"
        sup.cancel()


async def test_a_group_restart_that_stops_early_leaves_a_pending_leader_alone(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []

    async with open_supervisor(strategy=Strategy.REST_FOR_ONE) as sup:
        b = await sup.start_child(
            flaky_boot(log, "b", [True, False]), name="b", max_attempts=2
        )
        c = await sup.start_child(flaky_boot(log, "c", []), name="c")
        await trio.sleep(0.5)
        c_crash = await sup.start_child(flaky_boot(log, "c2", [True]), name="c2")
        d = await sup.start_child(slow_to_stop(2), name="d")
        # b crashes at 1: its group restart stops d (cleanup to 3), then c2 and c.
        # c2 crashes at 1.5, on its own, before it is stopped: its restart waits
        # for its own group restart. Then b's second boot fails at 3.25 and b has
        # no attempt left: the children held back after b end CANCELLED and kept
        # (c, d), but c2's own pending restart is not theirs to end.
        await trio.sleep(10)
        assert (b.status, b.completed_at) == (S.FAILED, 3.25)
        assert [(h.status, h.completed_at) for h in (c, d)] == [
            (S.CANCELLED, 3.25),
            (S.CANCELLED, 3.25),
        ]
        assert (c_crash.status, c_crash.attempts) == (S.RUNNING, 2)
        sup.cancel()
