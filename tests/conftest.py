from __future__ import annotations

import functools
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import pytest
import trio

if TYPE_CHECKING:
    from supervisor import TaskEvent, TaskStatus

pytest_plugins = ["pytester"]  # tests/test_testing.py runs the plugin in a subprocess

#: Virtual seconds after which a trio test counts as hung. On the autojump clock a
#: test whose tasks all wait for something that never comes (a lost wake-up) jumps
#: straight here and fails, instead of sleeping forever on the real clock. Tests
#: marked ``threads`` are left alone: while they wait for a worker thread every
#: task is blocked, and the autojump clock would jump to this deadline.
HANG_AFTER = 1_000_000


def _fail_if_hung(test: Any) -> Any:
    @functools.wraps(test)
    async def run(**kwargs: Any) -> Any:
        with trio.move_on_after(HANG_AFTER) as scope:
            return await test(**kwargs)
        if scope.cancelled_caught:
            pytest.fail(f"hung: still waiting after {HANG_AFTER} virtual seconds")
        return None  # pragma: no cover - a cancelled test returns nothing

    return run


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if (
            isinstance(item, pytest.Function)
            and item.get_closest_marker("trio")
            and not item.get_closest_marker("threads")
        ):
            item.obj = _fail_if_hung(item.obj)


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


@pytest.fixture
def traced() -> tuple[Any, Any]:
    """(a TracerProvider, its InMemorySpanExporter): opentelemetry-sdk spans
    kept in memory, for supervisor.tracing tests (here and in tests/redis)."""
    sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        InMemorySpanExporter,
    )

    exporter = InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter
