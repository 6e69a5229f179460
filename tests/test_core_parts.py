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
    Backoff,
    Restart,
    Strategy,
    TaskEvent,
    TaskStatus,
    _attempt,
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
