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

from supervisor import TaskStatus
from supervisor._handle import TaskHandle
from supervisor._supervisor import Supervisor

from .test_lifecycle import check_random_schedule

if TYPE_CHECKING:
    from collections.abc import Callable


def leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in leaves(sub)]
    return [exc]


def one_extra_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    real_init = Supervisor.__init__

    def init(self: Supervisor, **kwargs: Any) -> None:
        real_init(self, **kwargs)
        if self._max_concurrent is not None:
            self._max_concurrent += 1

    monkeypatch.setattr(Supervisor, "__init__", init)


def started_at_taken_at_submission(monkeypatch: pytest.MonkeyPatch) -> None:
    real = Supervisor._set_status

    def set_status(
        self: Supervisor, h: TaskHandle[Any], new: TaskStatus, now: float, *args: Any
    ) -> None:
        real(self, h, new, now, *args)
        if new is TaskStatus.RUNNING and h._attempts == 1:
            h._started_at = h._created_at

    monkeypatch.setattr(Supervisor, "_set_status", set_status)


def cancel_lost_when_it_races_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    real = TaskHandle.cancel

    def cancel(self: TaskHandle[Any]) -> None:
        if self._status is TaskStatus.PENDING and not self._queued:
            return  # its runner is scheduled: the cancel is lost
        real(self)

    monkeypatch.setattr(TaskHandle, "cancel", cancel)


def pending_task_not_cancelled_at_shutdown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Supervisor, "_cancel_queue", lambda self: None)


@pytest.mark.parametrize(
    "breakage",
    [
        one_extra_slot,
        started_at_taken_at_submission,
        cancel_lost_when_it_races_the_start,
        pending_task_not_cancelled_at_shutdown,
    ],
)
def test_property_finds_the_broken_supervisor(
    breakage: Callable[[pytest.MonkeyPatch], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    breakage(monkeypatch)
    prop = settings(
        settings.default,
        database=None,
        derandomize=True,
        phases=[Phase.generate],  # finding it is the point; shrinking only costs time
        suppress_health_check=list(HealthCheck),
    )(given(st.data())(check_random_schedule))
    with pytest.raises(BaseException) as info:  # noqa: PT011 - checked just below
        prop()
    # every failure found is a broken invariant, not a crash of the control itself
    assert all(isinstance(leaf, AssertionError) for leaf in leaves(info.value)), (
        info.value
    )
