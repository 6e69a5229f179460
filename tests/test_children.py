"""Children: ids, terminate/restart/delete, which_children, per-child shutdown and
stop requests (API.md, "Children"). Exact virtual time, on trio."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from supervisor import (
    Actor,
    ChildInfo,
    ChildNotFound,
    ChildRunning,
    Restart,
    Strategy,
    SupervisorClosed,
    TaskCancelled,
    TaskEvent,
    TaskFailed,
    TaskHandle,
    TaskStatus,
    current_handle,
    open_supervisor,
)

pytestmark = pytest.mark.trio
S = TaskStatus


async def serve(*, task_status: Any) -> None:
    task_status.started()
    await trio.sleep_forever()


def honouring(log: list[tuple[float, str]], tag: str, cleanup: float = 0) -> Any:
    """A child that finishes its unit of work (1 s) once its stop is requested."""

    async def run(*, task_status: Any) -> None:
        h = current_handle()
        assert h is not None
        task_status.started()
        await h.wait_stop_requested()
        log.append((trio.current_time(), f"{tag} asked"))
        await trio.sleep(1)  # the unit of work in hand
        log.append((trio.current_time(), f"{tag} done"))

    return run


def ignoring(log: list[tuple[float, str]], tag: str) -> Any:
    """A child that ignores its stop request and runs until cancelled."""

    async def run(*, task_status: Any) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            log.append((trio.current_time(), f"{tag} cancelled"))

    return run


# -- ids --------------------------------------------------------------------------------


async def test_a_name_is_a_child_id_unique_among_live_and_kept_children(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        await sup.start_child(serve, name="db")
        with pytest.raises(ValueError, match="'db' is already the id of a child"):
            await sup.start_child(serve, name="db")
        await sup.terminate_child("db")  # kept: the id is still taken
        with pytest.raises(ValueError, match="'db'"):
            await sup.start_child(serve, name="db")
        sup.delete_child("db")  # forgotten: free again
        await sup.start_child(serve, name="db")
        # submit tasks and unnamed children have no id: names may repeat
        sup.submit_nowait(trio.sleep_forever, name="db")
        await sup.start_child(serve)
        await sup.start_child(serve)
        sup.cancel()


async def test_a_child_that_ends_by_itself_is_forgotten_and_frees_its_id(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def short(*, task_status: Any) -> None:
        task_status.started()
        await trio.sleep(1)

    async with open_supervisor() as sup:
        h = await sup.start_child(short, name="job", restart=Restart.TRANSIENT)
        await h.wait()
        assert h.status is S.COMPLETED
        assert sup.which_children() == []
        with pytest.raises(ChildNotFound, match="no child with id 'job'"):
            await sup.restart_child("job")
        await sup.start_child(short, name="job", restart=Restart.TRANSIENT)


async def test_unknown_ids_and_foreign_handles_raise_child_not_found(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as other:
        foreign = other.submit_nowait(trio.sleep_forever)
        async with open_supervisor() as sup:
            for call in (sup.terminate_child, sup.restart_child):
                with pytest.raises(ChildNotFound, match="'nope'"):
                    await call("nope")
                with pytest.raises(ChildNotFound, match="not a task of supervisor"):
                    await call(foreign)
            with pytest.raises(ChildNotFound):
                sup.delete_child("nope")
            with pytest.raises(TypeError, match="child id \\(str\\) or a TaskHandle"):
                sup.delete_child(3)  # type: ignore[arg-type]
            assert issubclass(ChildNotFound, LookupError)
        other.cancel()


# -- terminate, restart, delete ---------------------------------------------------------


async def test_terminate_child_stops_it_for_good_and_keeps_its_spec(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events: list[TaskEvent] = []
    async with open_supervisor(on_event=events.append) as sup:
        first = await sup.start_child(serve, name="a")
        b = await sup.start_child(serve, name="b")
        await trio.sleep(1)
        await sup.terminate_child("a")
        assert (first.status, first.completed_at) == (S.CANCELLED, 1)
        assert sup.health().restarts_in_period == 0  # no restart decision
        assert [e.new for e in events if e.task_id == first.id] == [
            S.PENDING,
            S.RUNNING,
            S.CANCELLED,
        ]
        assert sup.which_children() == [
            ChildInfo("a", first, Restart.PERMANENT, 0, False),
            ChildInfo("b", b, Restart.PERMANENT, 0, False),
        ]
        await sup.terminate_child("a")  # already terminated: nothing to do
        await sup.terminate_child(first)
        await trio.sleep(1)
        again = await sup.restart_child("a")
        assert again is not first
        assert (again.id, again.attempts, again.started_at) == (3, 1, 2)
        # a new task that keeps a's place in start order
        assert [c.handle for c in sup.which_children()] == [again, b]
        sup.cancel()


async def test_restart_and_delete_of_a_live_child_raise_child_running(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        h = await sup.start_child(serve, name="a")
        with pytest.raises(ChildRunning, match="RUNNING; terminate it first"):
            await sup.restart_child("a")
        with pytest.raises(ChildRunning):
            sup.delete_child(h)
        assert h.status is S.RUNNING
        sup.cancel()


async def test_terminating_a_temporary_child_drops_its_spec(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        h = await sup.start_child(serve, name="t", restart=Restart.TEMPORARY)
        await sup.terminate_child(h)
        assert h.status is S.CANCELLED
        assert sup.which_children() == []
        with pytest.raises(ChildNotFound):
            await sup.restart_child("t")


async def test_terminate_child_of_a_submitted_task_and_of_a_waiting_one(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=1) as sup:
        running = sup.submit_nowait(trio.sleep_forever)
        queued = sup.submit_nowait(trio.sleep_forever)
        await sup.terminate_child(queued)
        assert (queued.status, queued.started_at) == (S.CANCELLED, None)
        await sup.terminate_child(running)
        assert running.status is S.CANCELLED
        assert sup.which_children() == []  # submit tasks are not children


async def test_terminate_child_of_a_child_waiting_out_its_backoff(
    autojump_clock: trio.testing.MockClock,
) -> None:
    from supervisor import Backoff

    async def crashes(*, task_status: Any) -> None:
        task_status.started()
        await trio.sleep(1)
        raise ValueError("down")

    async with open_supervisor() as sup:
        h = await sup.start_child(
            crashes, name="c", backoff=Backoff(initial=5, jitter=0)
        )
        await trio.sleep(2)
        assert h.status is S.RESTARTING
        await sup.terminate_child("c")
        assert (h.status, h.completed_at, h.attempts) == (S.CANCELLED, 2, 1)
        assert [c.id for c in sup.which_children()] == ["c"]  # kept


async def test_restart_child_raises_like_start_child_and_forgets_a_failed_start(
    autojump_clock: trio.testing.MockClock,
) -> None:
    boots = 0

    async def boots_once(*, task_status: Any) -> None:
        nonlocal boots
        boots += 1
        if boots > 1:
            raise ValueError("no second boot")
        task_status.started()
        await trio.sleep_forever()

    async with open_supervisor() as sup:
        await sup.start_child(boots_once, name="x", max_attempts=1)
        await sup.terminate_child("x")
        with pytest.raises(TaskFailed, match="failed before it was ready") as info:
            await sup.restart_child("x")
        assert isinstance(info.value.__cause__, ValueError)
        assert sup.which_children() == []


async def test_restart_child_after_close_raises_and_keeps_the_spec(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        await sup.start_child(serve, name="a")
        keep = await sup.start_child(serve, name="keep")
        await sup.terminate_child("a")
        sup.cancel()
        with pytest.raises(SupervisorClosed):
            await sup.restart_child("a")
        assert [c.id for c in sup.which_children()] == ["a", "keep"]
    assert keep.status is S.CANCELLED


async def test_cancelled_terminate_child_cancels_the_child_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[tuple[float, str]] = []
    async with open_supervisor() as sup:
        h = await sup.start_child(ignoring(log, "x"), shutdown=10)
        with trio.move_on_after(2):
            await sup.terminate_child(h)
        await h.wait()
        assert (h.status, h.completed_at) == (S.CANCELLED, 2)
    assert log == [(2, "x cancelled")]


class Counter(Actor[str, int]):
    def __init__(self) -> None:
        self.n = 0

    async def handle(self, message: str) -> int:
        self.n += 1
        return self.n


async def test_a_terminated_actor_restarts_with_a_new_ref(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        ref = await sup.spawn_actor(Counter, name="counter")
        assert await ref.call("x") == 1
        await sup.terminate_child("counter")
        assert sup.whereis("counter") is None
        assert [c.id for c in sup.which_children()] == ["counter"]
        new_handle = await sup.restart_child("counter")
        new_ref = sup.whereis("counter")
        assert new_ref is not None
        assert new_ref is not ref
        assert new_ref.handle is new_handle
        assert await new_ref.call("x") == 1  # a fresh instance
        sup.cancel()


# -- per-child shutdown and stop requests ---------------------------------------------


async def test_current_handle_is_the_task_the_caller_runs_in(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: list[TaskHandle[Any] | None] = []

    async def who() -> None:
        seen.append(current_handle())

        async def inner() -> None:
            seen.append(current_handle())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(inner)

    assert current_handle() is None
    async with open_supervisor() as sup:
        h = sup.submit_nowait(who)
        await h.wait()
        assert current_handle() is None  # the block's body is no task of it
    assert seen == [h, h]


@pytest.mark.parametrize(
    ("shutdown", "honours", "ends"),
    [
        (0, True, (S.CANCELLED, 1)),  # cancelled at once: no time to finish
        (3, True, (S.COMPLETED, 2)),  # finishes its unit of work (1 s)
        (3, False, (S.CANCELLED, 4)),  # cancelled after 3 s
        (None, True, (S.COMPLETED, 2)),
    ],
)
async def test_terminate_child_follows_the_shutdown_policy(
    autojump_clock: trio.testing.MockClock,
    shutdown: float | None,
    honours: bool,
    ends: tuple[S, float],
) -> None:
    log: list[tuple[float, str]] = []
    make = honouring if honours else ignoring
    async with open_supervisor() as sup:
        h = await sup.start_child(make(log, "x"), name="x", shutdown=shutdown)
        assert h.shutdown == shutdown
        await trio.sleep(1)
        await sup.terminate_child("x")
        assert trio.current_time() == ends[1]  # returns once its cleanup is done
        assert (h.status, h.completed_at) == ends
        assert h.attempts == 1  # a PERMANENT child that returned: not restarted
        assert [c.id for c in sup.which_children()] == ["x"]


async def test_the_stop_request_is_cleared_when_a_new_attempt_starts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: list[tuple[float, bool]] = []

    async def stops_when_asked(*, task_status: Any) -> None:
        h = current_handle()
        assert h is not None
        seen.append((trio.current_time(), h.stop_requested))
        task_status.started()
        await h.wait_stop_requested()
        seen.append((trio.current_time(), h.stop_requested))

    async def crashes_once(*, task_status: Any) -> None:
        task_status.started()
        if not seen or seen[-1][0] < 1:
            await trio.sleep(1)
            raise ValueError("crash")
        await trio.sleep_forever()

    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as sup:
        a = await sup.start_child(stops_when_asked, shutdown=5)
        await sup.start_child(crashes_once)
        await trio.sleep(2)
        # the group restart at 1 asked a to stop; a returned, and restarted with
        # the group, its new attempt's request unset
        assert seen == [(0, False), (1, True), (1, False)]
        assert (a.status, a.attempts, a.stop_requested) == (S.RUNNING, 2, False)
        sup.cancel()


async def test_graceful_shutdown_stops_permanent_children_by_their_policy(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[tuple[float, str]] = []
    async with open_supervisor() as sup:
        a = await sup.start_child(honouring(log, "a"), shutdown=5)
        b = await sup.start_child(ignoring(log, "b"), shutdown=2)
        c = await sup.start_child(honouring(log, "c"), shutdown=0)
    # newest first, each after the previous one's cleanup: c at once, b after its 2
    # s, a finishes its unit of work; none restarted, all recorded as they ended
    assert log == [(0, "c asked"), (2, "b cancelled"), (2, "a asked"), (3, "a done")]
    assert [(h.status, h.completed_at, h.attempts) for h in (a, b, c)] == [
        (S.COMPLETED, 3, 1),
        (S.CANCELLED, 2, 1),
        (S.CANCELLED, 0, 1),
    ]


async def test_graceful_shutdown_asks_one_shot_tasks_to_stop(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def batch() -> int:
        h = current_handle()
        assert h is not None
        done = 0
        while not h.stop_requested:
            await trio.sleep(1)
            done += 1
        return done

    async with open_supervisor() as sup:
        h = sup.submit_nowait(batch)
        await trio.sleep(2.5)
    assert (h.status, await h.result(), h.completed_at) == (S.COMPLETED, 3, 3)


async def test_sup_cancel_ignores_the_shutdown_policy(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[tuple[float, str]] = []
    async with open_supervisor() as sup:
        h = await sup.start_child(honouring(log, "x"), shutdown=None)
        await trio.sleep(1)
        sup.cancel()
    assert (h.status, h.completed_at) == (S.CANCELLED, 1)
    assert log == []


async def test_per_child_shutdown_is_validated(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        bad: Any
        for bad, error in (
            (-1, ValueError),
            (float("nan"), ValueError),
            ("1", TypeError),
            (True, TypeError),
        ):
            with pytest.raises(error, match=r"^shutdown must"):
                sup.submit_nowait(trio.sleep, 1, shutdown=bad)
            with pytest.raises(error, match=r"^shutdown must"):
                await sup.start_child(serve, shutdown=bad)
            with pytest.raises(error, match=r"^shutdown must"):
                await sup.spawn_actor(Counter, name="c", shutdown=bad)
        assert sup.tasks() == []


async def test_a_supervisor_inside_a_stopped_task_shuts_down_gracefully(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[tuple[float, str]] = []

    async def subtree(*, task_status: Any) -> None:
        async with open_supervisor(name="inner") as inner:
            await inner.start_child(honouring(log, "leaf"), shutdown=5)
            task_status.started()
            try:
                await trio.sleep_forever()
            finally:
                log.append((trio.current_time(), "body cancelled"))
        log.append((trio.current_time(), "inner exited"))  # type: ignore[unreachable]  # the block ends the body

    async with open_supervisor() as sup:
        h = await sup.start_child(subtree, name="subtree", shutdown=None)
        await trio.sleep(1)
        await sup.terminate_child("subtree")
        assert (h.status, h.completed_at) == (S.COMPLETED, 2)
    assert log == [
        (1, "body cancelled"),
        (1, "leaf asked"),
        (2, "leaf done"),
        (2, "inner exited"),
    ]


async def test_a_deleted_child_is_not_found_by_its_last_handle(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Found by property_tests/test_children_model.py: the second delete_child of
    # an unnamed child, by its handle, raised KeyError.
    async with open_supervisor() as sup:
        h = await sup.start_child(serve)
        await sup.terminate_child(h)
        sup.delete_child(h)
        with pytest.raises(ChildNotFound, match="keeps no spec"):
            sup.delete_child(h)
        with pytest.raises(ChildNotFound):
            await sup.restart_child(h)
        assert sup.which_children() == []


async def test_a_child_being_restarted_counts_as_running(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=1, max_pending=0) as sup:
        await sup.start_child(serve, name="a")
        await sup.terminate_child("a")
        blocker = sup.submit_nowait(trio.sleep, 5)  # holds the only slot until 5
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sup.restart_child, "a")  # waits for room
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(ChildRunning):
                await sup.restart_child("a")
            with pytest.raises(ChildRunning):
                sup.delete_child("a")
        assert blocker.status is S.COMPLETED
        assert [(c.id, c.handle.status) for c in sup.which_children()] == [
            ("a", S.RUNNING)
        ]
        sup.cancel()


@pytest.mark.parametrize("restart", [Restart.TEMPORARY, Restart.TRANSIENT])
async def test_a_task_that_starts_during_a_drain_is_asked_to_stop(
    autojump_clock: trio.testing.MockClock, restart: Restart
) -> None:
    async def batch() -> float:
        h = current_handle()
        assert h is not None
        await h.wait_stop_requested()
        return trio.current_time()

    async with open_supervisor(max_concurrent=1) as sup:
        first = sup.submit_nowait(trio.sleep, 2)
        queued = sup.submit_nowait(batch, restart=restart)  # starts at 2, draining
    assert (first.completed_at, await queued.result()) == (2, 2)


async def test_a_permanent_task_restarted_during_a_drain_is_not_asked_to_stop_yet(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The drain's advice reaches one-shot attempts only: ``p`` restarts at t=1,
    while the drain waits for ``w``, and is asked to stop once it is over (t=5)."""
    asked_at_start: list[bool] = []

    async def p() -> float:
        h = current_handle()
        assert h is not None
        asked_at_start.append(h.stop_requested)
        if h.attempts == 1:
            await trio.sleep(1)
            raise ValueError("once")
        await h.wait_stop_requested()
        return trio.current_time()

    async with open_supervisor() as sup:
        perm = sup.submit_nowait(p, restart=Restart.PERMANENT)
        w = sup.submit_nowait(trio.sleep, 5)
        await trio.sleep(0.5)  # the block exits: the drain begins
    assert asked_at_start == [False, False]
    assert (w.completed_at, perm.attempts) == (5, 2)


