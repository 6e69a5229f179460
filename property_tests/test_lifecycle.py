"""Randomized concurrent submit / cancel / fail / timeout / shutdown sequences.

Each example runs one ``trio.run`` on a ``MockClock(autojump_threshold=0)``; steps
are drawn interactively with ``data.draw`` so Hypothesis records and shrinks them.
Invariants are checked on every event (as it happens) and at the end.
"""

from __future__ import annotations

from typing import Any

import trio
import trio.testing
from hypothesis import given, note, strategies as st

from supervisor import (
    QueueFull,
    SupervisorClosed,
    TaskEvent,
    TaskHandle,
    TaskStatus,
    TaskTimeout,
    open_supervisor,
)
from supervisor._status import is_legal_transition
from supervisor.testing import hypothesis_scheduling

from .strategies import TaskSpec, run_spec, shutdown_modes, task_specs

S = TaskStatus


class BodyError(Exception):
    pass


class Checker:
    """Checks each event as it is emitted; keeps per-task histories.

    The supervisor logs and swallows exceptions of ``on_event`` hooks, so failed
    checks are collected in ``violations`` and asserted on by the test.
    """

    def __init__(self, max_concurrent: int | None, max_pending: int | None) -> None:
        self.max_concurrent = max_concurrent
        self.max_pending = max_pending
        self.histories: dict[int, list[TaskEvent]] = {}
        self.running: set[int] = set()
        self.sup: Any = None
        self.violations: list[str] = []

    def __call__(self, event: TaskEvent) -> None:
        try:
            self.check(event)
        except AssertionError as exc:
            self.violations.append(f"{event}: {exc!r}")

    def check(self, event: TaskEvent) -> None:
        history = self.histories.setdefault(event.task_id, [])
        old = history[-1].new if history else None
        assert event.old is old, (event, history)
        assert is_legal_transition(old, event.new), (old, event.new)
        if history:
            assert event.at >= history[-1].at, "transition times never decrease"
        history.append(event)
        if event.new is S.RUNNING:
            self.running.add(event.task_id)
        elif event.old is S.RUNNING:
            self.running.discard(event.task_id)
        if self.max_concurrent is not None:
            assert len(self.running) <= self.max_concurrent, "too many RUNNING"
        if self.sup is not None and self.max_pending is not None:
            assert self.sup.health().waiting <= self.max_pending, "too many waiting"


job = run_spec


@given(st.data())
def test_random_schedules_keep_the_lifecycle_valid(data: st.DataObject) -> None:
    check_random_schedule(data)


