"""Group restarts against an exact model of OTP's rules.

Children 0..n-1 start in that order; child ``leader`` crashes at t=1. Each child
has a restart type, a per-child shutdown, a way to meet a stop request (finish its
unit of work, or ignore it until cancelled, then clean up), and a number of boots
that fail before it is ready. The model replays OTP's group restart: siblings
stopped one at a time, newest first, by their shutdown policy; then the group
started in start order, each ready before the next, stopping at the first boot
that fails (that failure is a new restart decision: a new group restart). It
predicts every attempt's start and end, exactly, on the mock clock.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import attrs
import trio
from hypothesis import given, note, strategies as st

from supervisor import (
    Restart,
    Strategy,
    TaskHandle,
    TaskStatus,
    current_handle,
    open_supervisor,
)
from supervisor.testing import EventRecorder

from .virtual_time import run_on_mock_clock

S = TaskStatus
BOOT = Fraction(1, 4)  # a failing boot fails this long after it starts
END = 100  # the block is cancelled then; every group restart is over long before


@attrs.frozen
class Child:
    restart: Restart
    shutdown: Fraction | None  # seconds; None: no limit (never equal to work)
    honours: bool  # finishes its unit of work when asked, else runs until cancelled
    work: int  # seconds of work left when asked (honours)
    cleanup: Fraction  # shielded cleanup after a cancel (ignores)
    failing_boots: int  # restarts whose boot fails before it is ready


children = st.builds(
    Child,
    restart=st.sampled_from(list(Restart)),
    shutdown=st.sampled_from([Fraction(0), Fraction(3, 2), Fraction(3), None]),
    honours=st.booleans(),
    work=st.integers(1, 2),
    cleanup=st.sampled_from([Fraction(0), Fraction(1, 2)]),
    failing_boots=st.integers(0, 2),
).filter(lambda c: c.honours or c.shutdown is not None)  # else it never stops


@attrs.define
class Predicted:
    starts: list[list[Fraction]]  # per child, attempt start times
    ends: list[list[Fraction]]  # per child, attempt end times (before END)
    final: list[TaskStatus | None]  # a status reached before END, or None (live)


def stop_end(c: Child, t: Fraction) -> tuple[Fraction, TaskStatus]:
    """When a stop requested at ``t`` ends the attempt, and how."""
    if c.honours and (c.shutdown is None or c.work <= c.shutdown):
        return t + c.work, S.COMPLETED  # finished its work: ended by itself
    assert c.shutdown is not None
    if c.honours:
        return t + c.shutdown, S.CANCELLED  # cancelled mid-work: no cleanup
    return t + c.shutdown + c.cleanup, S.CANCELLED


def model(strategy: Strategy, kids: list[Child], leader: int) -> Predicted:
    n = len(kids)
    starts = [[Fraction(k, 64)] for k in range(n)]
    ends: list[list[Fraction]] = [[] for _ in range(n)]
    final: list[TaskStatus | None] = [None] * n
    running = set(range(n))
    boots_left = [c.failing_boots for c in kids]
    t = Fraction(1)
    ends[leader].append(t)
    running.discard(leader)
    if kids[leader].restart is Restart.TEMPORARY:
        final[leader] = S.FAILED  # no restart follows: the siblings are untouched
        return Predicted(starts, ends, final)
    pending = [leader]
    held: set[int] = set()
    while pending:
        lead = pending.pop(0)
        held.add(lead)
        group = (
            list(range(n)) if strategy is Strategy.ONE_FOR_ALL else list(range(lead, n))
        )
        group = [k for k in group if final[k] is None]
        for k in reversed(group):
            if k == lead or k not in running:
                continue
            t, how = stop_end(kids[k], t)
            ends[k].append(t)
            running.discard(k)
            if kids[k].restart is Restart.TEMPORARY:
                final[k] = how  # stopped for good
            else:
                held.add(k)
        for k in group:
            if k not in held:
                continue
            held.discard(k)
            starts[k].append(t)
            if boots_left[k] > 0:
                boots_left[k] -= 1
                t += BOOT
                ends[k].append(t)
                pending.append(k)  # restarted: a new group restart; stop here
                break
            running.add(k)
    return Predicted(starts, ends, final)


def child_fn(c: Child, index: int, leader: int) -> Any:
    attempt = 0

    async def run(*, task_status: Any) -> None:
        nonlocal attempt
        attempt += 1
        h = current_handle()
        assert h is not None
        if attempt > 1 and attempt - 1 <= c.failing_boots:
            await trio.sleep(float(BOOT))
            raise ValueError(f"boot {attempt} of child {index} failed")
        task_status.started()
        if attempt == 1 and index == leader:
            await trio.sleep_until(1)
            raise ValueError("the leader crashes")
        if c.honours:
            await h.wait_stop_requested()
            await trio.sleep(c.work)
            return
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(float(c.cleanup))

    return run


@given(
    strategy=st.sampled_from([Strategy.ONE_FOR_ALL, Strategy.REST_FOR_ONE]),
    kids=st.lists(children, min_size=1, max_size=4),
    leader_draw=st.integers(0, 3),
)
def test_group_restarts_follow_the_otp_model_exactly(
    strategy: Strategy, kids: list[Child], leader_draw: int
) -> None:
    leader = leader_draw % len(kids)
    predicted = model(strategy, kids, leader)
    note(f"leader={leader} predicted={predicted}")
    recorder = EventRecorder()
    handles: list[TaskHandle[Any]] = []

    async def main() -> None:
        async with open_supervisor(
            strategy=strategy, restart_period=None, on_event=recorder
        ) as sup:
            for k, c in enumerate(kids):
                await trio.sleep_until(k / 64)
                handles.append(
                    await sup.start_child(
                        child_fn(c, k, leader),
                        restart=c.restart,
                        shutdown=None if c.shutdown is None else float(c.shutdown),
                    )
                )
            await trio.sleep_until(END)
            sup.cancel()

    run_on_mock_clock(main)
    recorder.check()
    for k, h in enumerate(handles):
        assert recorder.times(h.id, S.RUNNING) == predicted.starts[k], k
        attempt_ends = [
            e.at
            for e in recorder.events
            if e.task_id == h.id and e.old is S.RUNNING and e.at < END
        ]
        assert attempt_ends == predicted.ends[k], k
        if predicted.final[k] is not None:
            assert h.status is predicted.final[k], k
        else:  # cancelled at END, then its cleanup
            cleanup = 0 if kids[k].honours else kids[k].cleanup
            assert (h.status, h.completed_at) == (S.CANCELLED, END + cleanup), k
