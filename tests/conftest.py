from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from supervisor import TaskEvent, TaskStatus

pytest_plugins = ["pytester"]  # tests/test_testing.py runs the plugin in a subprocess


@pytest.fixture(params=["trio", "asyncio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Tests marked ``@pytest.mark.anyio`` run once on each backend."""
    return str(request.param)


class Recorder:
    """An ``on_event`` hook that keeps every event, to assert whole traces."""

    def __init__(self) -> None:
        self.events: list[TaskEvent] = []

    def __call__(self, event: TaskEvent) -> None:
        self.events.append(event)

    def history(self, task_id: int) -> list[tuple[TaskStatus, float]]:
        """(new status, time) of each event of one task, in order."""
        return [(e.new, e.at) for e in self.events if e.task_id == task_id]

    def by_name(self) -> dict[str, list[TaskStatus]]:
        out: dict[str, list[TaskStatus]] = defaultdict(list)
        for e in self.events:
            out[e.name].append(e.new)
        return dict(out)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
