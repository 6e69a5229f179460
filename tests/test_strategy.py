"""ONE_FOR_ALL and REST_FOR_ONE (trio, virtual time)."""

from __future__ import annotations

import gc
import weakref
from typing import Any, NoReturn

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
    open_supervisor,
)

pytestmark = pytest.mark.trio
S = TaskStatus


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[float, str]] = []

    def __call__(self, what: str) -> None:
        self.lines.append((trio.current_time(), what))


def worker(log: Log, tag: str, crash_at: float | None = None) -> Any:
    runs = 0

    async def run() -> None:
        nonlocal runs
        runs += 1
        log(f"{tag} start")
        try:
            if crash_at is not None and runs == 1:
                await trio.sleep(crash_at)
                raise ValueError(f"{tag} crashed")
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(0.5)  # cleanup takes half a second
                log(f"{tag} cleaned")

    run.__qualname__ = tag
    return run


async def start_three(
    sup: Any, log: Log, crasher: str, **opts: Any
) -> list[TaskHandle[Any]]:
    handles = []
    for tag in "abc":
        fn = worker(log, tag, crash_at=1 if tag == crasher else None)
        handles.append(
            sup.submit_nowait(fn, restart=Restart.PERMANENT, name=tag, **opts)
        )
        await trio.sleep(0.1)  # a, b, c start in this order
    return handles


async def test_one_for_all_restarts_every_child_in_start_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log = Log()
    events: list[Any] = []
    async with open_supervisor(
        strategy=Strategy.ONE_FOR_ALL, on_event=events.append
    ) as sup:
        a, b, c = await start_three(sup, log, crasher="b")
        await trio.sleep(5)
        assert [h.status for h in (a, b, c)] == [S.RUNNING] * 3
        assert [h.attempts for h in (a, b, c)] == [2, 2, 2]
        sup.cancel()
    # b crashes at 1.1 (its own cleanup runs first); then c and a are stopped one at
    # a time, newest first, each after the previous one's cleanup (OTP's order);
    # then a, b, c restart in start order.
    lines = log.lines
    assert lines[:4] == [
        (0.0, "a start"),
        (0.1, "b start"),
        (0.2, "c start"),
        (1.6, "b cleaned"),
    ]
    assert lines[4:6] == [(2.1, "c cleaned"), (2.6, "a cleaned")]
    # only then do all three restart, in start order
    assert lines[6:9] == [(2.6, "a start"), (2.6, "b start"), (2.6, "c start")]
    restarted = [e.name for e in events if e.new is S.RUNNING and e.attempt == 2]
    assert restarted == ["a", "b", "c"]
    # being stopped by the strategy is RUNNING -> RESTARTING, not a cancellation
    assert [e.new for e in events if e.name == "a"][:4] == [
        S.PENDING,
        S.RUNNING,
        S.RESTARTING,
        S.RUNNING,
    ]


async def test_rest_for_one_restarts_the_child_and_those_started_after_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log = Log()
    async with open_supervisor(strategy=Strategy.REST_FOR_ONE) as sup:
        a, b, c = await start_three(sup, log, crasher="b")
        await trio.sleep(5)
        assert [h.attempts for h in (a, b, c)] == [1, 2, 2]
        sup.cancel()
    assert "a cleaned" not in [w for t, w in log.lines if t < 5]


