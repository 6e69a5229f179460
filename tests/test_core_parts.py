"""The composed core: what its parts promise each other.

A plain task's attempt takes a route of its own, for the hot path
(``_attempt.run_plain`` with the table's ``start_plain`` and ``complete_plain``); it
must record exactly what the general route (``run_attempt``) does. ``health()`` only reads. The
status indexes move with the status, whatever path a task takes.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from supervisor import (
    AutoShutdown,
    Backoff,
    Restart,
    Strategy,
    TaskEvent,
    TaskStatus,
    _attempt,
    current_handle,
    open_supervisor,
)

from .helpers import sleep_then, sleep_then_raise

pytestmark = pytest.mark.trio


async def _the_general_route(core: Any, h: Any) -> None:
    """``run_plain`` the long way: the route every other attempt takes."""
    await _attempt.run_attempt(core, h)


def _event(e: TaskEvent, t0: float) -> tuple[Any, ...]:
    return (e.task_id, e.name, e.old, e.new, e.at - t0, e.attempt, repr(e.exception))


async def _plain_burst() -> tuple[list[tuple[Any, ...]], ...]:
    """Plain tasks through a limit, a queue, a failure and a drain: what they
    recorded, the times counted from the start."""
    t0 = trio.current_time()
    events: list[TaskEvent] = []
    async with open_supervisor(max_concurrent=3, on_event=events.append) as sup:
        handles = [sup.submit_nowait(sleep_then, 1 + i % 3, i) for i in range(10)]
        handles.append(sup.submit_nowait(sleep_then_raise, 2, ValueError("x")))
        await trio.sleep(2.5)
        reports = [sup.health()]
    reports.append(sup.health())
    records = [
        (h.status, h.started_at - t0, h.completed_at - t0, h.attempts)  # type: ignore[operator]
        for h in handles
    ]
    summaries = [
        (
            r.completed,
            r.failed,
            r.pending,
            r.running,
            r.waiting,
            r.recent_finished,
            r.recent_failed,
        )
        for r in reports
    ]
    # Per task, in order (trio orders tasks that wake at the same time at random).
    return sorted((_event(e, t0) for e in events), key=repr), records, summaries


async def test_the_plain_path_agrees_with_the_general_one(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    inlined = await _plain_burst()
    monkeypatch.setattr(_attempt, "run_plain", _the_general_route)
    general = await _plain_burst()
    assert inlined == general
    assert inlined[2] == [(3, 0, 5, 3, 5, 3, 0), (10, 1, 0, 0, 0, 11, 1)]


async def test_health_only_reads(autojump_clock: trio.testing.MockClock) -> None:
    """health() reads the oldest waiting task in O(1) and changes nothing: the
    writers keep the queue's front entry a live one."""
    async with open_supervisor(max_concurrent=1) as sup:
        sup.submit_nowait(trio.sleep_forever)
        first = [sup.submit_nowait(trio.sleep_forever) for _ in range(3)]
        await trio.sleep(1)
        sup.submit_nowait(trio.sleep_forever)
        sup.submit_nowait(trio.sleep_forever)
        for h in first:
            h.cancel()  # the three oldest entries are dead now
        await trio.sleep(1)
        table = sup._core.table
        before = (list(table.queue), table.n_queued, dict(table.active))
        report = sup.health()
        assert (list(table.queue), table.n_queued, dict(table.active)) == before
        assert report.waiting == 2
        assert report.oldest_pending_age == 1  # the live ones', not the dead ones' 2
        sup.cancel()


