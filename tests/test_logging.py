"""What the supervisor logs. The log_failures rule: a failure is logged once,
unless it was retrieved, when its handle is collected or when the block exits,
whichever comes first. Restarts, giving up, and a shutdown that keeps waiting."""

from __future__ import annotations

import gc
import logging
import weakref

import pytest
import trio
import trio.testing

from supervisor import (
    Backoff,
    Restart,
    RestartIntensityExceeded,
    TaskFailed,
    current_handle,
    open_supervisor,
)

pytestmark = pytest.mark.trio


async def fails(after: float, message: str) -> None:
    await trio.sleep(after)
    raise ValueError(message)


def _logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "supervisor"]


async def test_a_crawler_that_awaits_every_result_logs_nothing(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The failures happen before result() is awaited: retrieved all the same."""
    caplog.set_level(logging.ERROR, logger="supervisor")
    async with open_supervisor("crawler") as sup:
        handles = [sup.submit_nowait(fails, 1, f"page {i}") for i in range(4)]
        await trio.sleep(5)  # every one has failed by now
        for h in handles:
            with pytest.raises(TaskFailed):
                await h.result()
    assert _logged(caplog) == []


async def test_a_dropped_failure_is_logged_once_when_its_handle_is_collected(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="supervisor")
    async with open_supervisor("jobs") as sup:
        sup.submit_nowait(fails, 1, "dropped")  # the handle is not kept
        await trio.sleep(2)
        gc.collect()
        assert _logged(caplog) == ["supervisor 'jobs': task 'fails' (id 1) failed"]
    assert len(_logged(caplog)) == 1  # not again at the exit
    record = next(r for r in caplog.records if r.name == "supervisor")
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "dropped"
    assert (record.supervisor, record.task_id, record.task_name, record.attempt) == (  # type: ignore[attr-defined]
        "jobs",
        1,
        "fails",
        1,
    )


async def test_a_kept_failure_never_retrieved_is_logged_when_the_block_exits(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="supervisor")
    async with open_supervisor("jobs") as sup:
        h = sup.submit_nowait(fails, 1, "kept")
        await trio.sleep(2)
        gc.collect()
        assert _logged(caplog) == []  # the handle lives: not yet
    assert _logged(caplog) == ["supervisor 'jobs': task 'fails' (id 1) failed"]
    del h
    gc.collect()
    assert len(_logged(caplog)) == 1  # once only


async def test_reading_the_exception_retrieves_the_failure(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="supervisor")
    async with open_supervisor() as sup:
        h = sup.submit_nowait(fails, 1, "read")
        await h.wait()
        assert isinstance(h.exception, ValueError)
    assert _logged(caplog) == []


async def test_a_failure_that_start_child_raised_is_not_logged(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="supervisor")

    async def broken(*, task_status: trio.TaskStatus[None]) -> None:
        raise ValueError("no boot")

    async with open_supervisor() as sup:
        with pytest.raises(TaskFailed):
            await sup.start_child(broken, name="broken", restart=Restart.TEMPORARY)
    assert _logged(caplog) == []


async def test_always_logs_every_failure_when_it_happens(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="supervisor")
    async with open_supervisor("a", log_failures="always") as sup:
        h = sup.submit_nowait(fails, 1, "seen")
        with pytest.raises(TaskFailed):
            await h.result()
        assert _logged(caplog) == ["supervisor 'a': task 'fails' (id 1) failed"]
        # The record carries the attempt and the exception itself.
        [record] = [r for r in caplog.records if r.name == "supervisor"]
        assert record.attempt == 1  # type: ignore[attr-defined]
        assert record.exc_info is not None
        assert record.exc_info[1] is h.exception


async def test_never_logs_no_failure(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="supervisor")
    async with open_supervisor(log_failures="never") as sup:
        sup.submit_nowait(fails, 1, "quiet")
        h = sup.submit_nowait(fails, 1, "quiet too")
        await h.wait()
        gc.collect()
    assert _logged(caplog) == []


async def test_a_pending_failure_does_not_keep_its_handle_alive(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing the supervisor keeps for the log (the record, the last failure of
    its health report) refers to the handle: dropping it frees it."""
    caplog.set_level(logging.ERROR, logger="supervisor")
    async with open_supervisor() as sup:
        h = sup.submit_nowait(fails, 1, "freed")
        await h.wait()
        ref = weakref.ref(h)
        del h
        gc.collect()
        assert ref() is None
        assert sup.health().last_failure is not None


async def test_log_failures_must_be_one_of_three() -> None:
    with pytest.raises(ValueError, match="log_failures must be one of"):
        async with open_supervisor(log_failures="sometimes"):  # type: ignore[arg-type]
            pass


# -- restarts, giving up, a shutdown that waits ------------------------------------


def _lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "supervisor" and r.levelno == level
    ]


async def test_each_restart_is_logged_at_warning_with_its_delay(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="supervisor")
    async with open_supervisor("s") as sup:
        h = sup.submit_nowait(
            fails,
            1,
            "boom\nsecond line",
            name="flaky",
            restart=Restart.TRANSIENT,
            max_attempts=3,
            backoff=Backoff(initial=1, jitter=0),
        )
        with pytest.raises(TaskFailed):
            await h.result()
    assert _lines(caplog, logging.WARNING) == [
        "supervisor 's': task 'flaky' (id 1) attempt 1 ended (ValueError: boom); restarting in 1 s",
        "supervisor 's': task 'flaky' (id 1) attempt 2 ended (ValueError: boom); restarting in 2 s",
    ]
    record = next(r for r in caplog.records if r.levelno == logging.WARNING)
    assert (record.task_id, record.task_name, record.attempt) == (1, "flaky", 1)  # type: ignore[attr-defined]


