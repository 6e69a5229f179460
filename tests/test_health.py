"""Health reports and the rules that choose their status (trio, virtual time)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import trio
import trio.testing

from supervisor import Health, HealthRules, Restart, open_supervisor
from supervisor._health import FailureWindow, evaluate


async def ok_after(seconds: float) -> None:
    await trio.sleep(seconds)


async def fail_after(seconds: float) -> None:
    await trio.sleep(seconds)
    raise ValueError("x")


@pytest.mark.trio
async def test_report_counts_and_ages_are_exact(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=2, max_pending=10) as sup:
        await trio.sleep(1)
        sup.submit_nowait(ok_after, 1)
        sup.submit_nowait(fail_after, 1)
        sup.submit_nowait(ok_after, 100)  # queued at 1, runs from 2
        sup.submit_nowait(ok_after, 100)  # queued at 1, runs from 2
        sup.submit_nowait(ok_after, 100)  # waits
        await trio.sleep(3)  # t=4
        report = sup.health()
        sup.cancel()
    assert report.uptime == 4
    assert (report.pending, report.waiting, report.running, report.restarting) == (
        1,
        1,
        2,
        0,
    )
    assert (report.completed, report.failed, report.cancelled, report.submitted) == (
        1,
        1,
        0,
        5,
    )
    assert (report.max_concurrent, report.max_pending) == (2, 10)
    assert report.oldest_pending_age == 3
    assert report.longest_running_age == 2
    assert (report.recent_finished, report.recent_failed) == (2, 1)
    assert report.last_failure is not None
    assert (report.last_failure.task_id, report.last_failure.at) == (2, 2)
    assert isinstance(report.last_failure.exception, ValueError)
    assert report.restarts_in_period == 0
    assert not report.closed
    final = sup.health()
    assert final.closed
    assert (final.pending, final.running, final.cancelled) == (0, 0, 3)


@pytest.mark.trio
async def test_ages_follow_cancelled_waiters_restarts_and_unstarted_tasks(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The oldest waiter skips the ones cancelled while waiting; the longest running
    age is that of the oldest current attempt, also while tasks that hold a slot
    have not run yet, and after a restart."""
    attempts = 0

    async def fails_once_at_3() -> None:
        nonlocal attempts
        attempts += 1
        await trio.sleep(3 if attempts == 1 else 100)
        if attempts == 1:
            raise ValueError("once")

    async with open_supervisor(max_concurrent=2) as sup:
        first = sup.submit_nowait(fails_once_at_3, restart=Restart.TRANSIENT)
        assert sup.health().longest_running_age is None  # holds a slot, not run yet
        await trio.sleep(1)
        sup.submit_nowait(ok_after, 100)  # runs from 1
        cancelled = [sup.submit_nowait(ok_after, 1) for _ in range(3)]  # wait from 1
        await trio.sleep(1)  # t=2
        sup.submit_nowait(ok_after, 1)  # waits from 2
        for h in cancelled:
            h.cancel()
        report = sup.health()
        assert (report.longest_running_age, report.oldest_pending_age) == (2, 0)
        await trio.sleep(2)  # t=4: the first task restarted at 3, the other runs from 1
        assert first.attempts == 2
        assert sup.health().longest_running_age == 3
        sup.cancel()


@pytest.mark.trio
async def test_queue_fill_degrades_then_makes_unhealthy(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=1, max_pending=5) as sup:
        sup.submit_nowait(trio.sleep_forever)
        statuses = []
        for _ in range(5):
            sup.submit_nowait(trio.sleep_forever)
            statuses.append(sup.health().status)
        report = sup.health()
        sup.cancel()
    assert statuses == [Health.HEALTHY] * 3 + [Health.DEGRADED, Health.UNHEALTHY]
    assert report.reasons == ("queue fill 1 >= 1",)