async def test_the_status_indexes_move_with_the_status(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Every RUNNING task is in running_since and every RESTARTING one in
    restarting, after every event, on every path (restarts with a backoff, group
    restarts, cancels of waiting tasks, terminate_child)."""
    seen: list[tuple[float, TaskStatus]] = []
    out_of_step: list[TaskEvent] = []  # (an on_event hook's errors are only logged)

    def check(event: TaskEvent) -> None:
        table = sup_ref[0]._core.table
        live = table.live()
        running = {h._id for h in live if h.status is TaskStatus.RUNNING}
        restarting = {h._id for h in live if h.status is TaskStatus.RESTARTING}
        if set(table.running_since) != running or set(table.restarting) != restarting:
            out_of_step.append(event)
        seen.append((event.at, event.new))

    sup_ref: list[Any] = []
    flaky = Backoff(initial=1, jitter=0)
    async with open_supervisor(
        strategy=Strategy.ONE_FOR_ALL, on_event=check, max_restarts=10
    ) as sup:
        sup_ref.append(sup)
        await sup.start_child(_ready_then_sleep, name="a")
        b = await sup.start_child(
            _ready_then_crash, name="b", backoff=flaky, restart=Restart.TRANSIENT
        )
        waiting = sup.submit_nowait(trio.sleep_forever, restart=Restart.PERMANENT)
        await trio.sleep(2.5)
        await sup.terminate_child("a")
        waiting.cancel()
        await trio.sleep(3)
        b.cancel()
    assert out_of_step == []
    assert (1, TaskStatus.RESTARTING) in seen
    assert len(seen) > 15


async def _ready_then_sleep(*, task_status: Any) -> None:
    task_status.started()
    await trio.sleep_forever()


async def _ready_then_crash(*, task_status: Any) -> None:
    task_status.started()
    await trio.sleep(1)
    raise ValueError("crash")


class _Spawned(trio.abc.Instrument):
    """The names of the trio tasks spawned while it is attached."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def task_spawned(self, task: trio.lowlevel.Task) -> None:
        self.names.append(task.name)


async def _cancel_then_return(scope: trio.CancelScope) -> str:
    scope.cancel()  # no checkpoint follows: the attempt completes
    return "done"


@pytest.mark.task_runners
async def test_a_slot_is_freed_not_handed_on_once_the_runners_are_cancelled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A plain task that completes after a scope around the block was cancelled
    frees its slot: no runner starts for the task waiting for it, which could
    only end CANCELLED at its first step."""
    spawned = _Spawned()
    trio.lowlevel.add_instrument(spawned)
    try:
        with trio.CancelScope() as outer:
            async with open_supervisor(max_concurrent=1) as sup:
                first = sup.submit_nowait(_cancel_then_return, outer, name="first")
                queued = sup.submit_nowait(trio.sleep, 0, name="queued")
                await trio.sleep(1)
    finally:
        trio.lowlevel.remove_instrument(spawned)
    assert first.status is TaskStatus.COMPLETED
    assert queued.status is TaskStatus.CANCELLED
    assert "first" in spawned.names
    assert "queued" not in spawned.names


async def _record_task_name(names: list[str]) -> None:
    names.append(trio.lowlevel.current_task().name)


@pytest.mark.task_runners
async def test_each_attempt_runs_in_a_trio_task_named_after_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """With task runners each attempt's trio task bears the task's name (what
    trio's task tree and instruments show), whichever route started it: a plain
    task at once, a named one, and a plain one that waited for its slot."""
    names: list[str] = []
    async with open_supervisor(max_concurrent=1) as sup:
        sup.submit_nowait(_record_task_name, names)
        sup.submit_nowait(_record_task_name, names, name="named")
        sup.submit_nowait(_record_task_name, names)
    assert names == ["_record_task_name", "named", "_record_task_name"]


async def test_a_plain_task_of_a_strategy_supervisor_is_not_significant(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A plain task submitted to a strategy supervisor with an auto shutdown ends
    by itself without shutting it down: only ``significant=True`` does."""
    reached = []
    async with open_supervisor(
        strategy=Strategy.ONE_FOR_ALL, auto_shutdown=AutoShutdown.ANY_SIGNIFICANT
    ) as sup:
        await sup.start_child(
            _ready_then_sleep, significant=True, restart=Restart.TRANSIENT
        )
        h = sup.submit_nowait(sleep_then, 1, "done")
        await trio.sleep(2)
        reached.append(h.status)  # not reached if the block's body was cancelled
        sup.cancel()
    assert reached == [TaskStatus.COMPLETED]


async def _hold_until_cancelled(cleaned: list[float]) -> None:
    try:
        await trio.sleep_forever()
    finally:
        cleaned.append(trio.current_time())


async def test_a_task_handed_a_slot_is_no_longer_waiting(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A task that waited for a slot and got it from a runner that finished is
    running, not waiting, whether it waited to start (PENDING) or to restart
    (RESTARTING): cancelling it cancels its attempt, whose cleanup runs, and
    the counts stay right."""
    cleaned: list[float] = []
    async with open_supervisor(max_concurrent=1) as sup:
        # t=1: ``first`` fails and hands its slot to ``second``.
        sup.submit_nowait(sleep_then_raise, 1, ValueError("first"))
        second = sup.submit_nowait(_hold_until_cancelled, cleaned, name="second")
        await trio.sleep(1.5)
        assert second.status is TaskStatus.RUNNING
        second.cancel()
        await trio.sleep(0.5)
        assert (second.status, cleaned) == (TaskStatus.CANCELLED, [1.5])
        # A restart that waited for the slot: ``again`` runs from t=2, fails at
        # t=3 and wants its slot back at t=4, while ``busy`` holds it from t=3.5
        # to t=5.5.
        again = sup.submit_nowait(
            _fail_once_then_hold,
            cleaned,
            restart=Restart.TRANSIENT,
            backoff=Backoff(initial=1, jitter=0),
        )
        await trio.sleep(1.5)
        sup.submit_nowait(sleep_then, 2, "busy")
        await trio.sleep(2.5)  # t=6
        assert (again.status, again.attempts) == (TaskStatus.RUNNING, 2)
        again.cancel()
        await trio.sleep(0.5)
        assert (again.status, cleaned) == (TaskStatus.CANCELLED, [1.5, 6])
        report = sup.health()
        assert (report.running, report.waiting, report.restarting) == (0, 0, 0)


async def test_a_task_cancelled_as_it_is_handed_a_slot_leaves_the_counts_right(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """At t=1 ``a`` ends and hands its slot to ``b``, while ``c`` cancels ``b``:
    before ``b``'s runner ran, or before ``b`` got the slot (trio orders the
    tasks that wake together either way, so the scenario repeats to see both).
    Either way ``b`` never runs, ``d`` gets the next slot, and nothing is
    counted as waiting twice."""
    for _ in range(16):
        async with open_supervisor(max_concurrent=2) as sup:
            handles: dict[str, Any] = {}

            async def cancel_b(handles: dict[str, Any]) -> None:
                await trio.sleep(1)
                handles["b"].cancel()

            once = Restart.TRANSIENT  # the general route: the slot is handed on there
            sup.submit_nowait(trio.sleep, 1, restart=once)
            sup.submit_nowait(cancel_b, handles, restart=once)
            handles["b"] = sup.submit_nowait(trio.sleep_forever, restart=once)
            d = sup.submit_nowait(trio.sleep_forever, restart=once)
            await trio.sleep(1.5)
            assert (handles["b"].status, d.status) == (
                TaskStatus.CANCELLED,
                TaskStatus.RUNNING,
            )
            report = sup.health()
            assert (report.running, report.waiting) == (1, 0)
            sup.cancel()


async def _fail_once_then_hold(cleaned: list[float]) -> None:
    h = current_handle()
    assert h is not None
    if h.attempts == 1:
        await trio.sleep(1)
        raise ValueError("once")
    await _hold_until_cancelled(cleaned)


async def test_a_plain_task_s_events_bear_its_name(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events: list[TaskEvent] = []
    async with open_supervisor(max_concurrent=1, on_event=events.append) as sup:
        sup.submit_nowait(sleep_then, 1, "a")
        sup.submit_nowait(sleep_then, 1, "b")  # waits for the slot
    assert [(e.task_id, e.name, e.new) for e in events] == [
        (1, "sleep_then", TaskStatus.PENDING),
        (2, "sleep_then", TaskStatus.PENDING),
        (1, "sleep_then", TaskStatus.RUNNING),
        (1, "sleep_then", TaskStatus.COMPLETED),
        (2, "sleep_then", TaskStatus.RUNNING),
        (2, "sleep_then", TaskStatus.COMPLETED),
    ]


async def test_cancelled_waiting_tasks_leave_a_bounded_queue(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Cancelled waiting tasks leave dead entries behind (skipped later); once
    they outnumber the live ones by more than the slack, the queue is compacted
    to its live entries, so cancels never make it grow without bound."""
    async with open_supervisor(max_concurrent=1) as sup:
        sup.submit_nowait(trio.sleep_forever)
        waiting = [sup.submit_nowait(trio.sleep_forever) for _ in range(100)]
        table = sup._core.table
        lengths = []
        for h in reversed(waiting[18:]):  # newest first: no dead front entries
            h.cancel()
            lengths.append((table.n_queued, len(table.queue)))
        # 100 entries stay until they exceed 2 * live + 64: at 17 live ones.
        assert lengths[81] == (18, 100)
        waiting[17].cancel()
        assert (table.n_queued, len(table.queue)) == (17, 17)
        assert all(q._queued for q in table.queue)
        assert sup.health().waiting == 17
        sup.cancel()


async def test_a_cancelled_waiting_task_makes_room_for_a_blocked_submitter(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=1, max_pending=1) as sup:
        sup.submit_nowait(trio.sleep_forever)
        queued = sup.submit_nowait(trio.sleep_forever)
        admitted: list[float] = []

        async def submit_when_room() -> None:
            await sup.submit(trio.sleep_forever)
            admitted.append(trio.current_time())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(submit_when_room)
            await trio.sleep(1)
            assert admitted == []  # blocked: the queue is full
            queued.cancel()
        assert admitted == [1]
        sup.cancel()


@pytest.mark.parametrize("restart", [Restart.TEMPORARY, Restart.TRANSIENT])
async def test_a_waiting_task_that_gets_a_slot_makes_room_for_a_blocked_submitter(
    autojump_clock: trio.testing.MockClock, restart: Restart
) -> None:
    """On the plain route and on the general one: at t=2 ``first`` ends, the
    queued task takes its slot, and the submitter blocked on the full queue is
    admitted at once."""
    async with open_supervisor(max_concurrent=1, max_pending=1) as sup:
        sup.submit_nowait(trio.sleep, 2, restart=restart)
        sup.submit_nowait(trio.sleep_forever, restart=restart)
        admitted: list[float] = []

        async def submit_when_room() -> None:
            await sup.submit(trio.sleep_forever, restart=restart)
            admitted.append(trio.current_time())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(submit_when_room)
            await trio.sleep(1)
            assert admitted == []  # blocked: the queue is full
        assert admitted == [2]
        sup.cancel()
