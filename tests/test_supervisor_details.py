"""Smaller contracts of the Supervisor object: defaults, reprs, checks (trio)."""

from __future__ import annotations

import gc
import inspect
import math
import re
import weakref
from typing import TYPE_CHECKING, Any

import pytest
import trio
import trio.testing

from supervisor import (
    Backoff,
    Decision,
    Restart,
    RestartIntensityExceeded,
    Supervisor,
    TaskCancelled,
    TaskEvent,
    TaskStatus,
    current_handle,
    open_supervisor,
)

from .helpers import sleep_then, slow_cleanup

if TYPE_CHECKING:
    from .conftest import Recorder

pytestmark = pytest.mark.trio
S = TaskStatus


async def test_signature_shows_where_a_default_comes_from() -> None:
    shown = str(inspect.signature(Supervisor.shutdown))
    assert "= <default>" in shown  # omitted grace: the supervisor's shutdown_grace


async def test_subscriptions_buffer_1000_events_by_default() -> None:
    async with open_supervisor() as sup:
        async with sup.subscribe() as events:
            assert events.max_buffer == 1000


async def test_on_event_keeps_receiving_after_a_subscriber_leaves(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    async with open_supervisor(on_event=recorder) as sup:
        async with sup.subscribe():
            pass
        h = sup.submit_nowait(sleep_then, 1)
    assert [e.new for e in recorder.events if e.task_id == h.id] == [
        S.PENDING,
        S.RUNNING,
        S.COMPLETED,
    ]


async def test_start_child_accepts_a_function_taking_any_keywords(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def flexible(**kwargs: Any) -> None:
        kwargs["task_status"].started("via kwargs")
        await trio.sleep_forever()

    async with open_supervisor() as sup:
        h = await sup.start_child(flexible)
        assert h.started_value == "via kwargs"
        sup.cancel()


async def test_start_child_names_itself_when_rejecting_a_sync_function() -> None:
    def sync(*, task_status: Any) -> None:
        pass

    async with open_supervisor() as sup:
        with pytest.raises(
            TypeError, match=r"^start_child\(\) takes an async function, got the sync"
        ):
            await sup.start_child(sync)  # type: ignore[arg-type]  # the point of the test


async def test_repr_through_the_life_of_a_supervisor(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor("pool") as sup:
        prefix = f"<supervisor.Supervisor 'pool' at {id(sup):#x}, "
        sup.submit_nowait(sleep_then, 5)
        sup.submit_nowait(
            sleep_then,
            0,
            restart=Restart.PERMANENT,
            max_attempts=2,
            backoff=Backoff(initial=10, jitter=0),
        )
        await trio.testing.wait_all_tasks_blocked()
        # One runs; the other waits to restart, which is not pending.
        assert repr(sup) == prefix + "open, 1 running, 0 pending>"
        sup.submit_nowait(sleep_then, 5)
        assert repr(sup) == prefix + "open, 1 running, 1 pending>"
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sup.shutdown)
            await trio.testing.wait_all_tasks_blocked()
            assert re.fullmatch(
                re.escape(prefix) + r"closed, \d running, \d pending>", repr(sup)
            )
    assert repr(sup) == prefix + "done, 0 running, 0 pending>"


async def test_shutdown_without_grace_uses_the_supervisors(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(shutdown_grace=2) as sup:
        h = sup.submit_nowait(sleep_then, 10)
        await sup.shutdown()
        assert trio.current_time() == 2
    assert (h.status, h.completed_at) == (S.CANCELLED, 2)


async def test_cancelling_a_task_in_its_backoff_ends_it_without_waiting(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def fails() -> None:
        await trio.sleep(1)
        raise ValueError("again")

    async with open_supervisor() as sup:
        h = sup.submit_nowait(
            fails,
            restart=Restart.TRANSIENT,
            backoff=Backoff(initial=100, maximum=100, jitter=0),
        )
        await trio.sleep(2)
        assert h.status is S.RESTARTING
        h.cancel()
    # Nothing waited for the rest of the backoff.
    assert trio.current_time() == 2
    assert (h.status, h.completed_at, h.attempts) == (S.CANCELLED, 2, 1)


async def test_a_failing_on_event_hook_is_logged_by_name(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    def bad_hook(event: object) -> None:
        raise ZeroDivisionError

    async with open_supervisor("jobs", on_event=bad_hook):
        pass
    assert [r.getMessage() for r in caplog.records] == []  # no event, no call
    async with open_supervisor("jobs", on_event=bad_hook) as sup:
        sup.submit_nowait(sleep_then, 0)
    messages = {r.getMessage() for r in caplog.records if r.name == "supervisor"}
    assert messages == {
        f"supervisor 'jobs': on_event hook {bad_hook!r} raised; ignored"
    }


async def test_a_restart_into_a_free_slot_takes_that_slot(
    autojump_clock: trio.testing.MockClock,
) -> None:
    runs = 0

    async def fails_once() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            await trio.sleep(1)
            raise ValueError("once")
        await trio.sleep_forever()

    async with open_supervisor(max_concurrent=2) as sup:
        other = sup.submit_nowait(trio.sleep_forever)
        a = sup.submit_nowait(
            fails_once, restart=Restart.TRANSIENT, backoff=Backoff(initial=1, jitter=0)
        )
        await trio.sleep(2.5)  # a restarted at 2, into the slot it had left
        assert (a.status, a.attempts) == (S.RUNNING, 2)
        late = sup.submit_nowait(sleep_then, 1)
        await trio.testing.wait_all_tasks_blocked()
        report = sup.health()
        assert (report.running, report.waiting, late.status) == (2, 1, S.PENDING)
        other.cancel()
        await late.wait()
        assert (late.started_at, late.completed_at) == (2.5, 3.5)
        last = sup.submit_nowait(sleep_then, 1)  # a's slot and a free one: runs now
        await trio.testing.wait_all_tasks_blocked()
        assert (last.status, last.started_at) == (S.RUNNING, 3.5)
        sup.cancel()


async def test_giving_up_fails_a_restart_that_waits_for_a_slot(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events: list[TaskEvent] = []
    a_error = ValueError("a")

    async def fail_at(when: float, error: BaseException) -> None:
        await trio.sleep_until(when)
        raise error

    with pytest.raises(RestartIntensityExceeded):
        async with open_supervisor(
            max_concurrent=2, max_restarts=1, restart_period=10, on_event=events.append
        ) as sup:
            a = sup.submit_nowait(
                fail_at,
                1,
                a_error,
                restart=Restart.TRANSIENT,
                backoff=Backoff(initial=1, jitter=0),
            )
            c = sup.submit_nowait(
                fail_at, 3, ValueError("c"), restart=Restart.TRANSIENT
            )
            await trio.sleep(1.5)
            b = sup.submit_nowait(sleep_then, 100)  # takes the slot a left
            await trio.sleep(1)
            # a's backoff ended at 2; with both slots taken it waits for one.
            assert (a.status, sup.health().restarting) == (S.RESTARTING, 1)
            await trio.sleep_forever()
    # c's failure at 3 is one restart too many: a's restart is given up.
    assert (a.status, a.completed_at, a.exception) == (S.FAILED, 3, a_error)
    assert [(e.new, e.decision) for e in events if e.task_id == a.id][-1] == (
        S.FAILED,
        Decision.ESCALATE,
    )
    assert (c.status, b.status) == (S.FAILED, S.CANCELLED)


async def test_a_plain_task_is_temporary_without_a_cap(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        h = sup.submit_nowait(sleep_then, 1)
    assert (h.restart, h.max_attempts, h.timeout) == (Restart.TEMPORARY, None, None)
    assert h.started_value is None  # only start_child children report one


async def test_the_default_intensity_is_three_restarts_in_five_seconds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Restart decisions at 1, 2 and 3, then at 6.5: 2, 3 and 6.5 are within five
    # seconds of each other, 1 is not, so no more than three are.
    gaps = iter([1, 1, 1, 3.5])

    async def returns() -> None:
        await trio.sleep(next(gaps, math.inf))

    async with open_supervisor() as sup:
        h = sup.submit_nowait(returns, restart=Restart.PERMANENT)
        await trio.sleep(7)
        report = sup.health()
        assert (h.attempts, report.restarts_in_period) == (5, 3)
        assert report.restarts_remaining == 0
        sup.cancel()


async def test_shutdown_does_not_wait_when_a_restart_takes_the_last_slot(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def fails_once() -> None:
        if trio.current_time() < 1:
            await trio.sleep(1)
            raise ValueError("once")
        await trio.sleep_forever()

    async with open_supervisor(max_concurrent=1) as sup:
        service = sup.submit_nowait(
            fails_once,
            restart=Restart.PERMANENT,
            backoff=Backoff(initial=1, jitter=0),
        )
        await trio.sleep(1.5)  # service waits out its backoff until 2
        first = sup.submit_nowait(sleep_then, 1)  # takes the slot: 1.5 to 2.5
        queued = sup.submit_nowait(sleep_then, 1)
        await trio.sleep(0.1)
    # At 2.5 the slot went to the service's restart, leaving `queued` no slot
    # until the service stops, which only happens after the one-shot work: so
    # the shutdown gave up on `queued` then, instead of waiting forever.
    assert trio.current_time() == 2.5
    assert (first.status, first.completed_at) == (S.COMPLETED, 2.5)
    assert (queued.status, queued.started_at) == (S.CANCELLED, None)
    # Its restart got the slot at 2.5; whether it began before the stop depends on
    # the order trio runs the two in, so only its end is exact.
    assert (service.status, service.completed_at) == (S.CANCELLED, 2.5)


@pytest.mark.task_runners
async def test_each_task_runs_in_a_trio_task_named_after_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def my_name() -> str:
        task = trio.lowlevel.current_task()
        await trio.sleep(1)
        return task.name

    async with open_supervisor(max_concurrent=1) as sup:
        first = sup.submit_nowait(my_name, name="first")
        queued = sup.submit_nowait(my_name, name="queued")  # started by the first's end
        assert await first.result() == "first"
        assert await queued.result() == "queued"


async def test_an_illegal_transition_is_refused_with_its_name(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # The one place that writes a status guards the table; the property tests
    # rely on it. Driven directly here: no legal use reaches it.
    async with open_supervisor() as sup:
        h = sup.submit_nowait(sleep_then, 0)
    with pytest.raises(
        AssertionError,
        match=r"^illegal transition COMPLETED -> RUNNING of <supervisor.TaskHandle 1 "
        r"'sleep_then' COMPLETED>$",
    ):
        sup._core.table.transition(h, S.RUNNING, 1.0)


async def test_start_child_raises_when_its_child_is_cancelled_between_attempts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def never_ready(*, task_status: Any) -> None:
        await trio.sleep(1)
        raise ValueError("not ready")

    async with open_supervisor() as sup:

        async def cancel_at_5() -> None:
            await trio.sleep(5)
            (h,) = sup.tasks()
            assert h.status is S.RESTARTING
            h.cancel()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(cancel_at_5)
            with trio.fail_after(100), pytest.raises(TaskCancelled):
                await sup.start_child(
                    never_ready,
                    restart=Restart.TRANSIENT,
                    backoff=Backoff(initial=10, maximum=10, jitter=0),
                )
            assert trio.current_time() == 5


async def test_a_temporary_task_keeps_its_attempt_cap(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        capped = sup.submit_nowait(sleep_then, 0, max_attempts=2)
        with_backoff = sup.submit_nowait(sleep_then, 0, backoff=Backoff())
    assert (capped.restart, capped.max_attempts) == (Restart.TEMPORARY, 2)
    assert (with_backoff.restart, with_backoff.max_attempts) == (
        Restart.TEMPORARY,
        None,
    )


async def test_a_task_with_a_slot_that_has_not_started_ends_at_the_cancel(
    autojump_clock: trio.testing.MockClock,
) -> None:

    async with open_supervisor() as sup:
        sup.submit_nowait(slow_cleanup)
        await trio.sleep(1)
        scheduled = sup.submit_nowait(sleep_then, 1)  # has a slot, not started
        sup.cancel()
        await trio.testing.wait_all_tasks_blocked()
        # Recorded when its runner saw the stop, not when the block exits at 3.
        assert (scheduled.status, scheduled.completed_at) == (S.CANCELLED, 1)
        assert scheduled.started_at is None
    assert trio.current_time() == 3


@pytest.mark.parametrize(
    "options",
    [{}, {"shutdown": 1}],  # a plain task, and one with an Extra record
    ids=["plain", "with_options"],
)
async def test_a_running_temporary_task_does_not_keep_its_arguments(
    autojump_clock: trio.testing.MockClock, options: dict[str, Any]
) -> None:
    class Payload:
        pass

    payload = Payload()
    ref = weakref.ref(payload)

    async def job(p: Payload) -> None:
        del p  # done with it: only the handle could keep it alive now
        await trio.sleep(10)

    async with open_supervisor() as sup:
        h = sup.submit_nowait(job, payload, **options)
        del payload
        await trio.sleep(1)
        gc.collect()
        assert h.status is S.RUNNING
        assert ref() is None
        h.cancel()


async def test_a_supervisor_opened_by_a_task_asked_to_stop_stops_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The outer block exits at t=1: its task, already asked to stop, opens a
    supervisor, whose block starts by stopping (its body is cancelled at once)."""
    seen: list[str] = []

    async def task() -> float:
        h = current_handle()
        assert h is not None
        await h.wait_stop_requested()
        async with open_supervisor("inner") as inner:
            seen.append(inner.name)
            await trio.sleep(100)
        return trio.current_time()

    async with open_supervisor() as sup:
        h = sup.submit_nowait(task)
        await trio.sleep(1)
    assert (await h.result(), seen) == (1, ["inner"])
