"""Restart policies, backoff, intensity, nested trees, shutdown order (trio, virtual time)."""

from __future__ import annotations

import contextvars
import itertools
import math
from typing import TYPE_CHECKING, Any, NoReturn

import pytest
import trio
import trio.testing

from supervisor import (
    Backoff,
    Decision,
    Restart,
    RestartIntensityExceeded,
    Strategy,
    TaskHandle,
    TaskStatus,
    TaskTimeout,
    open_supervisor,
)

if TYPE_CHECKING:
    from .conftest import Recorder

pytestmark = pytest.mark.trio
S = TaskStatus
EXACT = Backoff(initial=1, multiplier=2, maximum=10, jitter=0)


async def boom() -> NoReturn:
    raise ValueError("boom")


def status_of(h: TaskHandle[Any]) -> TaskStatus:
    """Read the status afresh (mypy keeps a narrowed property across calls)."""
    return h.status


def starts(recorder: Recorder, task_id: int = 1) -> list[float]:
    return [
        e.at for e in recorder.events if e.task_id == task_id and e.new is S.RUNNING
    ]


# ---------------------------------------------------------------------------
# policies
# ---------------------------------------------------------------------------


async def test_backoff_attempt_start_times_are_exact(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    async with open_supervisor(on_event=recorder, restart_period=None) as sup:
        h = sup.submit_nowait(
            boom, restart=Restart.PERMANENT, max_attempts=7, backoff=EXACT
        )
        await h.wait()  # leaving the block would stop a PERMANENT task
    assert starts(recorder) == [0, 1, 3, 7, 15, 25, 35]
    assert (h.status, h.attempts, h.completed_at) == (S.FAILED, 7, 35)
    assert isinstance(h.exception, ValueError)


async def test_seeded_jitter_is_reproduced(
    autojump_clock: trio.testing.MockClock,
) -> None:
    jittery = Backoff(initial=1, multiplier=2, maximum=10, jitter=0.5)

    async def run(seed: int) -> list[float]:
        times: list[float] = []

        def hook(e: Any) -> None:
            if e.new is S.RUNNING:
                times.append(e.at)

        t0 = trio.current_time()
        async with open_supervisor(
            on_event=hook, restart_period=None, seed=seed
        ) as sup:
            sup.submit_nowait(
                boom, restart=Restart.TRANSIENT, max_attempts=6, backoff=jittery
            )
        return [t - t0 for t in times]

    first, again, other = await run(42), await run(42), await run(7)
    assert first == pytest.approx(again, abs=1e-9)  # times measured from different t0
    assert first != pytest.approx(other, abs=1e-3)
    gaps = [b - a for a, b in itertools.pairwise(first)]
    for gap, base in zip(gaps, [1, 2, 4, 8, 10], strict=True):
        assert base * 0.5 <= gap <= base * 1.5


async def test_transient_restarts_after_failure_not_after_return(
    autojump_clock: trio.testing.MockClock,
) -> None:
    outcomes = iter([ValueError("first"), ValueError("second"), None])

    async def flaky() -> str:
        await trio.sleep(1)
        exc = next(outcomes)
        if exc is not None:
            raise exc
        return "third time lucky"

    async with open_supervisor() as sup:
        h = sup.submit_nowait(flaky, restart=Restart.TRANSIENT)
        assert await h.result() == "third time lucky"
    assert (h.status, h.attempts, h.exception) == (S.COMPLETED, 3, None)
    assert (h.started_at, h.completed_at) == (0, 3)


async def test_timeout_is_a_failure_for_restarts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(restart_period=None) as sup:
        h = sup.submit_nowait(
            trio.sleep_forever, restart=Restart.TRANSIENT, max_attempts=3, timeout=2
        )
    assert (h.status, h.attempts, h.completed_at) == (S.FAILED, 3, 6)
    assert isinstance(h.exception, TaskTimeout)


async def test_permanent_restarts_after_normal_return(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    async def tick() -> int:
        await trio.sleep(2)
        return 1

    async with open_supervisor(on_event=recorder, restart_period=None) as sup:
        h = sup.submit_nowait(tick, restart=Restart.PERMANENT, max_attempts=3)
        await h.wait()
    # the last allowed attempt returned normally: COMPLETED
    assert (h.status, h.attempts, h.completed_at) == (S.COMPLETED, 3, 6)
    assert await h.result() == 1
    assert [e.new for e in recorder.events] == [
        S.PENDING,
        S.RUNNING,
        S.RESTARTING,
        S.RUNNING,
        S.RESTARTING,
        S.RUNNING,
        S.COMPLETED,
    ]


async def test_temporary_is_never_restarted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        h = sup.submit_nowait(boom)
    assert (h.status, h.attempts) == (S.FAILED, 1)


async def test_max_attempts_exhausted_fails_with_last_exception(
    autojump_clock: trio.testing.MockClock,
) -> None:
    errors = iter([KeyError("a"), IndexError("b")])

    async def failing() -> NoReturn:
        raise next(errors)

    async with open_supervisor() as sup:
        h = sup.submit_nowait(failing, restart=Restart.PERMANENT, max_attempts=2)
        await h.wait()
    assert (h.status, h.attempts) == (S.FAILED, 2)
    assert isinstance(h.exception, IndexError)


async def test_restarting_task_holds_no_slot(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=1, restart_period=None) as sup:
        crashing = sup.submit_nowait(
            boom,
            restart=Restart.TRANSIENT,
            max_attempts=2,
            backoff=Backoff(initial=5, jitter=0),
        )
        other = sup.submit_nowait(trio.sleep, 3)
        await trio.sleep(1)
        assert (crashing.status, other.status) == (S.RESTARTING, S.RUNNING)
        report = sup.health()
        assert (report.restarting, report.running, report.pending) == (1, 1, 0)
    assert other.started_at == 0
    assert crashing.completed_at == 5  # its second attempt started at 5 and failed


async def test_restart_waits_for_a_slot_ahead_of_pending_tasks(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    async def fail_after(seconds: float) -> NoReturn:
        await trio.sleep(seconds)
        raise ValueError

    async with open_supervisor(
        max_concurrent=1, on_event=recorder, restart_period=None
    ) as sup:
        crashing = sup.submit_nowait(
            fail_after, 1, restart=Restart.TRANSIENT, max_attempts=2
        )
        pending = sup.submit_nowait(trio.sleep, 1)
    # crashing fails at 1, then takes the slot again before the PENDING task
    assert starts(recorder, crashing.id) == [0, 1]
    assert pending.started_at == 2


async def test_restart_after_backoff_goes_before_queued_pending_tasks(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    async with open_supervisor(
        max_concurrent=1, on_event=recorder, restart_period=None
    ) as sup:
        crashing = sup.submit_nowait(
            boom,
            restart=Restart.TRANSIENT,
            max_attempts=2,
            backoff=Backoff(initial=1, jitter=0),
        )
        await trio.testing.wait_all_tasks_blocked()  # failed at 0: RESTARTING until 1
        blocker = sup.submit_nowait(trio.sleep, 5)  # takes the slot at 0
        queued = sup.submit_nowait(trio.sleep, 1)  # waits in the queue from 0
    assert starts(recorder, crashing.id) == [
        0,
        5,
    ]  # before `queued`, though it waited less
    assert (blocker.started_at, queued.started_at) == (0, 5)


async def test_each_attempt_starts_from_a_fresh_copy_of_the_context(
    autojump_clock: trio.testing.MockClock,
) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var")
    seen: list[str] = []

    async def job() -> NoReturn:
        seen.append(var.get())
        var.set("set by an attempt")
        raise ValueError

    var.set("submitter")
    async with open_supervisor() as sup:
        sup.submit_nowait(job, restart=Restart.TRANSIENT, max_attempts=3)
    assert seen == ["submitter"] * 3


# ---------------------------------------------------------------------------
# cancelling tasks that restart
# ---------------------------------------------------------------------------


async def test_cancel_while_restarting_ends_cancelled(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    async with open_supervisor(on_event=recorder, restart_period=None) as sup:
        h = sup.submit_nowait(
            boom, restart=Restart.PERMANENT, backoff=Backoff(initial=10, jitter=0)
        )
        await trio.sleep(4)
        assert h.status is S.RESTARTING
        h.cancel()
        await h.wait()
        assert trio.current_time() == 4
    assert [e.new for e in recorder.events] == [
        S.PENDING,
        S.RUNNING,
        S.RESTARTING,
        S.CANCELLED,
    ]
    assert h.attempts == 1


async def test_cancelled_permanent_task_is_not_restarted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        h = sup.submit_nowait(trio.sleep_forever, restart=Restart.PERMANENT)
        await trio.sleep(1)
        h.cancel()
        await h.wait()
    assert (h.status, h.attempts) == (S.CANCELLED, 1)


async def test_cancel_restarting_task_waiting_for_a_slot(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=1, restart_period=None) as sup:
        crashing = sup.submit_nowait(
            boom, restart=Restart.TRANSIENT, backoff=Backoff(initial=1, jitter=0)
        )
        await trio.testing.wait_all_tasks_blocked()
        blocker = sup.submit_nowait(trio.sleep, 5)
        await trio.sleep(2)  # backoff over at 1; the slot is taken by blocker
        assert crashing.status is S.RESTARTING
        crashing.cancel()
        assert status_of(crashing) is S.CANCELLED  # at once: it had no runner
    assert blocker.status is S.COMPLETED
    assert crashing.attempts == 1


async def test_sup_cancel_ends_restarting_tasks_cancelled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(restart_period=None) as sup:
        h = sup.submit_nowait(
            boom, restart=Restart.PERMANENT, backoff=Backoff(initial=10, jitter=0)
        )
        await trio.sleep(1)
        sup.cancel()
    assert (h.status, h.completed_at) == (S.CANCELLED, 1)


# ---------------------------------------------------------------------------
# restart intensity
# ---------------------------------------------------------------------------


async def test_intensity_exceeded_at_exactly_the_right_time(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    handles: list[TaskHandle[Any]] = []

    async def fail_every(seconds: float) -> NoReturn:
        await trio.sleep(seconds)
        raise ValueError(f"after {seconds}")

    with pytest.raises(RestartIntensityExceeded) as info:
        async with open_supervisor(
            max_restarts=2, restart_period=10, on_event=recorder
        ) as sup:
            handles.append(
                sup.submit_nowait(
                    fail_every, 3, restart=Restart.TRANSIENT, name="crashy"
                )
            )
            handles.append(sup.submit_nowait(trio.sleep_forever, name="bystander"))
            handles.append(
                sup.submit_nowait(
                    fail_every,
                    1,
                    restart=Restart.PERMANENT,
                    backoff=Backoff(initial=100, maximum=100, jitter=0),
                    name="waiting",
                )
            )
            await trio.sleep_forever()
    # restart decisions: waiting at 1, crashy at 3, crashy at 6 -> the third is one too many
    assert trio.current_time() == 6
    crashy, bystander, waiting = handles
    assert str(info.value) == (
        "supervisor 'supervisor': task 'crashy' (id 1) exceeded the restart "
        "intensity: more than 2 restarts in 10 seconds"
    )
    assert info.value.__cause__ is crashy.exception
    assert (crashy.status, crashy.attempts, crashy.completed_at) == (S.FAILED, 2, 6)
    assert (bystander.status, bystander.completed_at) == (S.CANCELLED, 6)
    # the pending restart of `waiting` is given up: FAILED with its own last failure
    assert (waiting.status, waiting.completed_at) == (S.FAILED, 6)
    assert str(waiting.exception) == "after 1"
    assert [e.new for e in recorder.events if e.task_id == waiting.id][-2:] == [
        S.RESTARTING,
        S.FAILED,
    ]


async def test_intensity_window_slides(autojump_clock: trio.testing.MockClock) -> None:
    """Restarts spaced wider than the period never add up."""
    async with open_supervisor(max_restarts=1, restart_period=5) as sup:
        h = sup.submit_nowait(
            boom,
            restart=Restart.TRANSIENT,
            max_attempts=5,
            backoff=Backoff(initial=6, multiplier=1, maximum=6, jitter=0),
        )
    assert (h.status, h.attempts, h.completed_at) == (S.FAILED, 5, 24)


async def test_intensity_counts_normal_returns_with_no_cause(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def quick() -> None:
        await trio.sleep(1)

    with pytest.raises(RestartIntensityExceeded) as info:
        async with open_supervisor(max_restarts=0) as sup:
            h = sup.submit_nowait(quick, restart=Restart.PERMANENT)
            await trio.sleep_forever()
    assert info.value.__cause__ is None
    assert (h.status, h.completed_at) == (S.COMPLETED, 1)


async def test_health_reports_restarts(autojump_clock: trio.testing.MockClock) -> None:
    async with open_supervisor(max_restarts=5, restart_period=10) as sup:
        sup.submit_nowait(
            boom,
            restart=Restart.PERMANENT,
            max_attempts=3,
            backoff=Backoff(initial=1, multiplier=1, jitter=0),
        )
        await trio.sleep(1.5)  # decisions at 0 and 1; restarting again
        report = sup.health()
    assert (
        report.restarts_in_period,
        report.restarts_remaining,
        report.restarting,
    ) == (2, 3, 1)


# ---------------------------------------------------------------------------
# supervision trees
# ---------------------------------------------------------------------------


async def test_three_level_tree_middle_gives_up_and_top_restarts_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    middle_starts: list[float] = []

    async def leaf() -> NoReturn:
        await trio.sleep(1)
        raise ValueError("leaf crashed")

    async def middle() -> None:
        middle_starts.append(trio.current_time())
        async with open_supervisor("middle", max_restarts=2, restart_period=10) as sup:
            sup.submit_nowait(leaf, restart=Restart.PERMANENT)
            await trio.sleep_forever()

    async with open_supervisor("top", restart_period=None) as top:
        h = top.submit_nowait(middle, restart=Restart.PERMANENT, max_attempts=2)
        await h.wait()
    # the middle gives up at its leaf's third failure (t=3), is restarted, gives up at 6
    assert middle_starts == [0, 3]
    assert (h.status, h.attempts, h.completed_at) == (S.FAILED, 2, 6)
    assert isinstance(h.exception, RestartIntensityExceeded)
    assert "'middle'" in str(h.exception)
    assert isinstance(h.exception.__cause__, ValueError)


# ---------------------------------------------------------------------------
# shutdown order
# ---------------------------------------------------------------------------


async def test_shutdown_drains_one_shot_work_then_stops_permanent_newest_first(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[tuple[str, float]] = []

    async def service(tag: str) -> None:
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(1)  # cleanup takes a second
                log.append((tag, trio.current_time()))

    async def job() -> None:
        await trio.sleep(5)
        log.append(("job", trio.current_time()))

    async with open_supervisor() as sup:
        for tag in "abc":
            sup.submit_nowait(service, tag, restart=Restart.PERMANENT)
            await trio.sleep(0.5)
        sup.submit_nowait(job)
    assert log == [("job", 6.5), ("c", 7.5), ("b", 8.5), ("a", 9.5)]


async def test_shutdown_grace_cancels_one_shot_work_then_stops_permanent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(shutdown_grace=2) as sup:
        service = sup.submit_nowait(trio.sleep_forever, restart=Restart.PERMANENT)
        job = sup.submit_nowait(trio.sleep, 100, restart=Restart.TRANSIENT)
    assert (job.status, job.completed_at) == (S.CANCELLED, 2)
    assert (service.status, service.completed_at) == (S.CANCELLED, 2)


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"max_attempts": 0}, ValueError, r"^max_attempts must be >= 1, got 0$"),
        (
            {"max_attempts": 1.0},
            TypeError,
            r"^max_attempts must be an int or None, got 1.0$",
        ),
        (
            {"restart": "permanent"},
            TypeError,
            r"^restart must be a Restart, got 'permanent'$",
        ),
        ({"backoff": 1.0}, TypeError, r"^backoff must be a Backoff or None, got 1.0$"),
    ],
)
async def test_bad_restart_options_are_rejected(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    async with open_supervisor() as sup:
        with pytest.raises(error, match=message):
            sup.submit_nowait(boom, **{"restart": Restart.PERMANENT, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"max_restarts": -1}, ValueError, r"^max_restarts must be >= 0, got -1$"),
        ({"max_restarts": None}, TypeError, r"^max_restarts must be an int, got None"),
        ({"restart_period": 0}, ValueError, r"^restart_period must be > 0, got 0$"),
        ({"restart_period": math.nan}, ValueError, r"^restart_period must not be NaN$"),
        (
            {"strategy": "one_for_all"},
            TypeError,
            r"^strategy must be a Strategy, got 'one_for_all'$",
        ),
        ({"seed": 1.5}, TypeError, r"^seed must be an int or None, got 1.5$"),
    ],
)
async def test_bad_supervisor_restart_options_are_rejected(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        async with open_supervisor(**kwargs):
            pass  # pragma: no cover - never entered


async def test_events_carry_each_decision(
    autojump_clock: trio.testing.MockClock,
) -> None:

    events: list[Any] = []
    async with open_supervisor(on_event=events.append, restart_period=None) as sup:
        h = sup.submit_nowait(boom, restart=Restart.TRANSIENT, max_attempts=2)
    assert [(e.new, e.decision) for e in events if e.task_id == h.id] == [
        (S.PENDING, None),
        (S.RUNNING, None),
        (S.RESTARTING, Decision.RESTART),
        (S.RUNNING, None),
        (S.FAILED, Decision.GIVE_UP),
    ]
    events.clear()
    with pytest.raises(RestartIntensityExceeded):
        async with open_supervisor(
            on_event=events.append, max_restarts=0, strategy=Strategy.ONE_FOR_ALL
        ) as sup:
            sibling = sup.submit_nowait(trio.sleep_forever, restart=Restart.PERMANENT)
            await trio.sleep(1)
            tipping = sup.submit_nowait(boom, restart=Restart.PERMANENT)
            await trio.sleep_forever()
    assert [(e.new, e.decision) for e in events if e.task_id == tipping.id][-1] == (
        S.FAILED,
        Decision.ESCALATE,
    )
    assert events[-1].task_id == sibling.id or sibling.status is S.CANCELLED


async def test_given_up_restart_after_a_return_fails_with_the_give_up(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def returns() -> None:
        await trio.sleep(1)

    with pytest.raises(RestartIntensityExceeded) as info:
        async with open_supervisor(max_restarts=1, restart_period=10) as sup:
            waiting = sup.submit_nowait(
                returns,
                restart=Restart.PERMANENT,
                backoff=Backoff(initial=5, jitter=0),
            )
            await trio.sleep(1.5)
            sup.submit_nowait(boom, restart=Restart.PERMANENT)
            await trio.sleep_forever()
    # `waiting` returned at 1 (restart decision 1) and waits to restart at 6, when
    # `boom` fails at 1.5 (decision 2: one too many)
    assert (waiting.status, waiting.completed_at) == (S.FAILED, 1.5)
    assert waiting.exception is info.value


async def test_shutdown_does_not_wait_for_work_stuck_behind_permanent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """All slots held by PERMANENT tasks: queued one-shot work could never start."""
    async with open_supervisor(max_concurrent=1) as sup:
        service = sup.submit_nowait(trio.sleep_forever, restart=Restart.PERMANENT)
        await trio.sleep(1)
        queued = sup.submit_nowait(trio.sleep, 1)
    assert trio.current_time() == 1  # no wait: the queued task could never run
    assert (queued.status, queued.started_at) == (S.CANCELLED, None)
    assert (service.status, service.completed_at) == (S.CANCELLED, 1)
