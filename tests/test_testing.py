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


def test_without_pytest_trio_the_fixture_says_what_to_install(pytester: Any) -> None:
    pytester.makepyfile(
        """
        async def test_user_code(supervised):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:trio", "-q")
    result.stdout.fnmatch_lines(
        ["*the supervised fixture needs pytest-trio*trio-supervisor[[]test[]]*"]
    )
    assert result.ret != 0


# ---------------------------------------------------------------------------
# Hypothesis-chosen scheduling
# ---------------------------------------------------------------------------


def test_guard_trio_scheduler_hooks_are_where_the_kit_expects_them() -> None:
    """Fails loudly if trio moves the private hooks hypothesis_scheduling relies on."""
    import inspect

    from trio._core import _run

    from supervisor.testing import _trio_scheduler_hooks

    assert _trio_scheduler_hooks() is _run
    assert "_r.shuffle(batch)" in inspect.getsource(_run.Runner) + inspect.getsource(
        _run
    )


def racy(data: Any) -> None:
    """Wrong when `check` runs before `publish` in the same batch."""
    from supervisor.testing import hypothesis_scheduling

    seen: list[bool] = []

    async def main() -> None:
        published: list[int] = []

        async def publish() -> None:
            published.append(1)

        async def check() -> None:
            seen.append(bool(published))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(publish)
            nursery.start_soon(check)

    with hypothesis_scheduling(data):
        trio.run(main)
    assert seen == [True]


def test_hypothesis_scheduling_finds_an_order_dependent_race() -> None:
    from hypothesis import given, settings, strategies as st

    prop = settings(max_examples=50, database=None, derandomize=True)(
        given(st.data())(racy)
    )
    with pytest.raises(AssertionError):
        prop()


def test_hypothesis_scheduling_draws_each_batch_and_restores_trio() -> None:
    from hypothesis import given, settings, strategies as st
    from trio._core import _run

    from supervisor.testing import hypothesis_scheduling

    original = _run._r
    batches: list[int] = []

    @settings(max_examples=5, database=None)
    @given(st.data())
    def prop(data: Any) -> None:
        async def main() -> None:
            async with trio.open_nursery() as nursery:
                for _ in range(3):
                    nursery.start_soon(trio.lowlevel.checkpoint)

        with hypothesis_scheduling(data) as order:
            trio.run(main)
        batches.append(order.batches)
        assert _run._r is original

    prop()
    assert all(n >= 1 for n in batches)
