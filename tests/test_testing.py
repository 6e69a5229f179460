"""supervisor.testing: the event recorder, check_history, and the pytest plugin."""

from __future__ import annotations

from typing import Any, NoReturn

import pytest
import trio
import trio.testing

from supervisor import (
    Backoff,
    Restart,
    Strategy,
    Supervisor,
    TaskEvent,
    TaskStatus,
    open_supervisor,
)
from supervisor.testing import EventRecorder, HistoryError, check_history

S = TaskStatus


async def boom() -> NoReturn:
    await trio.sleep(1)
    raise ValueError("boom")


def ev(task_id: int, old: S | None, new: S, at: float, attempt: int) -> TaskEvent:
    return TaskEvent(task_id, "t", old, new, at, attempt)


@pytest.mark.trio
async def test_real_histories_pass_the_check(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = EventRecorder()
    async with open_supervisor(
        on_event=recorder, strategy=Strategy.ONE_FOR_ALL, restart_period=None
    ) as sup:
        sup.submit_nowait(trio.sleep_forever, restart=Restart.PERMANENT)
        h = sup.submit_nowait(
            boom,
            restart=Restart.TRANSIENT,
            max_attempts=3,
            backoff=Backoff(initial=1, jitter=0),
        )
        sup.submit_nowait(trio.sleep, 1, timeout=0.5)
        await h.wait()
    recorder.check()
    assert recorder.times(h.id, S.RUNNING) == [0, 2, 5]  # backoff 1, then 2
    assert recorder.statuses(h.id)[-1] is S.FAILED
    assert repr(recorder).startswith("<supervisor.testing.EventRecorder ")


@pytest.mark.parametrize(
    ("events", "rule"),
    [
        (
            [ev(1, S.PENDING, S.RUNNING, 0, 1)],
            r"the first event must create the task \(None -> PENDING\)",
        ),
        (
            [ev(1, None, S.PENDING, 0, 0), ev(1, S.PENDING, S.COMPLETED, 1, 0)],
            r"illegal transition PENDING -> COMPLETED",
        ),
        (
            [
                ev(1, None, S.PENDING, 0, 0),
                ev(1, S.PENDING, S.CANCELLED, 1, 0),
                ev(1, S.CANCELLED, S.RUNNING, 2, 1),
            ],
            r"an event follows the terminal status CANCELLED",
        ),
        (
            [ev(1, None, S.PENDING, 5, 0), ev(1, S.PENDING, S.RUNNING, 4, 1)],
            r"time went backwards: 5 then 4",
        ),
        (
            [ev(1, None, S.PENDING, 0, 0), ev(1, S.PENDING, S.RUNNING, 0, 2)],
            r"attempt 2 on RUNNING, expected 1",
        ),
        (
            [ev(1, None, S.PENDING, 0, 0), ev(1, S.RUNNING, S.COMPLETED, 0, 0)],
            r"event says it left RUNNING, but the task was PENDING",
        ),
        (
            [ev(1, None, S.PENDING, 0, 0), ev(1, S.PENDING, S.RUNNING, 0, 1)],
            r"it never ended: last status RUNNING",
        ),
    ],
)
def test_broken_histories_are_explained(events: list[TaskEvent], rule: str) -> None:
    with pytest.raises(
        HistoryError, match=rf"^task 1 \('t'\): {rule}\n  history:\n    t="
    ) as info:
        check_history(events)
    assert isinstance(info.value, AssertionError)


def test_incomplete_histories_can_be_allowed() -> None:
    check_history([ev(1, None, S.PENDING, 0, 0)], complete=False)


@pytest.mark.trio
async def test_plugin_fixtures_give_a_recorded_supervisor_on_the_mock_clock(
    supervised: Supervisor,
    supervisor_events: EventRecorder,
    autojump_clock: trio.testing.MockClock,
) -> None:
    h = supervised.submit_nowait(trio.sleep, 10)
    await h.wait()
    assert trio.current_time() == 10  # the mock clock jumped: no real waiting
    assert supervisor_events.statuses(h.id) == [S.PENDING, S.RUNNING, S.COMPLETED]


def test_plugin_is_registered_by_entry_point(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.has_plugin("supervisor")


def test_plugin_checks_the_history_at_teardown(pytester: Any) -> None:
    pytester.makepyfile(
        """
        import pytest, trio
        from supervisor import TaskEvent, TaskStatus

        @pytest.mark.trio
        async def test_user_code(supervised, supervisor_events, autojump_clock):
            h = supervised.submit_nowait(trio.sleep, 1)
            await h.wait()
            # corrupt the record: the teardown check must catch it
            supervisor_events.events.append(
                TaskEvent(h.id, h.name, TaskStatus.COMPLETED, TaskStatus.RUNNING, 2, 2)
            )
        """
    )
    result = pytester.runpytest_subprocess("-p", "trio", "-q")
    result.stdout.fnmatch_lines(
        ["*HistoryError*an event follows the terminal status COMPLETED*"]
    )
    assert result.ret != 0