# -- details that mutation testing asked about ------------------------------------------


async def test_which_children_lists_children_not_started_yet_last(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=1) as sup:
        await sup.start_child(serve, name="a")

        async def start_b() -> None:
            with pytest.raises(TaskCancelled):  # terminated before it was ready
                await sup.start_child(serve, name="b")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(start_b)
            await trio.testing.wait_all_tasks_blocked()
            infos = sup.which_children()
            assert [(i.id, i.handle.status) for i in infos] == [
                ("a", S.RUNNING),
                ("b", S.PENDING),
            ]
            await sup.terminate_child("b")  # kept, though it never started
            await sup.terminate_child("a")
            # started ones in start order, then the one that never started
            assert [i.id for i in sup.which_children()] == ["a", "b"]
            nursery.cancel_scope.cancel()


async def test_management_errors_name_the_call(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        await sup.start_child(serve, name="a")
        with pytest.raises(ChildRunning, match=r"^restart_child\(\): child 'a'"):
            await sup.restart_child("a")
        with pytest.raises(ChildRunning, match=r"^delete_child\(\): child 'a'"):
            sup.delete_child("a")
        with pytest.raises(ChildNotFound, match=r"^terminate_child\(\): supervisor"):
            await sup.terminate_child("b")
        with pytest.raises(ChildNotFound, match=r"^delete_child\(\): supervisor"):
            sup.delete_child("b")
        sup.cancel()


async def test_a_restart_child_cancelled_while_waiting_for_room_keeps_the_spec(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=1, max_pending=0) as sup:
        await sup.start_child(serve, name="a")
        await sup.terminate_child("a")
        sup.submit_nowait(trio.sleep_forever)  # holds the only slot
        with trio.move_on_after(1):
            await sup.restart_child("a")
        assert [(i.id, i.handle.status) for i in sup.which_children()] == [
            ("a", S.CANCELLED)
        ]
        sup.delete_child("a")  # still kept: it can be deleted (or restarted)
        sup.cancel()


async def test_which_children_describes_an_actor(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        ref = await sup.spawn_actor(
            Counter, name="counter", restart=Restart.TRANSIENT, shutdown=2
        )
        assert sup.which_children() == [
            ChildInfo("counter", ref.handle, Restart.TRANSIENT, 2, False)
        ]
        sup.cancel()


async def test_every_submit_call_takes_shutdown_and_significant(
    autojump_clock: trio.testing.MockClock,
) -> None:
    from supervisor import AutoShutdown

    async with open_supervisor(auto_shutdown=AutoShutdown.ALL_SIGNIFICANT) as sup:
        handles = [
            await sup.submit(trio.sleep_forever, shutdown=2, significant=True),
            sup.submit_nowait(trio.sleep_forever, shutdown=None, significant=True),
        ]
        assert [(h.shutdown, h.significant) for h in handles] == [
            (2, True),
            (None, True),
        ]
        for bad in (-1, "x"):
            with pytest.raises((ValueError, TypeError), match="shutdown"):
                await sup.submit(trio.sleep, 1, shutdown=bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="significant=True needs"):
            await sup.submit(trio.sleep, 1, restart=Restart.PERMANENT, significant=True)
        sup.cancel()


async def test_waiting_for_a_stop_request_in_a_plain_task(
    autojump_clock: trio.testing.MockClock,
) -> None:
    woken: list[str] = []

    async def plain() -> None:
        h = current_handle()
        assert h is not None
        await h.wait_stop_requested()
        woken.append("task")
        raise ValueError("fails after the request")

    async with open_supervisor() as sup:
        h = sup.submit_nowait(plain)  # no option: a plain task
        await trio.sleep(1)

        async def outside() -> None:
            await h.wait_stop_requested()
            woken.append("outside")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(outside)
            await trio.testing.wait_all_tasks_blocked()
            await sup.shutdown()  # its advice wakes both waiters
    assert sorted(woken) == ["outside", "task"]
    # a plain TEMPORARY task: its failure is not restarted
    assert (h.status, h.attempts, h.completed_at) == (S.FAILED, 1, 1)


async def test_a_short_shutdown_still_lets_a_quick_child_finish(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def quick_to_stop(*, task_status: Any) -> str:
        h = current_handle()
        assert h is not None
        task_status.started()
        await h.wait_stop_requested()
        await trio.sleep(0.25)
        return "finished"

    async with open_supervisor() as sup:
        h = await sup.start_child(quick_to_stop, shutdown=0.5)
        await sup.terminate_child(h)
        assert (h.status, h.completed_at, await h.result()) == (
            S.COMPLETED,
            0.25,
            "finished",
        )


async def test_two_stops_of_one_child_both_return_when_it_ends(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[tuple[float, str]] = []
    returned: list[float] = []
    async with open_supervisor() as sup:
        h = await sup.start_child(ignoring(log, "x"), shutdown=2)

        async def stop() -> None:
            await sup.terminate_child(h)
            returned.append(trio.current_time())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(stop)
            nursery.start_soon(stop)
    assert returned == [2, 2]
    assert (h.status, h.completed_at) == (S.CANCELLED, 2)


async def test_a_plain_task_is_stopped_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        plain = sup.submit_nowait(trio.sleep_forever)
        await trio.sleep(1)
        await sup.terminate_child(plain)  # shutdown=0: cancelled at once
        assert (plain.status, plain.completed_at) == (S.CANCELLED, 1)


async def test_an_old_handle_of_a_restarted_child_is_not_the_child(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        old = await sup.start_child(serve, name="a")
        await sup.terminate_child(old)
        new = await sup.restart_child(old)  # by its handle: it is still kept
        with pytest.raises(ChildNotFound, match="keeps no spec"):
            await sup.restart_child(old)
        with pytest.raises(ChildNotFound):
            sup.delete_child(old)
        await sup.terminate_child(old)  # ended long ago: nothing to do
        assert new.status is S.RUNNING
        sup.cancel()


async def test_a_child_id_is_checked_before_and_after_waiting_for_room(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=2, max_pending=0) as sup:
        blocker = sup.submit_nowait(trio.sleep, 2)
        sup.submit_nowait(trio.sleep, 2)  # at 2, both slots free up together
        results: list[str] = []

        async def start(tag: str) -> None:
            try:
                await sup.start_child(serve, name="db")
                results.append(f"{tag} started")
            except ValueError:
                results.append(f"{tag} refused")

        async with trio.open_nursery() as nursery:
            # both wait for room with the id free; the first to get it takes it
            nursery.start_soon(start, "first")
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(start, "second")
            await trio.testing.wait_all_tasks_blocked()
            assert results == []
            await blocker.wait()
            await trio.sleep(1)
            sup.submit_nowait(trio.sleep_forever)  # no room left
            # taken now: refused at once, without waiting for room
            with pytest.raises(ValueError, match="'db'"):
                await sup.start_child(serve, name="db")
            nursery.cancel_scope.cancel()
        # both got room at 2; whichever came second found the id taken
        assert sorted(r.split()[1] for r in results) == ["refused", "started"]
        sup.cancel()


async def test_spawn_actor_checks_significant(
    autojump_clock: trio.testing.MockClock,
) -> None:
    from supervisor import AutoShutdown

    async with open_supervisor() as sup:
        with pytest.raises(ValueError, match="auto_shutdown"):
            await sup.spawn_actor(
                Counter, name="c", restart=Restart.TRANSIENT, significant=True
            )
    async with open_supervisor(auto_shutdown=AutoShutdown.ANY_SIGNIFICANT) as sup:
        with pytest.raises(ValueError, match="TRANSIENT or TEMPORARY"):
            await sup.spawn_actor(Counter, name="c", significant=True)
        with pytest.raises(TypeError, match="significant must be a bool"):
            await sup.spawn_actor(Counter, name="c", significant="yes")  # type: ignore[arg-type]
        ref = await sup.spawn_actor(
            Counter, name="c", restart=Restart.TRANSIENT, significant=True
        )
        assert ref.handle.significant
        sup.cancel()


async def test_a_task_not_significant_never_shuts_down_the_supervisor(
    autojump_clock: trio.testing.MockClock,
) -> None:
    from supervisor import AutoShutdown

    async def waits_a_little() -> None:
        h = current_handle()
        assert h is not None
        with trio.move_on_after(1):
            await h.wait_stop_requested()

    async with open_supervisor(auto_shutdown=AutoShutdown.ANY_SIGNIFICANT) as sup:
        h = sup.submit_nowait(waits_a_little)  # plain, not significant
        await trio.sleep(2)
        assert (h.status, sup.closed) == (S.COMPLETED, False)
        assert sup.submit_nowait(trio.sleep, 1, significant=True).significant
        await trio.sleep(1000)  # cancelled when that one ends, at 3
    assert trio.current_time() == 3


async def test_shutdown_zero_cancels_before_the_child_runs_again(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def one_checkpoint_of_work(*, task_status: Any) -> str:
        h = current_handle()
        assert h is not None
        task_status.started()
        await h.wait_stop_requested()
        await trio.lowlevel.checkpoint()  # where the cancel lands
        return "finished"

    async with open_supervisor() as sup:
        handles = [await sup.start_child(one_checkpoint_of_work) for _ in range(20)]
        for h in handles:
            await sup.terminate_child(h)  # shutdown=0: "at once"
    # every one of them, whatever order trio runs a batch in
    assert {h.status for h in handles} == {S.CANCELLED}


async def test_a_plain_task_with_only_a_shutdown_keeps_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[tuple[float, str]] = []

    async def ignores() -> None:
        try:
            await trio.sleep_forever()
        finally:
            log.append((trio.current_time(), "cancelled"))

    async with open_supervisor() as sup:
        h = sup.submit_nowait(ignores, shutdown=2)  # TEMPORARY, no other option
        assert h.shutdown == 2
        await trio.sleep(1)
        await sup.terminate_child(h)
    assert log == [(3, "cancelled")]


async def test_a_task_not_started_at_an_outer_cancel_ends_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def slow_cleanup() -> None:
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(2)

    with trio.CancelScope() as outer:
        async with open_supervisor() as sup:
            sup.submit_nowait(slow_cleanup)
            await trio.sleep(1)
            late = sup.submit_nowait(trio.sleep_forever)  # scheduled, not started
            outer.cancel()
            with trio.CancelScope(shield=True):
                # late's runner takes its first step before the body notices
                await trio.testing.wait_all_tasks_blocked()
            await trio.sleep_forever()
    # at the cancel, not when the block exits after the other's cleanup (at 3)
    assert (late.status, late.started_at, late.completed_at) == (S.CANCELLED, None, 1)


async def test_a_stop_that_lands_while_the_inner_block_opens(
    autojump_clock: trio.testing.MockClock,
) -> None:
    opened: list[float] = []

    async def subtree() -> None:
        async with open_supervisor(name="inner"):
            opened.append(trio.current_time())
            await trio.sleep_forever()

    async with open_supervisor() as sup:
        h = sup.submit_nowait(subtree, shutdown=None)
        # until the inner block has registered for its host's stop requests, and
        # waits for its own host task to start
        while not (h._extra is not None and h._extra.stop_hooks):
            await trio.lowlevel.checkpoint()
        await sup.terminate_child(h)
    # the inner block opened already stopping: its body was cancelled at its
    # first checkpoint, and the block exited gracefully
    assert (h.status, h.completed_at) == (S.COMPLETED, 0)
    assert opened == [0]


async def test_a_plain_task_reports_the_default_options(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        h = sup.submit_nowait(trio.sleep, 1)  # no option at all: no Extra record
        assert (h.restart, h.max_attempts, h.shutdown, h.significant) == (
            Restart.TEMPORARY,
            None,
            0,
            False,
        )
        assert h.stop_requested is False


async def test_a_task_failing_in_its_cleanup_while_the_supervisor_stops_is_not_restarted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def fails_in_cleanup() -> None:
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(1)
            raise ValueError("cleanup failed")

    async with open_supervisor() as sup:
        h = sup.submit_nowait(fails_in_cleanup, restart=Restart.TRANSIENT)
        await trio.sleep(1)
        sup.cancel()
    assert (h.status, h.attempts, h.completed_at) == (S.FAILED, 1, 2)


async def test_an_inner_block_stops_listening_to_its_task_when_it_exits(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hooks: list[int] = []

    async def opens_three_in_turn() -> None:
        h = current_handle()
        assert h is not None
        for _ in range(3):
            async with open_supervisor(name="inner"):
                pass
            extra = h._extra
            hooks.append(0 if extra is None else len(extra.stop_hooks or []))

    async with open_supervisor() as sup:
        await sup.submit_nowait(opens_three_in_turn).wait()
    assert hooks == [0, 0, 0]  # nothing left behind to grow without bound


async def test_a_stop_that_lands_while_the_inner_block_drains(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def subtree(*, task_status: Any) -> None:
        async with open_supervisor(name="inner") as inner:
            inner.submit_nowait(trio.sleep, 5)
            task_status.started()
        # the body left at once; the block drained until 5

    async with open_supervisor() as sup:
        h = await sup.start_child(subtree, shutdown=None)
        await trio.sleep(1)
        await sup.terminate_child(h)  # asked while the inner block drains
    assert (h.status, h.completed_at) == (S.COMPLETED, 5)


async def test_a_restarted_child_keeps_its_place_in_the_shutdown_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[tuple[float, str]] = []
    async with open_supervisor() as sup:
        await sup.start_child(honouring(log, "a"), name="a", shutdown=5)
        await sup.start_child(honouring(log, "b"), name="b", shutdown=5)
        await sup.terminate_child("a")  # asked at 0, done at 1
        await sup.restart_child("a")  # a new task, in a's place: before b
    # the exit stops PERMANENT children newest first by start order: b, then a
    assert log == [
        (0, "a asked"),
        (1, "a done"),
        (1, "b asked"),
        (2, "b done"),
        (2, "a asked"),
        (3, "a done"),
    ]


async def test_a_task_waiting_for_its_first_attempt_has_no_stop_request(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Its record exists (a name, a restart type) before any attempt starts; no
    stop was asked of it."""
    async with open_supervisor(max_concurrent=1) as sup:
        sup.submit_nowait(trio.sleep_forever, name="first")
        waiting = sup.submit_nowait(
            trio.sleep_forever, name="second", restart=Restart.PERMANENT
        )
        assert (waiting.status, waiting.stop_requested) == (S.PENDING, False)
        sup.cancel()
