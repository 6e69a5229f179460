"""Every option reaches its task through every entry point, and is checked there."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NoReturn

import pytest
import trio
import trio.testing

from supervisor import (
    Actor,
    Backoff,
    Restart,
    TaskFailed,
    TaskHandle,
    TaskStatus,
    TaskTimeout,
    open_supervisor,
)

if TYPE_CHECKING:
    from supervisor import Supervisor

    from .conftest import Recorder

pytestmark = pytest.mark.trio
S = TaskStatus

#: Exact delays of 1 s, then 2 s, between attempts.
BACKOFF = Backoff(initial=1, multiplier=2, jitter=0)
OPTIONS: dict[str, Any] = {
    "name": "n",
    "timeout": 2,
    "restart": Restart.TRANSIENT,
    "max_attempts": 3,
    "backoff": BACKOFF,
}


async def hang() -> None:
    await trio.sleep_forever()


async def hang_when_started(*, task_status: Any) -> None:
    task_status.started("ready")
    await trio.sleep_forever()


def assert_three_timed_out_attempts(
    h: TaskHandle[Any], recorder: Recorder, t0: float
) -> None:
    # Each attempt times out after 2 s; the next starts 1 s, then 2 s, later.
    assert (h.name, h.timeout, h.restart, h.max_attempts) == (
        "n",
        2,
        Restart.TRANSIENT,
        3,
    )
    starts = [e.at - t0 for e in recorder.events if e.new is S.RUNNING]
    assert starts == [0, 3, 7]
    assert (h.status, h.attempts, h.completed_at) == (S.FAILED, 3, t0 + 9)
    assert isinstance(h.exception, TaskTimeout)


async def test_submit_nowait_options(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    async with open_supervisor(on_event=recorder) as sup:
        h = sup.submit_nowait(hang, **OPTIONS)
    assert_three_timed_out_attempts(h, recorder, 0)


async def test_submit_options(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    async with open_supervisor(on_event=recorder) as sup:
        h = await sup.submit(hang, **OPTIONS)
    assert_three_timed_out_attempts(h, recorder, 0)


async def test_start_child_options(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    async with open_supervisor(on_event=recorder) as sup:
        h = await sup.start_child(hang_when_started, **OPTIONS)
        assert (trio.current_time(), h.started_value) == (0, "ready")
    assert_three_timed_out_attempts(h, recorder, 0)


@pytest.mark.threads
async def test_submit_from_thread_options(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    async with open_supervisor(on_event=recorder) as sup:
        h = await trio.to_thread.run_sync(
            lambda: sup.submit_from_thread(hang, **OPTIONS)
        )
    # The autojump clock may move while the thread waits; times are relative.
    assert_three_timed_out_attempts(h, recorder, h.created_at)


class FailsToStart(Actor[str, str]):
    async def on_start(self) -> NoReturn:
        raise ValueError("no start")


async def test_spawn_actor_options(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    async with open_supervisor(on_event=recorder) as sup:
        with pytest.raises(TaskFailed) as info:
            await sup.spawn_actor(
                FailsToStart,
                name="a",
                restart=Restart.TRANSIENT,
                max_attempts=3,
                backoff=BACKOFF,
            )
        assert trio.current_time() == 3
    assert isinstance(info.value.__cause__, ValueError)
    assert [(e.name, e.new, e.at) for e in recorder.events if e.new is S.RUNNING] == [
        ("a", S.RUNNING, 0),
        ("a", S.RUNNING, 1),
        ("a", S.RUNNING, 3),
    ]
    assert recorder.events[-1].new is S.FAILED


# -- validation, the same through every entry point ----------------------------

BAD_OPTIONS = [
    ({"max_attempts": 0}, ValueError, r"^max_attempts must be >= 1, got 0$"),
    (
        {"max_attempts": True},
        TypeError,
        r"^max_attempts must be an int or None, got True$",
    ),
    ({"backoff": 3}, TypeError, r"^backoff must be a Backoff or None, got 3$"),
    ({"timeout": 0}, ValueError, r"^timeout must be > 0, got 0$"),
    ({"timeout": math.inf * 0}, ValueError, r"^timeout must not be NaN$"),
    ({"name": 5}, TypeError, r"^name must be a str or None, got 5$"),
    (
        {"restart": "transient"},
        TypeError,
        r"^restart must be a Restart, got 'transient'$",
    ),
]


async def submit_nowait(sup: Supervisor, **kwargs: Any) -> object:
    return sup.submit_nowait(hang, **kwargs)


async def submit(sup: Supervisor, **kwargs: Any) -> object:
    return await sup.submit(hang, **kwargs)


async def submit_from_thread(sup: Supervisor, **kwargs: Any) -> object:
    return await trio.to_thread.run_sync(lambda: sup.submit_from_thread(hang, **kwargs))


async def start_child(sup: Supervisor, **kwargs: Any) -> object:
    return await sup.start_child(hang_when_started, **kwargs)


@pytest.mark.threads
@pytest.mark.parametrize(
    "entry", [submit_nowait, submit, submit_from_thread, start_child]
)
@pytest.mark.parametrize(("kwargs", "error", "message"), BAD_OPTIONS)
async def test_bad_options_are_rejected_by_every_entry_point(
    entry: Any, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    # TEMPORARY (the default of the submit calls) is checked like the others.
    async with open_supervisor() as sup:
        with pytest.raises(error, match=message):
            await entry(sup, **kwargs)
        assert sup.health().submitted == 0


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD_OPTIONS[:3])
async def test_bad_options_are_rejected_by_spawn_actor(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    async with open_supervisor() as sup:
        with pytest.raises(error, match=message):
            await sup.spawn_actor(FailsToStart, name="a", **kwargs)
        assert sup.health().submitted == 0
        assert sup.whereis("a") is None
