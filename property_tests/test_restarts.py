"""Restart policies, backoff and restart intensity against an exact model.

Each drawn task fails a drawn number of times, then succeeds; it has a restart
policy, maybe a ``max_attempts`` and an exact backoff (jitter 0). The model
predicts every attempt's start time, each task's final status and attempts, and,
when the restart intensity is exceeded, the exact time the supervisor gives up and
what each task is then. Task k's timeline is offset by (k + 1) / 64 seconds, so no two
tasks ever act at the same instant and the prediction never depends on how trio
orders one batch.
"""

from __future__ import annotations

from typing import Any

import attrs
import trio
import trio.testing
from hypothesis import given, note, strategies as st

from supervisor import (
    Backoff,
    Restart,
    RestartIntensityExceeded,
    TaskHandle,
    TaskStatus,
    open_supervisor,
)
from supervisor.testing import EventRecorder

from .virtual_time import run_on_mock_clock

S = TaskStatus


@attrs.frozen
class Spec:
    restart: Restart
    fails: int  # failing attempts before the first success
    duration: int  # virtual seconds each attempt runs
    max_attempts: int | None
    initial: int  # backoff initial delay; 0: no backoff


specs = st.builds(
    Spec,
    restart=st.sampled_from(list(Restart)),
    fails=st.integers(0, 4),
    duration=st.integers(0, 2),
    max_attempts=st.none() | st.integers(1, 4),
    initial=st.integers(0, 2),
).filter(lambda s: s.restart is not Restart.PERMANENT or s.max_attempts is not None)


# Short durations and periods of whole seconds: decisions often fall exactly one
# period apart, the case that separates a window closed at its far end from an open
# one (a negative control checks the property finds that difference).
max_restarts_values = st.integers(0, 3)
periods = st.sampled_from([None, 1.0, 2.0, 3.0])


def backoff_of(spec: Spec) -> Backoff | None:
    if spec.initial == 0:
        return None
    return Backoff(initial=spec.initial, multiplier=2, maximum=5, jitter=0)


@attrs.define
class Timeline:
    starts: list[float]
    ends: list[float]
    decisions: list[float]  # times of restart decisions
    status: TaskStatus  # if nothing stops it


def model(spec: Spec, t0: float) -> Timeline:
    starts: list[float] = []
    ends: list[float] = []
    decisions: list[float] = []
    start = t0
    backoff = backoff_of(spec)
    while True:
        attempt = len(starts) + 1
        starts.append(start)
        end = start + spec.duration
        ends.append(end)
        failed = attempt <= spec.fails
        restart = (failed and spec.restart is not Restart.TEMPORARY) or (
            not failed and spec.restart is Restart.PERMANENT
        )
        if restart and (spec.max_attempts is None or attempt < spec.max_attempts):
            decisions.append(end)
            start = end + (0 if backoff is None else backoff.base_delay(attempt))
            continue
        return Timeline(starts, ends, decisions, S.FAILED if failed else S.COMPLETED)


def job(spec: Spec, calls: list[int]) -> Any:
    async def run() -> str:
        calls[0] += 1
        await trio.sleep(spec.duration)
        if calls[0] <= spec.fails:
            raise ValueError(f"attempt {calls[0]} failed")
        return "ok"

    return run


@given(
    tasks=st.lists(specs, min_size=1, max_size=5),
    max_restarts=max_restarts_values,
    period=periods,
)
def test_restarts_follow_the_model_exactly(
    tasks: list[Spec], max_restarts: int, period: float | None
) -> None:
    check_restarts_model(tasks, max_restarts, period)


def check_restarts_model(
    tasks: list[Spec], max_restarts: int, period: float | None
) -> None:
    """The property itself; negative controls run it against broken supervisors."""
    # exact binary fractions: sums stay exact, so windows tie exactly at their ends
    offsets = [(k + 1) / 64 for k in range(len(tasks))]
    timelines = [model(spec, t0) for spec, t0 in zip(tasks, offsets, strict=True)]
    # When does the intensity give up, which task tips it, with which decision?
    give_up: tuple[float, int, int] | None = None
    if period is not None:
        decisions = sorted(
            (t, k, j)
            for k, tl in enumerate(timelines)
            for j, t in enumerate(tl.decisions)
        )
        for i, (t, k, j) in enumerate(decisions):
            in_window = [d for d, _, _ in decisions[: i + 1] if t - d <= period]
            if len(in_window) > max_restarts:
                give_up = (t, k, j)
                break
    note(f"give_up={give_up}")
    recorder = EventRecorder()
    handles: list[TaskHandle[Any]] = []
    raised: list[BaseException] = []

    async def main() -> None:
        try:
            async with open_supervisor(
                on_event=recorder, max_restarts=max_restarts, restart_period=period
            ) as sup:
                for spec, t0 in zip(tasks, offsets, strict=True):
                    await trio.sleep_until(t0)
                    handles.append(
                        sup.submit_nowait(
                            job(spec, [0]),
                            restart=spec.restart,
                            max_attempts=spec.max_attempts,
                            backoff=backoff_of(spec),
                        )
                    )
                for h in handles:
                    await h.wait()
        except RestartIntensityExceeded as exc:
            raised.append(exc)

    run_on_mock_clock(main)
    recorder.check()

    if give_up is None:
        assert raised == []
        for h, tl in zip(handles, timelines, strict=True):
            assert recorder.times(h.id, S.RUNNING) == tl.starts
            assert (h.status, h.attempts, h.completed_at) == (
                tl.status,
                len(tl.starts),
                tl.ends[-1],
            )
        return

    at, tipping, decision_index = give_up
    assert len(raised) == 1
    # tasks due after the supervisor gave up were never submitted (the block ended)
    assert len(handles) == sum(1 for t0 in offsets if t0 <= at)
    for k, h in enumerate(handles):
        tl = timelines[k]
        if k == tipping:
            # its restart decision tipped the intensity: no attempt follows it
            started = tl.starts[: decision_index + 1]
            assert recorder.times(h.id, S.RUNNING) == started
            assert (h.attempts, h.completed_at) == (len(started), at)
            assert h.status in (S.FAILED, S.COMPLETED)
            continue
        started = [s for s in tl.starts if s <= at]
        assert recorder.times(h.id, S.RUNNING) == started, k
        assert h.attempts == len(started)
        if tl.ends[-1] < at:  # it had ended on its own
            assert (h.status, h.completed_at) == (tl.status, tl.ends[-1])
        elif any(s <= at < e for s, e in zip(tl.starts, tl.ends, strict=True)):
            assert (h.status, h.completed_at) == (S.CANCELLED, at)  # running: cancelled
        else:  # between attempts: its pending restart is given up
            assert (h.status, h.completed_at) == (S.FAILED, at)
            if len(started) <= tasks[k].fails:  # its last attempt failed: its own error
                assert isinstance(h.exception, ValueError)
            else:  # it had returned (PERMANENT): the give-up itself failed it
                assert h.exception is raised[0]