@pytest.mark.trio
async def test_failure_rate_rules_apply_after_min_finished(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rules = HealthRules(
        min_finished=4, failure_rate_degraded=0.25, failure_rate_unhealthy=0.5
    )
    async with open_supervisor(health_rules=rules) as sup:
        for fn in (fail_after, ok_after, ok_after):
            await sup.submit_nowait(fn, 0).wait()
        assert sup.health().status is Health.HEALTHY  # 3 finished < min_finished
        await sup.submit_nowait(ok_after, 0).wait()
        report = sup.health()
        assert (report.status, report.reasons) == (
            Health.DEGRADED,
            ("failure rate 0.25 >= 0.25",),
        )
        await sup.submit_nowait(fail_after, 0).wait()
        await sup.submit_nowait(fail_after, 0).wait()
        assert sup.health().status is Health.UNHEALTHY  # 3 of 6


@pytest.mark.trio
async def test_failures_leave_the_window(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rules = HealthRules(failure_window=10, min_finished=1)
    async with open_supervisor(health_rules=rules) as sup:
        await sup.submit_nowait(fail_after, 0).wait()
        assert sup.health().status is Health.UNHEALTHY
        await trio.sleep(9.5)  # bucket 0 [0, 1) is still one of the last ten
        assert sup.health().recent_failed == 1
        await trio.sleep(0.5)  # t=10: bucket 0 has left
        report = sup.health()
        assert (report.recent_finished, report.status) == (0, Health.HEALTHY)
        assert report.failed == 1  # cumulative counts stay


@pytest.mark.trio
async def test_pending_age_rules(autojump_clock: trio.testing.MockClock) -> None:
    rules = HealthRules(pending_age_degraded=5, pending_age_unhealthy=20)
    async with open_supervisor(max_concurrent=1, health_rules=rules) as sup:
        sup.submit_nowait(trio.sleep_forever)
        sup.submit_nowait(trio.sleep_forever)
        seen = []
        for _ in range(3):
            await trio.sleep(10)
            seen.append(sup.health().status)
        sup.cancel()
    assert seen == [Health.DEGRADED, Health.UNHEALTHY, Health.UNHEALTHY]


@pytest.mark.trio
async def test_rules_can_be_turned_off(autojump_clock: trio.testing.MockClock) -> None:
    rules = HealthRules(queue_degraded=None, queue_unhealthy=None)
    async with open_supervisor(
        max_concurrent=1, max_pending=1, health_rules=rules
    ) as sup:
        sup.submit_nowait(trio.sleep_forever)
        sup.submit_nowait(trio.sleep_forever)
        assert sup.health().status is Health.HEALTHY
        sup.cancel()


def test_evaluate_reports_every_rule_that_holds() -> None:
    rules = HealthRules(min_finished=1, pending_age_degraded=1)
    status, reasons = evaluate(
        rules,
        waiting=9,
        max_pending=10,
        recent_finished=10,
        recent_failed=2,
        oldest_pending_age=3,
    )
    assert status is Health.DEGRADED
    assert reasons == (
        "queue fill 0.9 >= 0.8",
        "failure rate 0.2 >= 0.1",
        "oldest pending age 3 >= 1",
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"queue_degraded": 1.5},
            r"^queue_degraded must be between 0 and 1 or None, got 1.5$",
        ),
        (
            {"failure_rate_unhealthy": math.nan},
            r"^failure_rate_unhealthy must be between 0 and 1 or None, got nan$",
        ),
        ({"failure_window": 0}, r"^failure_window must be > 0 and finite, got 0$"),
        (
            {"failure_window": math.inf},
            r"^failure_window must be > 0 and finite, got inf$",
        ),
        ({"min_finished": -1}, r"^min_finished must be an int >= 0, got -1$"),
        (
            {"pending_age_degraded": -1},
            r"^pending_age_degraded must be >= 0 or None, got -1$",
        ),
    ],
)
def test_bad_rules_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HealthRules(**kwargs)


def test_failure_window_counts_exactly_the_last_ten_buckets() -> None:
    window = FailureWindow(10.0, now=0.0)
    for t in range(30):
        window.add(t + 0.5, failed=t % 3 == 0)
    # at t=29.9 the buckets [20, 21) ... [29, 30) are in: t = 20..29
    finished, failed = window.totals(29.9)
    assert (finished, failed) == (10, sum(1 for t in range(20, 30) if t % 3 == 0))


def test_failure_window_forgets_everything_after_a_long_gap() -> None:
    window = FailureWindow(10.0, now=0.0)
    window.add(0.0, failed=True)
    assert window.totals(5.0) == (1, 1)
    assert window.totals(1000.0) == (0, 0)
    window.add(1000.5, failed=False)
    assert window.totals(1001.0) == (1, 0)