async def test_a_permanent_task_that_returns_is_logged_as_returned(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="supervisor")

    async def once() -> None:
        await trio.sleep(1)

    async with open_supervisor("s") as sup:
        sup.submit_nowait(once, restart=Restart.PERMANENT, max_attempts=2)
        await trio.sleep(5)
    assert _lines(caplog, logging.WARNING) == [
        "supervisor 's': task 'test_a_permanent_task_that_returns_is_logged_as_returned.<locals>.once' (id 1) attempt 1 ended (returned); restarting in 0 s"
    ]


async def test_giving_up_is_logged_at_error(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="supervisor")
    with pytest.raises(RestartIntensityExceeded):
        async with open_supervisor("s", max_restarts=1, restart_period=10) as sup:
            sup.submit_nowait(fails, 1, "again", name="loop", restart=Restart.PERMANENT)
            await trio.sleep_forever()
    assert _lines(caplog, logging.ERROR)[0] == (
        "supervisor 's': task 'loop' (id 1) exceeded the restart intensity: more than "
        "1 restarts in 10 seconds (last: ValueError: again)"
    )
    record = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert (record.supervisor, record.task_id, record.task_name, record.attempt) == (  # type: ignore[attr-defined]
        "s",
        1,
        "loop",
        2,
    )


async def test_a_shutdown_that_waits_says_so_every_10_seconds(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    """It names the oldest three of the tasks it waits for, with their ages."""
    caplog.set_level(logging.WARNING, logger="supervisor")

    async def stubborn(seconds: float) -> None:
        await trio.sleep(seconds)

    async with open_supervisor("s") as sup:
        for i, seconds in enumerate([25, 25, 25, 12]):
            sup.submit_nowait(stubborn, seconds, name=f"t{i}")
            await trio.sleep(1)
        # the block exits at 4 s: a graceful shutdown with no grace limit
    assert _lines(caplog, logging.WARNING) == [
        "supervisor 's': shutdown waits for 4 tasks; oldest: 't0' (id 1, RUNNING 14.0 s), "
        "'t1' (id 2, RUNNING 13.0 s), 't2' (id 3, RUNNING 12.0 s)",
        "supervisor 's': shutdown waits for 3 tasks; oldest: 't0' (id 1, RUNNING 24.0 s), "
        "'t1' (id 2, RUNNING 23.0 s), 't2' (id 3, RUNNING 22.0 s)",
    ]
    assert trio.current_time() == 27


async def test_a_shutdown_report_counts_a_task_s_age_from_its_start_or_submission(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A running task's age counts from its start, a waiting one's from its
    submission."""
    caplog.set_level(logging.WARNING, logger="supervisor")
    async with open_supervisor("s", max_concurrent=1) as sup:
        sup.submit_nowait(trio.sleep, 1, name="short")
        sup.submit_nowait(trio.sleep, 15, name="long")  # runs from 1 to 16
        sup.submit_nowait(trio.sleep, 1, name="later")  # waits until 16
    assert _lines(caplog, logging.WARNING)[0] == (
        "supervisor 's': shutdown waits for 2 tasks; oldest: 'later' (id 3, PENDING "
        "10.0 s), 'long' (id 2, RUNNING 9.0 s)"
    )


async def test_a_shutdown_that_waits_for_a_permanent_task_says_so_too(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The second phase: a PERMANENT task whose cleanup takes 25 s."""
    caplog.set_level(logging.WARNING, logger="supervisor")

    async def slow_cleanup() -> None:
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(25)

    async with open_supervisor("s") as sup:
        sup.submit_nowait(slow_cleanup, name="db", restart=Restart.PERMANENT)
        await trio.sleep(5)
    assert _lines(caplog, logging.WARNING) == [
        "supervisor 's': shutdown waits for 1 task; oldest: 'db' (id 1, RUNNING 15.0 s)",
        "supervisor 's': shutdown waits for 1 task; oldest: 'db' (id 1, RUNNING 25.0 s)",
    ]


@pytest.mark.parametrize("shutdown", [None, 30.0], ids=["infinity", "30 s"])
async def test_a_shutdown_that_waits_for_a_task_to_stop_on_request_says_so(
    shutdown: float | None,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A per-task shutdown that waits (for ever, or 30 s) for a task that takes
    25 s to stop once asked: the same reports while it waits."""
    caplog.set_level(logging.WARNING, logger="supervisor")

    async def stops_slowly() -> None:
        h = current_handle()
        assert h is not None
        await h.wait_stop_requested()
        await trio.sleep(25)

    async with open_supervisor("s") as sup:
        sup.submit_nowait(
            stops_slowly, name="db", restart=Restart.PERMANENT, shutdown=shutdown
        )
        await trio.sleep(5)
    assert _lines(caplog, logging.WARNING) == [
        "supervisor 's': shutdown waits for 1 task; oldest: 'db' (id 1, RUNNING 15.0 s)",
        "supervisor 's': shutdown waits for 1 task; oldest: 'db' (id 1, RUNNING 25.0 s)",
    ]
