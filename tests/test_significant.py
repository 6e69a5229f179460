"""Significant children and auto_shutdown (API.md, "Significant children")."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing

from supervisor import AutoShutdown, Restart, TaskStatus, open_supervisor

pytestmark = pytest.mark.trio
S = TaskStatus
ANY = AutoShutdown.ANY_SIGNIFICANT
ALL = AutoShutdown.ALL_SIGNIFICANT


def finishes_at(when: float, *, fails: bool = False) -> Any:
    async def run(*, task_status: Any) -> None:
        task_status.started()
        await trio.sleep_until(when)
        if fails:
            raise ValueError(f"failed at {when}")

    return run


async def serve(*, task_status: Any) -> None:
    task_status.started()
    await trio.sleep_forever()


async def test_any_significant_child_ending_shuts_the_supervisor_down(
    autojump_clock: trio.testing.MockClock,
) -> None:
    reached: list[float] = []
    async with open_supervisor(auto_shutdown=ANY) as sup:
        server = await sup.start_child(serve)
        job = await sup.start_child(
            finishes_at(2), restart=Restart.TRANSIENT, significant=True
        )
        assert job.significant
        await trio.sleep(10)
        reached.append(trio.current_time())  # never: the body is cancelled at 2
    # the block exits without an exception, through a graceful shutdown
    assert reached == []
    assert trio.current_time() == 2
    assert (job.status, server.status, server.completed_at) == (
        S.COMPLETED,
        S.CANCELLED,
        2,
    )


async def test_all_significant_waits_for_the_last_one(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(auto_shutdown=ALL) as sup:
        first = sup.submit_nowait(trio.sleep, 1, significant=True)
        second = sup.submit_nowait(trio.sleep, 3, significant=True)
        other = sup.submit_nowait(trio.sleep, 2)
        await trio.sleep(1000)  # cancelled when the supervisor shuts down
    assert trio.current_time() == 3
    assert [h.status for h in (first, second, other)] == [S.COMPLETED] * 3


async def test_a_failure_with_no_restart_counts_as_ending_by_itself(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(auto_shutdown=ANY) as sup:
        h = await sup.start_child(
            finishes_at(1, fails=True),
            restart=Restart.TRANSIENT,
            max_attempts=1,
            significant=True,
        )
        await trio.sleep(1000)  # cancelled when the supervisor shuts down
    assert (h.status, trio.current_time()) == (S.FAILED, 1)


async def test_a_restarted_significant_child_does_not_shut_down(
    autojump_clock: trio.testing.MockClock,
) -> None:
    runs = 0

    async def fails_once(*, task_status: Any) -> None:
        nonlocal runs
        runs += 1
        task_status.started()
        await trio.sleep(1)
        if runs == 1:
            raise ValueError("first run")

    async with open_supervisor(auto_shutdown=ANY) as sup:
        h = await sup.start_child(
            fails_once, restart=Restart.TRANSIENT, significant=True
        )
        await trio.sleep(1000)  # cancelled when the supervisor shuts down
    # failed at 1 and restarted; the second run returned at 2: that one shuts down
    assert (h.status, h.attempts, trio.current_time()) == (S.COMPLETED, 2, 2)


async def test_stops_on_purpose_never_trigger_auto_shutdown(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(auto_shutdown=ANY) as sup:
        a = await sup.start_child(serve, restart=Restart.TRANSIENT, significant=True)
        b = sup.submit_nowait(trio.sleep_forever, significant=True)
        await trio.sleep(1)
        await sup.terminate_child(a)
        b.cancel()
        await trio.sleep(1)
        assert not sup.closed
        c = sup.submit_nowait(trio.sleep, 1, significant=True)
        await trio.sleep(1000)  # cancelled when the supervisor shuts down
    assert (c.status, trio.current_time()) == (S.COMPLETED, 3)


async def test_all_significant_ignores_terminated_ones(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(auto_shutdown=ALL) as sup:
        a = await sup.start_child(serve, restart=Restart.TRANSIENT, significant=True)
        sup.submit_nowait(trio.sleep, 2, significant=True)
        await sup.terminate_child(a)
        await trio.sleep(1000)  # cancelled when the supervisor shuts down
    assert trio.current_time() == 2


async def test_significant_is_validated() -> None:
    with pytest.raises(TypeError, match="auto_shutdown must be an AutoShutdown"):
        async with open_supervisor(auto_shutdown="any"):  # type: ignore[arg-type]
            pass  # pragma: no cover
    async with open_supervisor() as sup:
        with pytest.raises(ValueError, match=r"auto_shutdown=AutoShutdown\.ANY"):
            sup.submit_nowait(trio.sleep, 1, significant=True)
    async with open_supervisor(auto_shutdown=ANY) as sup:
        with pytest.raises(ValueError, match=r"^significant=True needs a TRANSIENT"):
            await sup.start_child(serve, significant=True)  # PERMANENT by default
        with pytest.raises(TypeError, match="significant must be a bool"):
            sup.submit_nowait(trio.sleep, 1, significant=1)  # type: ignore[arg-type]
        assert sup.tasks() == []


async def test_auto_shutdown_lets_other_work_finish_within_the_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(auto_shutdown=ANY, shutdown_grace=5) as sup:
        other = sup.submit_nowait(trio.sleep, 3)
        endless = sup.submit_nowait(trio.sleep_forever)
        sup.submit_nowait(trio.sleep, 1, significant=True)
        await trio.sleep(1000)  # cancelled when the supervisor shuts down
    # shutdown began at 1: other finished at 3; endless was cancelled at 1 + 5
    assert (other.status, other.completed_at) == (S.COMPLETED, 3)
    assert (endless.status, endless.completed_at) == (S.CANCELLED, 6)


async def test_a_significant_task_that_honours_a_shutdown_does_not_shut_down_again(
    autojump_clock: trio.testing.MockClock,
) -> None:
    from supervisor import current_handle

    async def honours() -> None:
        h = current_handle()
        assert h is not None
        await h.wait_stop_requested()

    async with open_supervisor(auto_shutdown=ANY, shutdown_grace=1) as sup:
        sup.submit_nowait(honours, significant=True)
        slow = sup.submit_nowait(trio.sleep, 3)
        await trio.lowlevel.checkpoint()
        # its end, asked for by this shutdown, starts no second one (with its own
        # grace of 1 s, that one would cancel slow)
        await sup.shutdown(grace=None)
    assert (slow.status, slow.completed_at) == (S.COMPLETED, 3)


async def test_auto_shutdown_starts_its_drain_when_it_fires(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(auto_shutdown=ANY, shutdown_grace=2) as sup:
        endless = sup.submit_nowait(trio.sleep_forever)
        sup.submit_nowait(trio.sleep, 1, significant=True)
        try:
            await trio.sleep(1000)
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(5)  # the body takes 5 s to leave
    # the drain began at 1, not when the body left at 6: its grace ended at 3
    assert (endless.status, endless.completed_at) == (S.CANCELLED, 3)