def check_random_schedule(data: st.DataObject) -> None:
    """The property itself; negative controls run it against broken supervisors."""
    max_concurrent = data.draw(st.none() | st.integers(1, 3), label="max_concurrent")
    max_pending = data.draw(st.none() | st.integers(0, 3), label="max_pending")
    grace = data.draw(st.none() | st.integers(0, 4), label="shutdown_grace")
    specs = data.draw(st.lists(task_specs, max_size=8), label="tasks")
    mode = data.draw(shutdown_modes, label="shutdown")
    checker = Checker(max_concurrent, max_pending)
    submitted: list[tuple[TaskHandle[Any], TaskSpec]] = []
    cancelled_by_us: set[int] = set()
    status_at_cancel: dict[int, TaskStatus] = {}
    net_fired = False

    async def canceller(handle: TaskHandle[Any], checkpoints: int) -> None:
        for _ in range(checkpoints):
            await trio.lowlevel.checkpoint()
        if not handle.done():
            cancelled_by_us.add(handle.id)
            status_at_cancel[handle.id] = handle.status
        handle.cancel()

    async def main() -> None:
        with trio.move_on_after(1000) as outer:
            async with trio.open_nursery() as helpers:
                try:
                    async with open_supervisor(
                        max_concurrent=max_concurrent,
                        max_pending=max_pending,
                        shutdown_grace=grace,
                        on_event=checker,
                    ) as sup:
                        checker.sup = sup
                        for spec in specs:
                            await trio.sleep(spec.submit_delay)
                            try:
                                h = sup.submit_nowait(job, spec, timeout=spec.timeout)
                            except QueueFull:
                                note("queue full")
                                continue
                            submitted.append((h, spec))
                            if spec.cancel_after is not None:
                                helpers.start_soon(canceller, h, spec.cancel_after)
                        if mode == "cancel":
                            sup.cancel()
                        elif mode == "grace":
                            await sup.shutdown(
                                grace=data.draw(st.integers(0, 4), label="grace")
                            )
                            with_closed = False
                            try:
                                sup.submit_nowait(
                                    job, TaskSpec(0, "return", None, None, 0)
                                )
                            except SupervisorClosed:
                                with_closed = True
                            assert with_closed
                        elif mode == "outer":
                            await trio.sleep(
                                data.draw(st.integers(0, 5), label="outer at")
                            )
                            outer.cancel()
                            await trio.sleep_forever()
                        elif mode == "body_raises":
                            await trio.sleep(
                                data.draw(st.integers(0, 5), label="raise at")
                            )
                            raise BodyError
                except BodyError:  # escapes bare: see the exception-group policy
                    assert mode == "body_raises"
        nonlocal net_fired
        net_fired = outer.cancelled_caught and mode != "outer"
        assert sup.tasks() == []
        report = sup.health()
        assert report.running == report.pending == 0
        counts = {s: sum(1 for h, _ in submitted if h.status is s) for s in S}
        assert (report.completed, report.failed, report.cancelled) == (
            counts[S.COMPLETED],
            counts[S.FAILED],
            counts[S.CANCELLED],
        )
        assert report.submitted == len(submitted)

    # Hypothesis also chooses the order of every batch of runnable tasks, so a
    # failing interleaving shrinks and replays like any other draw.
    with hypothesis_scheduling(data):
        trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert checker.violations == []

    # The 1000 s safety net may only be needed when a task hangs, nobody cancels
    # it, and a plain exit with no grace waits for it.
    stuck = any(
        spec.outcome == "hang" and spec.timeout is None and h.id not in cancelled_by_us
        for h, spec in submitted
    )
    net_needed = mode == "exit" and grace is None and stuck
    assert net_fired == net_needed, "drain waited for nothing, or did not wait"

    # A task that waited for capacity started exactly when another task freed a slot.
    ends = {h.completed_at for h, _ in submitted}
    for h, _ in submitted:
        if h.started_at is not None and h.started_at > h.created_at:
            assert h.started_at in ends, f"{h} started when no slot was freed"

    for h, spec in submitted:
        history = checker.histories[h.id]
        statuses = [e.new for e in history]
        # a cancel takes effect whatever it races with: a task cancelled while
        # PENDING never runs, one cancelled while RUNNING ends CANCELLED
        if status_at_cancel.get(h.id) is S.PENDING:
            assert statuses == [S.PENDING, S.CANCELLED], (h, statuses)
        elif status_at_cancel.get(h.id) is S.RUNNING:
            assert h.status is S.CANCELLED, (h, statuses)
        # exactly one terminal state, and it is the last
        assert [s.is_terminal for s in statuses].count(True) == 1
        assert statuses[-1] is h.status
        assert h.created_at == history[0].at
        if h.started_at is not None:
            assert h.created_at <= h.started_at <= h.completed_at  # type: ignore[operator]
        assert h.completed_at == history[-1].at
        if statuses == [S.PENDING, S.CANCELLED]:
            assert h.started_at is None
            assert h.attempts == 0
            continue
        assert h.started_at is not None
        assert h.completed_at is not None
        assert h.attempts == 1
        ran = h.completed_at - h.started_at
        if h.status is S.COMPLETED:
            assert spec.outcome == "return"
            assert ran == spec.duration  # exact, in virtual time
        elif h.status is S.FAILED:
            if isinstance(h.exception, TaskTimeout):
                assert spec.timeout is not None
                assert ran == spec.timeout  # exact, in virtual time
            else:
                assert spec.outcome == "raise"
                assert ran == spec.duration
        else:
            assert h.status is S.CANCELLED
            expected_end = h.started_at + (spec.timeout if spec.timeout else 10**9)
            assert h.completed_at <= expected_end
