"""Randomized concurrent submit / cancel / fail / timeout / shutdown sequences.

Each example runs one ``trio.run`` on a ``MockClock(autojump_threshold=0)``; steps
are drawn interactively with ``data.draw`` so Hypothesis records and shrinks them.
Invariants are checked on every event (as it happens) and at the end.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import trio
import trio.testing
from hypothesis import given, note, strategies as st

from supervisor import (
    QueueFull,
    Restart,
    RestartIntensityExceeded,
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
from .virtual_time import run_on_mock_clock

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
    # per task: its per-child shutdown, and whether its "cancel" is a
    # terminate_child (a stop by that policy) or handle.cancel()
    shutdowns = [data.draw(st.sampled_from([0, 1, 3]), label="shutdown") for _ in specs]
    terminates = [data.draw(st.booleans(), label="terminate") for _ in specs]
    terminated_at: dict[int, float] = {}
    submitted_index: dict[int, int] = {}
    mode = data.draw(shutdown_modes, label="shutdown")
    checker = Checker(max_concurrent, max_pending)
    submitted: list[tuple[TaskHandle[Any], TaskSpec]] = []
    cancelled_by_us: set[int] = set()
    status_at_cancel: dict[int, TaskStatus] = {}
    net_fired = False
    gave_up = False

    async def canceller(
        sup: Any, handle: TaskHandle[Any], checkpoints: int, terminate: bool
    ) -> None:
        for _ in range(checkpoints):
            await trio.lowlevel.checkpoint()
        if not handle.done():
            cancelled_by_us.add(handle.id)
            status_at_cancel[handle.id] = handle.status
        if terminate:
            terminated_at[handle.id] = trio.current_time()
            await sup.terminate_child(handle)
        else:
            handle.cancel()

    async def main() -> None:
        nonlocal gave_up
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
                        for index, (spec, shutdown, terminate) in enumerate(
                            zip(specs, shutdowns, terminates, strict=True)
                        ):
                            await trio.sleep(spec.submit_delay)
                            try:
                                h = sup.submit_nowait(
                                    job,
                                    spec,
                                    timeout=spec.timeout,
                                    restart=spec.restart,
                                    max_attempts=spec.max_attempts,
                                    backoff=spec.backoff,
                                    shutdown=shutdown,
                                )
                            except QueueFull:
                                note("queue full")
                                continue
                            except SupervisorClosed:
                                note("closed: the supervisor gave up")
                                break
                            submitted.append((h, spec))
                            submitted_index[h.id] = index
                            if spec.cancel_after is not None:
                                helpers.start_soon(
                                    canceller, sup, h, spec.cancel_after, terminate
                                )
                        if mode == "cancel":
                            sup.cancel()
                        elif mode == "grace":
                            await sup.shutdown(
                                grace=data.draw(st.integers(0, 4), label="grace")
                            )
                            with_closed = False
                            try:
                                sup.submit_nowait(job, TaskSpec(0, "return"))
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
                # escape bare, or together as a group: see the exception-group policy
                except* BodyError:
                    assert mode == "body_raises"
                except* RestartIntensityExceeded:
                    gave_up = True
        nonlocal net_fired
        net_fired = outer.cancelled_caught and mode != "outer"
        assert sup.tasks() == []
        report = sup.health()
        assert report.running == report.pending == report.restarting == 0
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
        run_on_mock_clock(main)
    assert checker.violations == []
    note(f"gave_up={gave_up}")

    # The 1000 s safety net may only be needed when a one-shot task hangs, nobody
    # cancels it, and a plain exit with no grace waits for it (PERMANENT tasks are
    # stopped by the exit itself).
    stuck = any(
        spec.outcome == "hang"
        and spec.timeout is None
        and spec.restart is not Restart.PERMANENT
        and h.id not in cancelled_by_us
        for h, spec in submitted
    )
    if not gave_up:
        net_needed = mode == "exit" and grace is None and stuck
        # the drain never waits for nothing
        assert net_fired <= net_needed, "drain waited for nothing"
        if net_needed and not net_fired:
            # It did not wait: the supervisor found the one-shot work stuck behind
            # PERMANENT tasks holding every slot (they "never finish on their own")
            # and cancelled it.
            assert max_concurrent is not None
            assert any(spec.restart is Restart.PERMANENT for _, spec in submitted)
    if mode == "exit" and grace is None and not gave_up and not net_fired:
        # On a plain exit with no grace, a one-shot task ends CANCELLED only by our
        # cancel, or as work stuck behind PERMANENT tasks holding every slot.
        for h, spec in submitted:
            if (
                h.status is S.CANCELLED
                and spec.restart is not Restart.PERMANENT
                and h.id not in cancelled_by_us
            ):
                assert max_concurrent is not None, h
                assert any(s.restart is Restart.PERMANENT for _, s in submitted), h

    # Slots: a task that waited for capacity started exactly when a slot was freed
    # (an attempt left RUNNING); a restart after a backoff started when its delay
    # was over, or later when a slot was freed; without a backoff, at once.
    freed = {
        e.at
        for history in checker.histories.values()
        for e in history
        if e.old is S.RUNNING
    }
    for h, spec in submitted:
        history = checker.histories[h.id]
        if h.started_at is not None and h.started_at > h.created_at:
            assert h.started_at in freed, f"{h} started when no slot was freed"
        for before, after in itertools.pairwise(history):
            if before.new is S.RESTARTING and after.new is S.RUNNING:
                backoff = spec.backoff
                delay = 0.0 if backoff is None else backoff.base_delay(before.attempt)
                due = before.at + delay
                assert after.at >= due, (h, "restarted before its backoff was over")
                if backoff is None:
                    assert after.at == before.at, (h, "no backoff, yet not at once")
                elif after.at > due:
                    assert after.at in freed, (h, "restart waited with a slot free")

    for h, spec in submitted:
        history = checker.histories[h.id]
        statuses = [e.new for e in history]
        # exactly one terminal state, and it is the last
        assert [s.is_terminal for s in statuses].count(True) == 1
        assert statuses[-1] is h.status
        assert h.created_at == history[0].at
        if h.started_at is not None:
            assert h.created_at <= h.started_at <= h.completed_at  # type: ignore[operator]
        assert h.completed_at == history[-1].at
        # a cancel takes effect whatever it races with: a task cancelled while
        # PENDING never runs; one cancelled while RUNNING or RESTARTING is not
        # restarted and ends CANCELLED (or FAILED, if the supervisor gave up on it
        # in the same instant)
        cancelled_in = status_at_cancel.get(h.id)
        if cancelled_in is S.PENDING:
            assert statuses == [S.PENDING, S.CANCELLED], (h, statuses)
        elif h.id in terminated_at and cancelled_in is not None:
            # stopped by its policy: it may end by itself meanwhile, but no
            # attempt starts after the stop, and no restart decision follows it
            at = terminated_at[h.id]
            later = [e.new for e in history if e.at > at]
            assert S.RUNNING not in later, (h, statuses)
            assert S.RESTARTING not in later, (h, statuses)
            if h.status is S.CANCELLED and cancelled_in is S.RUNNING:
                # cancelled by the policy: exactly `shutdown` after the stop, or
                # earlier if the whole supervisor was stopped meanwhile
                assert history[-1].at <= at + shutdowns[submitted_index[h.id]]
        elif cancelled_in is not None:
            assert h.status is S.CANCELLED or (gave_up and h.status is S.FAILED), (
                h,
                statuses,
            )
        attempts = statuses.count(S.RUNNING)
        assert h.attempts == attempts
        # started_at is when it first became RUNNING, as the events say
        first_run = [e.at for e in history if e.new is S.RUNNING]
        assert h.started_at == (first_run[0] if first_run else None), (h, history)
        if spec.max_attempts is not None:
            assert attempts <= spec.max_attempts
        if spec.restart is Restart.TEMPORARY:
            assert S.RESTARTING not in statuses
        if statuses == [S.PENDING, S.CANCELLED]:
            assert h.started_at is None
            continue
        # every attempt ran exactly as long as its body, or its timeout, says
        for before, after in itertools.pairwise(history):
            if before.new is not S.RUNNING:
                continue
            ran = after.at - before.at
            exc = after.exception
            limit = spec.timeout if spec.timeout is not None else math.inf
            if after.new is S.CANCELLED:
                natural = spec.duration if spec.outcome != "hang" else math.inf
                assert ran <= min(limit, natural)
            elif isinstance(exc, TaskTimeout):
                assert ran == spec.timeout  # exact, in virtual time
            elif after.new is S.COMPLETED or (
                after.new is S.RESTARTING and exc is None
            ):
                assert spec.outcome == "return"
                assert ran == spec.duration  # exact, in virtual time
            else:
                assert isinstance(exc, ValueError), (h, after)
                assert spec.outcome == "raise"
                assert ran == spec.duration
        if h.status is S.FAILED:
            assert h.exception is not None
