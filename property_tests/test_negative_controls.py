"""Negative controls: the lifecycle property run against deliberately broken
supervisors must fail. A property that cannot fail is a defect.

Each control breaks one thing in the real supervisor (with monkeypatch), then runs
the property with the default example budget, derandomized (so the control is
deterministic) and with no example database (so nothing is remembered from earlier
runs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from supervisor import Backoff, TaskEvent, TaskStatus, _attempt
from supervisor._core import Core
from supervisor._handle import TaskHandle
from supervisor._intensity import RestartWindow
from supervisor._table import TaskTable

from .test_lifecycle import check_random_schedule
from .test_restarts import (
    check_restarts_model,
    max_restarts_values,
    periods,
    specs as restart_specs,
)

if TYPE_CHECKING:
    from collections.abc import Callable


def assert_finds_the_bug(prop: Callable[[], None]) -> None:
    """Run a property with the default budget; it must fail on a broken invariant."""
    prop = settings(
        settings.default,
        database=None,
        derandomize=True,
        phases=[Phase.generate],  # finding it is the point; shrinking only costs time
        suppress_health_check=list(HealthCheck),
    )(prop)
    with pytest.raises(BaseException) as info:  # noqa: PT011 - checked just below
        prop()
    # every failure found is a broken invariant, not a crash of the control itself
    assert all(isinstance(leaf, AssertionError) for leaf in leaves(info.value)), (
        info.value
    )


def leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in leaves(sub)]
    return [exc]


def one_extra_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    real_init = TaskTable.__init__

    def init(self: TaskTable, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        if self.max_concurrent is not None:
            self.max_concurrent += 1

    monkeypatch.setattr(TaskTable, "__init__", init)


def started_at_taken_at_submission(monkeypatch: pytest.MonkeyPatch) -> None:
    real = TaskTable.transition

    def transition(
        self: TaskTable, h: TaskHandle[Any], new: TaskStatus, now: float, *args: Any
    ) -> None:
        real(self, h, new, now, *args)
        if new is TaskStatus.RUNNING and h._attempts == 1:
            h._started_at = h._created_at

    monkeypatch.setattr(TaskTable, "transition", transition)


def cancel_lost_when_it_races_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    real = TaskHandle.cancel

    def cancel(self: TaskHandle[Any]) -> None:
        if self._status is TaskStatus.PENDING and not self._queued:
            return  # its runner is scheduled: the cancel is lost
        real(self)

    monkeypatch.setattr(TaskHandle, "cancel", cancel)


def pending_task_not_cancelled_at_shutdown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Core, "cancel_queue", lambda self: None)


def illegal_transition_on_completion(monkeypatch: pytest.MonkeyPatch) -> None:
    real = TaskTable.end

    def end(
        self: TaskTable, h: TaskHandle[Any], status: TaskStatus, now: float, *args: Any
    ) -> None:
        if status is TaskStatus.COMPLETED and self.ledger.emitting:
            # It reports passing through FAILED first, then ends COMPLETED.
            self.ledger.emit(
                TaskEvent(
                    h._id, h._name, h._status, TaskStatus.FAILED, now, h._attempts
                )
            )
        real(self, h, status, now, *args)

    monkeypatch.setattr(TaskTable, "end", end)
    # (Plain tasks take the general route here, through ``end``.)
    monkeypatch.setattr(_attempt, "run_plain", _the_general_route)


async def _the_general_route(core: Any, h: TaskHandle[Any]) -> None:
    await _attempt.run_attempt(core, h)


def health_miscounts_cancelled_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    real = TaskTable.end

    def end(
        self: TaskTable, h: TaskHandle[Any], status: TaskStatus, *args: Any
    ) -> None:
        real(self, h, status, *args)
        if status is TaskStatus.CANCELLED:
            self.cancelled -= 1

    monkeypatch.setattr(TaskTable, "end", end)


@pytest.mark.parametrize(
    "breakage",
    [
        one_extra_slot,
        started_at_taken_at_submission,
        cancel_lost_when_it_races_the_start,
        pending_task_not_cancelled_at_shutdown,
        illegal_transition_on_completion,
        health_miscounts_cancelled_tasks,
    ],
)
def test_property_finds_the_broken_supervisor(
    breakage: Callable[[pytest.MonkeyPatch], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    breakage(monkeypatch)
    assert_finds_the_bug(given(st.data())(check_random_schedule))


# ---------------------------------------------------------------------------
# restart intensity and backoff: the exact-model property of test_restarts.py
# ---------------------------------------------------------------------------


def intensity_window_open_at_its_far_end(monkeypatch: pytest.MonkeyPatch) -> None:
    def prune(self: RestartWindow, now: float) -> None:
        times = self._times
        while times and now - times[0] >= self._period:  # should be >
            times.popleft()

    monkeypatch.setattr(RestartWindow, "_prune", prune)


def backoff_one_step_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    real = Backoff.delay

    def delay(self: Backoff, attempts: int, rng: Any) -> float:
        return real(self, attempts + 1, rng)

    monkeypatch.setattr(Backoff, "delay", delay)


@pytest.mark.parametrize(
    "breakage", [intensity_window_open_at_its_far_end, backoff_one_step_ahead]
)
def test_restart_property_finds_the_broken_supervisor(
    breakage: Callable[[pytest.MonkeyPatch], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    breakage(monkeypatch)
    assert_finds_the_bug(
        given(
            tasks=st.lists(restart_specs, min_size=1, max_size=5),
            max_restarts=max_restarts_values,
            period=periods,
        )(check_restarts_model)
    )
