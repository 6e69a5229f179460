"""supervisor.tracing: spans read back from opentelemetry-sdk's in-memory
exporter, on trio and on asyncio."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest

pytest.importorskip("opentelemetry.sdk")


import anyio.lowlevel
from opentelemetry.trace import StatusCode

from supervisor import Restart, open_supervisor
from supervisor.tracing import instrument

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        InMemorySpanExporter,
    )

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("runners", ["task", "pooled"])
async def test_a_span_per_attempt_with_its_outcome(
    traced: tuple[TracerProvider, InMemorySpanExporter], runners: str
) -> None:
    provider, exporter = traced
    runs = 0

    async def flaky() -> str:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise ValueError("first time")
        return "ok"

    async with open_supervisor("api", max_concurrent=2, runners=runners) as sup:  # type: ignore[arg-type]
        instrument(sup, provider)
        h = sup.submit_nowait(flaky, name="flaky", restart=Restart.TRANSIENT)
        assert await h.result() == "ok"
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["flaky", "flaky"]
    first, second = spans
    assert first.attributes is not None
    assert second.attributes is not None
    assert dict(first.attributes) == {
        "trio_supervisor.supervisor": "api",
        "trio_supervisor.task.name": "flaky",
        "trio_supervisor.task.id": 1,
        "trio_supervisor.task.attempt": 1,
        "trio_supervisor.task.outcome": "failed",
        "error.type": "ValueError",
    }
    assert first.status.status_code is StatusCode.ERROR
    assert [e.name for e in first.events] == ["exception"]
    assert second.attributes["trio_supervisor.task.attempt"] == 2
    assert second.attributes["trio_supervisor.task.outcome"] == "completed"
    assert second.status.status_code is StatusCode.UNSET


async def test_the_submitters_span_is_the_parent_and_the_attempts_span_is_current(
    traced: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    """Context propagation: submit inside a span; inside the task, a new span is a
    child of the attempt's span."""
    provider, exporter = traced
    tracer = provider.get_tracer("test")

    async def work() -> None:
        await anyio.lowlevel.checkpoint()
        with tracer.start_as_current_span("inner"):
            await anyio.lowlevel.checkpoint()

    async with open_supervisor("api") as sup:
        instrument(sup, provider)
        with tracer.start_as_current_span("request"):
            h = sup.submit_nowait(work, name="work")
        await h.wait()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"request", "work", "inner"}
    assert spans["work"].parent is not None
    assert spans["work"].parent.span_id == spans["request"].context.span_id
    assert spans["inner"].parent is not None
    assert spans["inner"].parent.span_id == spans["work"].context.span_id


async def test_nested_supervisors_are_traced_with_their_parent(
    traced: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = traced

    async def leaf() -> None:
        await anyio.lowlevel.checkpoint()

    async def batch() -> None:
        async with open_supervisor("batch") as inner:
            inner.submit_nowait(leaf, name="leaf")

    async with open_supervisor("api") as sup:
        instrument(sup, provider)
        await (sup.submit_nowait(batch, name="batch")).wait()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["leaf"].attributes is not None
    assert spans["leaf"].attributes["trio_supervisor.supervisor"] == "batch"
    assert spans["leaf"].parent is not None
    assert spans["leaf"].parent.span_id == spans["batch"].context.span_id


async def test_instrument_checks_its_arguments(
    traced: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, _ = traced
    with pytest.raises(TypeError, match="takes a Supervisor"):
        instrument("api", provider)  # type: ignore[arg-type]
    async with open_supervisor("api") as sup:
        instrument(sup, provider)
        with pytest.raises(ValueError, match="traced already"):
            instrument(sup, provider)