async def test_temporary_sibling_is_stopped_for_good(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log = Log()
    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as sup:
        one_shot = sup.submit_nowait(trio.sleep_forever)  # TEMPORARY
        await trio.sleep(0.1)
        crasher = sup.submit_nowait(
            worker(log, "x", crash_at=1), restart=Restart.TRANSIENT
        )
        await trio.sleep(5)
        assert (one_shot.status, one_shot.attempts) == (S.CANCELLED, 1)
        assert crasher.attempts == 2
        sup.cancel()


async def test_exhausted_sibling_is_stopped_for_good(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log = Log()
    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as sup:
        done = sup.submit_nowait(
            trio.sleep_forever, restart=Restart.PERMANENT, max_attempts=1
        )
        await trio.sleep(0.1)
        sup.submit_nowait(worker(log, "x", crash_at=1), restart=Restart.PERMANENT)
        await trio.sleep(5)
        assert (done.status, done.attempts) == (S.CANCELLED, 1)
        sup.cancel()


async def test_failing_temporary_task_triggers_no_strategy(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def crash() -> NoReturn:
        await trio.sleep(1)
        raise ValueError

    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as sup:
        service = sup.submit_nowait(trio.sleep_forever, restart=Restart.PERMANENT)
        sup.submit_nowait(crash)
        await trio.sleep(5)
        assert (service.status, service.attempts) == (S.RUNNING, 1)
        sup.cancel()


async def test_start_children_restart_in_order_each_ready_before_the_next(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ready_at: list[tuple[str, float]] = []
    crashed = False

    def child(tag: str, boot: float) -> Any:
        async def run(*, task_status: Any) -> None:
            nonlocal crashed
            await trio.sleep(boot)
            ready_at.append((tag, trio.current_time()))
            task_status.started(tag)
            if tag == "a" and not crashed:
                crashed = True
                await trio.sleep(10)
                raise ValueError("a crashed")
            await trio.sleep_forever()

        return run

    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as sup:
        for tag, boot in (("a", 1), ("b", 2), ("c", 3)):
            await sup.start_child(child(tag, boot), name=tag)
        # a, b, c ready at 1, 3, 6; a crashes at 11; b, c are stopped then;
        # restarted in order, each ready before the next: a at 12, b at 14, c at 17
        await trio.sleep(20)
        sup.cancel()
    assert ready_at == [("a", 1), ("b", 3), ("c", 6), ("a", 12), ("b", 14), ("c", 17)]


async def test_group_restart_counts_as_one_decision(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log = Log()
    async with open_supervisor(
        strategy=Strategy.ONE_FOR_ALL, max_restarts=1, restart_period=100
    ) as sup:
        await start_three(sup, log, crasher="a")
        await trio.sleep(5)
        report = sup.health()
        sup.cancel()
    assert report.restarts_in_period == 1
    assert report.restarts_remaining == 0


async def test_intensity_exceeded_under_one_for_all(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def crash_loop() -> NoReturn:
        await trio.sleep(1)
        raise ValueError("again")

    with pytest.raises(RestartIntensityExceeded):
        async with open_supervisor(
            strategy=Strategy.ONE_FOR_ALL, max_restarts=2, restart_period=10
        ) as sup:
            sibling = sup.submit_nowait(trio.sleep_forever, restart=Restart.PERMANENT)
            sup.submit_nowait(
                crash_loop,
                restart=Restart.PERMANENT,
                backoff=Backoff(initial=0.5, jitter=0),
            )
            await trio.sleep_forever()
    assert sibling.status is S.CANCELLED
    # crashes at 1, then (backoff 0.5) 2.5, then (backoff 1.0) 4.5: the third
    # decision is one too many
    assert trio.current_time() == 4.5


async def test_sibling_stops_are_marked_in_events(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log = Log()
    events: list[Any] = []
    async with open_supervisor(
        strategy=Strategy.ONE_FOR_ALL, on_event=events.append
    ) as sup:
        one_shot = sup.submit_nowait(trio.sleep_forever)
        await start_three(sup, log, crasher="b")
        await trio.sleep(5)
        sup.cancel()
    decisions = {(e.name, e.new): e.decision for e in events if e.decision is not None}
    assert decisions[("b", S.RESTARTING)] is Decision.RESTART
    assert decisions[("a", S.RESTARTING)] is Decision.SIBLING_RESTART
    assert decisions[(one_shot.name, S.CANCELLED)] is Decision.SIBLING_RESTART


@pytest.mark.parametrize("strategy", [Strategy.ONE_FOR_ALL, Strategy.REST_FOR_ONE])
@pytest.mark.parametrize(
    ("restart", "max_attempts"),
    [(Restart.TEMPORARY, None), (Restart.TRANSIENT, None), (Restart.PERMANENT, 1)],
)
async def test_finished_children_are_released(
    autojump_clock: trio.testing.MockClock,
    strategy: Strategy,
    restart: Restart,
    max_attempts: int | None,
) -> None:
    async def child(*, task_status: Any) -> None:
        task_status.started()
        await trio.sleep(1)

    refs = []
    async with open_supervisor(strategy=strategy) as sup:
        keeper = sup.submit_nowait(trio.sleep_forever, restart=Restart.PERMANENT)
        for _ in range(10):
            h = sup.submit_nowait(
                trio.sleep, 1, restart=restart, max_attempts=max_attempts
            )
            refs.append(weakref.ref(h))
            h = await sup.start_child(child, restart=restart, max_attempts=max_attempts)
            refs.append(weakref.ref(h))
        del h
        await trio.sleep(5)
        gc.collect()
        assert [r() for r in refs] == [None] * 20
        assert sup.tasks() == [keeper]
        sup.cancel()


async def test_a_child_cancelled_before_it_started_is_released(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL, max_concurrent=1) as sup:
        running = sup.submit_nowait(trio.sleep, 1)
        queued = sup.submit_nowait(trio.sleep, 1)
        queued.cancel()
        ref = weakref.ref(queued)
        del queued
        assert sup.tasks() == [running]
        await trio.sleep(2)  # its queue entry is dropped when the slot frees
        gc.collect()
        assert ref() is None
