"""Jobs traced across Redis: a send span at enqueue, a process span in the
worker, joined through the traceparent the job carries; the messaging semantic
conventions. Spans read back from opentelemetry-sdk's in-memory exporter."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

pytest.importorskip("opentelemetry.sdk")


from opentelemetry.trace import SpanKind, StatusCode

from supervisor.redis import JobFailed, open_queue, open_worker
from supervisor.tracing import instrument

from . import jobs

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        InMemorySpanExporter,
    )

pytestmark = pytest.mark.anyio


async def test_a_job_is_traced_from_enqueue_to_its_worker(
    url: str, queue: str, traced: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = traced
    tracer = provider.get_tracer("test")
    async with open_queue(url, queue) as q, open_worker(url, queue, jobs.registry) as w:
        instrument(q, provider)
        instrument(w, provider)
        with tracer.start_as_current_span("request"):
            h = await q.enqueue("traced_work")
        current_in_job = await h.result(timeout=10)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    send, process = spans[f"send {queue}"], spans[f"process {queue}"]
    assert send.kind is SpanKind.PRODUCER
    assert process.kind is SpanKind.CONSUMER
    assert send.parent is not None
    assert send.parent.span_id == spans["request"].context.span_id
    assert process.parent is not None
    assert process.parent.span_id == send.context.span_id
    assert process.context.trace_id == spans["request"].context.trace_id
    assert current_in_job == format(process.context.span_id, "016x")
    assert send.attributes is not None
    assert dict(send.attributes) == {
        "messaging.system": "redis",
        "messaging.destination.name": queue,
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.message.id": h.id,
    }
    assert process.attributes is not None
    assert dict(process.attributes) == {
        "messaging.system": "redis",
        "messaging.destination.name": queue,
        "messaging.message.id": h.id,
        "messaging.consumer.group.name": "workers",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "trio_supervisor.job.name": "traced_work",
        "trio_supervisor.job.outcome": "completed",
    }


async def test_a_failed_job_attempt_records_its_error(
    url: str, queue: str, traced: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    """From an untraced queue: no context carried, so each process span is a root
    (the previous job's span does not leak into the next one's)."""
    provider, exporter = traced
    async with open_queue(url, queue) as q, open_worker(url, queue, jobs.registry) as w:
        instrument(w, provider)
        for message in ("first", "second"):
            h = await q.enqueue("fail", message)
            with pytest.raises(JobFailed):
                await h.result(timeout=10)
    processes = [
        s for s in exporter.get_finished_spans() if s.name.startswith("process")
    ]
    assert len(processes) == 2
    for process in processes:
        assert process.parent is None
        assert process.status.status_code is StatusCode.ERROR
        assert process.attributes is not None
        assert process.attributes["error.type"] == "ValueError"
        assert [e.name for e in process.events] == ["exception"]


async def test_enqueue_many_is_one_send_span_for_the_batch(
    url: str, queue: str, traced: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = traced
    async with open_queue(url, queue) as q:
        instrument(q, provider)
        await q.enqueue_many("add", [(1, 2)] * 3)
    [send] = exporter.get_finished_spans()
    assert send.attributes is not None
    assert send.attributes["messaging.batch.message_count"] == 3
