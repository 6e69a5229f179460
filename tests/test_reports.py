"""Reported values in every state: health reports, decisions, handle fields.

Whole reports are compared at once, so a field that is off shows up whichever it is.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import pytest
import trio
import trio.testing

from supervisor import (
    Backoff,
    Decision,
    Health,
    HealthReport,
    HealthRules,
    Restart,
    RestartIntensityExceeded,
    Strategy,
    TaskEvent,
    TaskStatus,
    open_supervisor,
)
from supervisor._health import FailureWindow, evaluate

from .helpers import sleep_then, sleep_then_raise

S = TaskStatus
D = Decision


def report(**fields: Any) -> HealthReport:
    """A report of an idle, open, default supervisor, with ``fields`` changed."""
    base: dict[str, Any] = {
        "status": Health.HEALTHY,
        "reasons": (),
        "pending": 0,
        "waiting": 0,
        "running": 0,
        "restarting": 0,
        "completed": 0,
        "failed": 0,
        "cancelled": 0,
        "submitted": 0,
        "max_concurrent": None,
        "max_pending": None,
        "restarts_in_period": 0,
        "restarts_remaining": 3,
        "oldest_pending_age": None,
        "longest_running_age": None,
        "recent_finished": 0,
        "recent_failed": 0,
        "last_failure": None,
        "uptime": 0,
        "closed": False,
        # actors left to its default, (): the report of a supervisor without actors
    }
    return HealthReport(**{**base, **fields})


# ---------------------------------------------------------------------------
# health() in every state
# ---------------------------------------------------------------------------


@pytest.mark.trio
async def test_report_of_a_fresh_supervisor(
    autojump_clock: trio.testing.MockClock,
) -> None:
    await trio.sleep(3)  # the clock does not start at 0: uptime counts from the open
    async with open_supervisor() as sup:
        assert sup.health() == report()
        await trio.sleep(2)
        assert sup.health() == report(uptime=2)
    assert sup.health() == report(uptime=2, closed=True)


@pytest.mark.trio
async def test_a_task_holding_a_slot_is_pending_but_not_waiting(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=2, max_pending=4) as sup:
        h = sup.submit_nowait(sleep_then, 1)
        # Not started yet (no checkpoint since): it holds a slot and waits for
        # nothing; nothing runs.
        assert sup.health() == report(
            pending=1, submitted=1, max_concurrent=2, max_pending=4
        )
        await trio.testing.wait_all_tasks_blocked()
        assert h.status is S.RUNNING
        assert sup.health() == report(
            running=1,
            submitted=1,
            max_concurrent=2,
            max_pending=4,
            longest_running_age=0,
        )


@pytest.mark.trio
async def test_counts_after_cancelling_queued_and_scheduled_tasks(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=2) as sup:
        running = sup.submit_nowait(sleep_then, 10)
        await trio.sleep(1)
        scheduled = sup.submit_nowait(sleep_then, 10)  # has the second slot
        queued = sup.submit_nowait(sleep_then, 10)
        waiting = sup.submit_nowait(sleep_then, 10)
        scheduled.cancel()  # before its runner's first step
        queued.cancel()
        assert sup.health() == report(
            running=1,
            pending=1,
            waiting=1,
            cancelled=2,
            submitted=4,
            max_concurrent=2,
            longest_running_age=1,
            oldest_pending_age=0,
            uptime=1,
        )
        await trio.sleep(2)
        # The scheduled task's slot went to the task behind the cancelled one.
        assert (waiting.status, waiting.started_at) == (S.RUNNING, 1)
        assert sup.health() == report(
            running=2,
            cancelled=2,
            submitted=4,
            max_concurrent=2,
            longest_running_age=3,
            uptime=3,
        )
        sup.cancel()
    assert [h.status for h in (running, scheduled, queued, waiting)] == [
        S.CANCELLED
    ] * 4
    assert (scheduled.started_at, queued.started_at) == (None, None)


@pytest.mark.trio
async def test_report_during_restarts_and_without_an_intensity_limit(
    autojump_clock: trio.testing.MockClock,
) -> None:
    boom = ValueError("boom")
    async with open_supervisor(restart_period=None) as sup:
        h = sup.submit_nowait(
            sleep_then_raise,
            1,
            boom,
            restart=Restart.TRANSIENT,
            backoff=Backoff(initial=10, jitter=0),
        )
        await trio.sleep(2)
        assert h.status is S.RESTARTING
        assert h.exception is boom  # the attempt that ended, while RESTARTING
        assert sup.health() == report(
            restarting=1, submitted=1, restarts_remaining=None, uptime=2
        )
        sup.cancel()


@pytest.mark.trio
async def test_last_failure_is_the_event_of_the_failure(
    autojump_clock: trio.testing.MockClock,
) -> None:
    boom = ValueError("boom")
    async with open_supervisor() as sup:
        await trio.sleep(1)
        h = sup.submit_nowait(sleep_then_raise, 2, boom, name="f")
        await h.wait()
        assert h.exception is boom  # read: the failure counts as retrieved
        rep = sup.health()
    assert rep.last_failure == TaskEvent(
        h.id, "f", S.RUNNING, S.FAILED, 3, 1, boom, D.GIVE_UP
    )
    assert rep == report(
        status=Health.HEALTHY,  # 1 finished < min_finished
        failed=1,
        submitted=1,
        recent_finished=1,
        recent_failed=1,
        last_failure=rep.last_failure,
        uptime=3,
    )


@pytest.mark.trio
async def test_last_failure_of_a_restart_given_up(
    autojump_clock: trio.testing.MockClock,
) -> None:
    first = ValueError("first")
    with pytest.raises(RestartIntensityExceeded):
        async with open_supervisor(max_restarts=1, restart_period=10) as sup:
            waiting = sup.submit_nowait(
                sleep_then_raise,
                1,
                first,
                restart=Restart.TRANSIENT,
                backoff=Backoff(initial=5, jitter=0),
                name="w",
            )
            await trio.sleep(1.5)
            sup.submit_nowait(
                sleep_then_raise, 0, ValueError("second"), restart=Restart.TRANSIENT
            )
            await trio.sleep_forever()
    last = sup.health().last_failure
    # The tipping task failed first; the restart given up is the last failure.
    assert last == TaskEvent(
        waiting.id, "w", S.RESTARTING, S.FAILED, 1.5, 1, first, D.ESCALATE
    )


@pytest.mark.trio
async def test_report_is_closed_while_a_shutdown_waits(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: list[HealthReport] = []
    async with open_supervisor() as sup:
        sup.submit_nowait(sleep_then, 5)

        async def watch() -> None:
            await trio.sleep(1)
            seen.append(sup.health())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch)
            await sup.shutdown()
    assert seen == [
        report(running=1, submitted=1, closed=True, uptime=1, longest_running_age=1)
    ]


# ---------------------------------------------------------------------------
# decisions and handle fields on every path
# ---------------------------------------------------------------------------


@pytest.mark.trio
async def test_every_end_carries_its_decision(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events: list[TaskEvent] = []
    async with open_supervisor(on_event=events.append, restart_period=None) as sup:
        plain_ok = sup.submit_nowait(sleep_then, 1)
        plain_fail = sup.submit_nowait(sleep_then_raise, 1, ValueError())
        plain_cancel = sup.submit_nowait(sleep_then, 5)
        transient_ok = sup.submit_nowait(sleep_then, 1, restart=Restart.TRANSIENT)
        transient_cancel = sup.submit_nowait(sleep_then, 5, restart=Restart.TRANSIENT)
        permanent_cancel = sup.submit_nowait(sleep_then, 5, restart=Restart.PERMANENT)
        permanent_last = sup.submit_nowait(
            sleep_then, 1, restart=Restart.PERMANENT, max_attempts=1
        )
        restarting_cancel = sup.submit_nowait(
            sleep_then_raise,
            1,
            ValueError(),
            restart=Restart.TRANSIENT,
            backoff=Backoff(initial=10, jitter=0),
        )
        await trio.sleep(2)
        for h in (plain_cancel, transient_cancel, permanent_cancel, restarting_cancel):
            h.cancel()

    def ends(h: Any) -> list[tuple[S | None, S, D | None]]:
        return [(e.old, e.new, e.decision) for e in events if e.task_id == h.id][2:]

    assert ends(plain_ok) == [(S.RUNNING, S.COMPLETED, None)]
    assert ends(plain_fail) == [(S.RUNNING, S.FAILED, D.GIVE_UP)]
    assert ends(plain_cancel) == [(S.RUNNING, S.CANCELLED, None)]
    assert ends(transient_ok) == [(S.RUNNING, S.COMPLETED, None)]
    assert ends(transient_cancel) == [(S.RUNNING, S.CANCELLED, None)]
    assert ends(permanent_cancel) == [(S.RUNNING, S.CANCELLED, None)]
    assert ends(permanent_last) == [(S.RUNNING, S.COMPLETED, D.GIVE_UP)]
    assert ends(restarting_cancel) == [
        (S.RUNNING, S.RESTARTING, D.RESTART),
        (S.RESTARTING, S.CANCELLED, None),
    ]
    created = [e for e in events if e.old is None]
    assert {(e.new, e.decision, e.attempt, e.exception) for e in created} == {
        (S.PENDING, None, 0, None)
    }


@pytest.mark.trio
async def test_sibling_stops_and_escalation_carry_their_decisions(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events: list[TaskEvent] = []
    with pytest.raises(RestartIntensityExceeded):
        async with open_supervisor(
            on_event=events.append,
            strategy=Strategy.ONE_FOR_ALL,
            max_restarts=1,
            restart_period=100,
        ) as sup:
            temporary = sup.submit_nowait(sleep_then, 100)
            permanent = sup.submit_nowait(sleep_then, 100, restart=Restart.PERMANENT)
            crasher = sup.submit_nowait(
                sleep_then_raise, 1, ValueError(), restart=Restart.TRANSIENT
            )
            await trio.sleep_forever()

    def ends(h: Any) -> list[tuple[S | None, S, D | None, float]]:
        return [(e.old, e.new, e.decision, e.at) for e in events if e.task_id == h.id][
            2:
        ]

    # t=1: the crasher restarts (decision 1) with its group; the TEMPORARY sibling
    # is stopped for good. t=2: it crashes again (decision 2): too many.
    assert ends(temporary) == [(S.RUNNING, S.CANCELLED, D.SIBLING_RESTART, 1)]
    assert ends(permanent) == [
        (S.RUNNING, S.RESTARTING, D.SIBLING_RESTART, 1),
        (S.RESTARTING, S.RUNNING, None, 1),
        (S.RUNNING, S.CANCELLED, None, 2),
    ]
    assert ends(crasher) == [
        (S.RUNNING, S.RESTARTING, D.RESTART, 1),
        (S.RESTARTING, S.RUNNING, None, 1),
        (S.RUNNING, S.FAILED, D.ESCALATE, 2),
    ]


@pytest.mark.trio
async def test_a_permanent_return_that_tips_the_intensity_keeps_its_value(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with pytest.raises(RestartIntensityExceeded) as info:
        async with open_supervisor(max_restarts=0) as sup:
            h = sup.submit_nowait(sleep_then, 1, "value", restart=Restart.PERMANENT)
            await trio.sleep_forever()
    assert info.value.__cause__ is None  # only normal returns were restarted
    assert (h.status, h.completed_at, h.exception) == (S.COMPLETED, 1, None)
    assert await h.result() == "value"


@pytest.mark.trio
async def test_exception_and_started_value_before_the_end(
    autojump_clock: trio.testing.MockClock,
) -> None:
    errors = [ValueError("one"), ValueError("two")]
    seen: list[tuple[S, object, BaseException | None]] = []

    async def child(*, task_status: Any) -> None:
        attempt = len(seen)
        seen.append((h_status(), h_started_value(), h_exception()))
        await trio.sleep(1)
        task_status.started(f"ready {attempt}")
        await trio.sleep(1)
        raise errors[attempt]

    async with open_supervisor(restart_period=None) as sup:
        handles: list[Any] = []

        def h_status() -> S:
            return S.RUNNING if not handles else handles[0].status

        def h_started_value() -> object:
            return None if not handles else handles[0].started_value

        def h_exception() -> BaseException | None:
            return None if not handles else handles[0].exception

        h = await sup.start_child(
            child,
            restart=Restart.TRANSIENT,
            max_attempts=2,
            backoff=Backoff(initial=1, jitter=0),
        )
        handles.append(h)
        assert (h.status, h.started_value, h.exception) == (S.RUNNING, "ready 0", None)
        await trio.sleep(1.5)  # t=2.5: the first attempt failed at 2
        assert (h.status, h.started_value, h.exception) == (
            S.RESTARTING,
            "ready 0",
            errors[0],
        )
        await h.wait()
    assert seen[1] == (S.RUNNING, "ready 0", errors[0])
    assert (h.status, h.started_value, h.exception) == (S.FAILED, "ready 1", errors[1])
    assert (h.attempts, h.completed_at) == (2, 5)


# ---------------------------------------------------------------------------
# the failure window: a clock that does not start at 0, boundaries, rounding
# ---------------------------------------------------------------------------


@pytest.mark.trio
async def test_failure_window_with_a_clock_far_from_zero(
    autojump_clock: trio.testing.MockClock,
) -> None:
    await trio.sleep(1234.5)
    rules = HealthRules(failure_window=10, min_finished=1)
    async with open_supervisor(health_rules=rules) as sup:
        await trio.sleep(0.1)  # 1234.6: bucket 1234
        await sup.submit_nowait(sleep_then_raise, 0, ValueError()).wait()
        await trio.sleep(0.9)  # 1235.5: bucket 1235
        await sup.submit_nowait(sleep_then, 0).wait()
        await trio.sleep_until(1243.9)  # buckets 1234 to 1243 are the window
        assert (sup.health().recent_finished, sup.health().recent_failed) == (2, 1)
        await trio.sleep_until(1244)  # bucket 1234 has left
        rep = sup.health()
        assert (rep.recent_finished, rep.recent_failed) == (1, 0)
        assert rep.status is Health.HEALTHY
        await trio.sleep_until(1245)
        assert sup.health().recent_finished == 0


def test_failure_window_on_a_bucket_boundary_that_rounds_down() -> None:
    # Width 0.3: (30 + 1) * 0.3 == 9.299999999999999, yet floor(that / 0.3) == 30.
    # The boundary test says "next bucket", the bucket index says "same bucket";
    # the index wins and the oldest bucket (21) stays in.
    fw = FailureWindow(3.0, now=0.0)
    fw.add(6.4, failed=True)  # bucket 21
    fw.add(9.0, failed=False)  # bucket 30
    edge = 31 * 0.3
    assert math.floor(edge / 0.3) == 30
    fw.add(edge, failed=False)
    assert fw.totals(edge) == (3, 1)
    assert fw.totals(9.3) == (2, 0)  # bucket 31: 21 has left


def test_failure_window_created_late_counts_its_first_bucket() -> None:
    fw = FailureWindow(10.0, now=1234.5)
    fw.add(1234.6, failed=True)
    fw.add(1235.5, failed=False)
    assert fw.totals(1243.9) == (2, 1)
    assert fw.totals(1244.0) == (1, 0)


def test_failure_window_created_late_with_wide_buckets() -> None:
    fw = FailureWindow(20.0, now=1234.5)  # buckets of 2 s: this one is 617
    fw.add(1235.0, failed=True)
    assert fw.totals(1253.9) == (1, 1)  # buckets 617 to 626
    assert fw.totals(1254.0) == (0, 0)  # 617 has left


# ---------------------------------------------------------------------------
# boundary values, defaults, messages
# ---------------------------------------------------------------------------


def test_health_rules_defaults_are_pinned() -> None:
    assert attrs.asdict(HealthRules()) == {
        "queue_degraded": 0.8,
        "queue_unhealthy": 1.0,
        "failure_window": 60.0,
        "min_finished": 10,
        "failure_rate_degraded": 0.1,
        "failure_rate_unhealthy": 0.5,
        "pending_age_degraded": None,
        "pending_age_unhealthy": None,
    }


def test_backoff_defaults_are_pinned() -> None:
    assert attrs.asdict(Backoff()) == {
        "initial": 0.1,
        "maximum": 30.0,
        "multiplier": 2.0,
        "jitter": 0.1,
    }


@pytest.mark.trio
async def test_zero_thresholds_hold_from_the_first_finished_task(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rules = HealthRules(
        min_finished=0,
        failure_rate_degraded=0,
        queue_degraded=0,
        pending_age_degraded=0,
        failure_rate_unhealthy=None,
        queue_unhealthy=None,
    )
    async with open_supervisor(
        max_concurrent=1, max_pending=2, health_rules=rules
    ) as sup:
        # Nothing finished yet: no rate to judge, even with min_finished=0.
        first = sup.health()
        assert (first.status, first.reasons) == (
            Health.DEGRADED,
            ("queue fill 0 >= 0",),
        )
        await sup.submit_nowait(sleep_then, 0).wait()
        sup.submit_nowait(sleep_then, 10)
        sup.submit_nowait(sleep_then, 10)  # waits, age 0
        rep = sup.health()
        sup.cancel()
    assert (rep.status, rep.reasons) == (
        Health.DEGRADED,
        ("queue fill 0.5 >= 0", "failure rate 0 >= 0", "oldest pending age 0 >= 0"),
    )


@pytest.mark.trio
async def test_no_queue_rule_without_room_to_queue(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rules = HealthRules(queue_degraded=0, queue_unhealthy=0)
    async with open_supervisor(
        max_concurrent=1, max_pending=0, health_rules=rules
    ) as sup:
        sup.submit_nowait(sleep_then, 10)
        assert sup.health().status is Health.HEALTHY
        sup.cancel()


def test_health_rules_boundary_values_are_accepted() -> None:
    rules = HealthRules(
        queue_degraded=0,
        queue_unhealthy=1,
        failure_window=1e-9,
        min_finished=0,
        failure_rate_degraded=0,
        failure_rate_unhealthy=1,
        pending_age_degraded=0,
        pending_age_unhealthy=0,
    )
    assert rules.failure_window == 1e-9


@pytest.mark.parametrize(
    "field",
    [
        "queue_degraded",
        "queue_unhealthy",
        "failure_rate_degraded",
        "failure_rate_unhealthy",
    ],
)
@pytest.mark.parametrize("bad", [-0.1, 1.1, math.nan])
def test_every_fraction_rule_names_itself_when_rejected(field: str, bad: float) -> None:
    with pytest.raises(
        ValueError, match=rf"^{field} must be between 0 and 1 or None, got {bad!r}$"
    ):
        HealthRules(**{field: bad})  # type: ignore[arg-type]  # one field, by name


@pytest.mark.parametrize("field", ["pending_age_degraded", "pending_age_unhealthy"])
@pytest.mark.parametrize("bad", [-1, math.nan])
def test_every_age_rule_names_itself_when_rejected(field: str, bad: float) -> None:
    with pytest.raises(
        ValueError, match=rf"^{field} must be >= 0 or None, got {bad!r}$"
    ):
        HealthRules(**{field: bad})  # type: ignore[arg-type]  # one field, by name


@pytest.mark.parametrize("bad", [1.5, "3", None])
def test_min_finished_must_be_an_int(bad: object) -> None:
    with pytest.raises(
        ValueError, match=rf"^min_finished must be an int >= 0, got {bad!r}$"
    ):
        HealthRules(min_finished=bad)  # type: ignore[arg-type]  # the point of the test


@pytest.mark.parametrize("bad", [-1.0, math.nan])
def test_failure_window_must_be_positive_and_finite(bad: float) -> None:
    with pytest.raises(
        ValueError, match=rf"^failure_window must be > 0 and finite, got {bad!r}$"
    ):
        HealthRules(failure_window=bad)


@pytest.mark.trio
async def test_cancel_empties_the_queue_in_the_report(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=1) as sup:
        for _ in range(4):
            sup.submit_nowait(sleep_then, 10)
        await trio.sleep(1)
        sup.cancel()
        await trio.sleep(1)
        assert sup.health() == report(
            cancelled=4, submitted=4, max_concurrent=1, closed=True, uptime=2
        )


def test_unhealthy_reasons_name_their_rule() -> None:
    rules = HealthRules(min_finished=1, pending_age_unhealthy=20)
    status, reasons = evaluate(
        rules,
        waiting=0,
        max_pending=None,
        recent_finished=4,
        recent_failed=2,
        oldest_pending_age=20,
    )
    assert status is Health.UNHEALTHY
    # An unhealthy rule's degraded twin is not listed again.
    assert reasons == ("failure rate 0.5 >= 0.5", "oldest pending age 20 >= 20")


def test_failure_window_counts_a_finish_on_a_boundary_in_the_new_bucket() -> None:
    fw = FailureWindow(10.0, now=0.0)
    fw.add(1.0, failed=True)  # bucket 1, exactly at its start
    assert fw.totals(10.5) == (1, 1)  # buckets 1 to 10
    assert fw.totals(11.0) == (0, 0)
