"""start_timeout: a bound on each attempt's wait for task_status.started()."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from supervisor import (
    Actor,
    Restart,
    TaskFailed,
    TaskStatus,
    TaskTimeout,
    open_supervisor,
)

pytestmark = pytest.mark.trio


async def never_ready(*, task_status: Any) -> None:
    await trio.sleep_forever()


async def ready_after(seconds: float, *, task_status: Any) -> None:
    await trio.sleep(seconds)
    task_status.started(trio.current_time())
    await trio.sleep(100)


async def test_a_child_not_ready_in_time_fails_with_task_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        with pytest.raises(TaskFailed) as failed:
            await sup.start_child(
                never_ready, name="slow", restart=Restart.TEMPORARY, start_timeout=2
            )
        assert trio.current_time() == 2
        cause = failed.value.__cause__
        assert isinstance(cause, TaskTimeout)
        assert "did not call task_status.started() within 2 seconds" in str(cause)
        sup.cancel()


async def test_ready_in_time_leaves_only_the_attempts_own_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """started() at 1 (bound 2) lifts the bound: the attempt then runs until its own
    timeout of 5, which fails it as a timeout of the attempt."""
    async with open_supervisor() as sup:
        h = await sup.start_child(
            ready_after, 1, restart=Restart.TEMPORARY, start_timeout=2, timeout=5
        )
        assert h.started_value == 1
        await h.wait()
    assert (h.status, h.completed_at) == (TaskStatus.FAILED, 5)
    assert isinstance(h.exception, TaskTimeout)
    assert "timed out after 5 seconds" in str(h.exception)


async def test_an_attempts_own_timeout_shorter_than_the_bound_says_so(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        with pytest.raises(TaskFailed) as failed:
            await sup.start_child(
                never_ready, restart=Restart.TEMPORARY, start_timeout=10, timeout=3
            )
        assert "timed out after 3 seconds" in str(failed.value.__cause__)
        assert trio.current_time() == 3


async def test_a_bound_that_expires_with_the_attempts_own_timeout_names_started(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Both deadlines at 4: the attempt was not ready, and that is what it says
    (the bound on started() wins a tie)."""
    async with open_supervisor() as sup:
        with pytest.raises(TaskFailed) as failed:
            await sup.start_child(
                never_ready, restart=Restart.TEMPORARY, start_timeout=4, timeout=4
            )
        cause = failed.value.__cause__
        assert isinstance(cause, TaskTimeout)
        assert "did not call task_status.started() within 4 seconds" in str(cause)
        assert trio.current_time() == 4


async def test_a_restarted_child_gets_the_bound_on_every_attempt(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Each attempt that misses the bound is a failure for the policy; the third
    attempt is ready in time, so start_child returns then."""
    attempts = 0

    async def ready_on_third(*, task_status: Any) -> None:
        nonlocal attempts
        attempts += 1
        await trio.sleep(5 if attempts < 3 else 1)
        task_status.started()
        await trio.sleep_forever()

    async with open_supervisor(max_restarts=5) as sup:
        h = await sup.start_child(ready_on_third, name="x", start_timeout=2)
        assert (h.attempts, trio.current_time()) == (3, 5)
        sup.cancel()


class SlowStart(Actor[str, str]):
    async def on_start(self) -> None:
        await trio.sleep(10)

    async def handle(self, message: str) -> str:
        return message  # pragma: no cover - never started


async def test_an_actor_whose_on_start_is_too_slow(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        with pytest.raises(TaskFailed) as failed:
            await sup.spawn_actor(
                SlowStart, name="slow", restart=Restart.TEMPORARY, start_timeout=1
            )
        assert isinstance(failed.value.__cause__, TaskTimeout)
        assert trio.current_time() == 1
