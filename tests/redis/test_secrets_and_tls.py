"""A Redis URL's password stays secret (log lines, errors, reprs, top, metrics,
traces), and ``rediss://`` with certificate options works against a
TLS-serving redis-server."""

from __future__ import annotations

import logging
import shutil
from typing import TYPE_CHECKING

import anyio
import pytest

from supervisor.redis import RedisUnavailable, open_queue, open_worker

from . import jobs
from .conftest import _need
from .server import RedisServer, TlsFiles

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SECRET = "pw-0f9e8d7c"


@pytest.fixture
def anyio_backend() -> str:
    return "trio"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    _need("redis-server", shutil.which("redis-server") is not None)
    pytest.importorskip("trustme")
    directory = tmp_path_factory.mktemp("tls-redis")
    server = RedisServer(directory, password=SECRET, tls=TlsFiles.make(directory))
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_a_queue_and_a_worker_over_tls_with_a_password(
    tls_server: RedisServer, queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = tls_server.url
    assert url.startswith(f"rediss://default:{SECRET}@")
    async with open_queue(url, queue) as q:
        h = await q.enqueue("add", 20, 22)
        async with open_worker(url, queue, jobs.registry) as w:
            assert await h.result(timeout=10) == 42
            shown = repr(q) + repr(w) + repr(h) + str(await q.stats())
    assert SECRET not in shown
    assert "serves queue" in caplog.text
    assert SECRET not in caplog.text


async def test_a_certificate_that_is_not_trusted_fails_at_once(
    tls_server: RedisServer, tmp_path: Path
) -> None:
    """Waiting would not help: RedisUnavailable at once, even with a wait."""
    other = TlsFiles.make(tmp_path)  # another CA
    url = tls_server.url.replace(str(tls_server.tls.ca), str(other.ca))  # type: ignore[union-attr]
    with anyio.fail_after(5), pytest.raises(RedisUnavailable) as raised:
        async with open_queue(url, "q", wait_for_redis=30):
            pass  # pragma: no cover - never reached
    assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value)
    assert SECRET not in str(raised.value)


async def test_a_wrong_password_fails_at_once_without_showing_it(
    tls_server: RedisServer,
) -> None:
    url = tls_server.url.replace(SECRET, "not-the-password")
    with anyio.fail_after(5), pytest.raises(RedisUnavailable) as raised:
        async with open_queue(url, "q", wait_for_redis=30):
            pass  # pragma: no cover - never reached
    assert "not-the-password" not in str(raised.value)
    assert "default:***@127.0.0.1" in str(raised.value)


async def test_metrics_and_traces_never_carry_the_url(
    tls_server: RedisServer, queue: str
) -> None:
    prometheus_client = pytest.importorskip("prometheus_client")
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        InMemorySpanExporter,
    )

    from supervisor import metrics, tracing

    registry = prometheus_client.CollectorRegistry()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    url = tls_server.url
    async with open_queue(url, queue) as q:
        tracing.instrument(q, provider)
        metrics.instrument(q, registry)
        h = await q.enqueue("add", 1, 2)
        async with open_worker(url, queue, jobs.registry) as w:
            tracing.instrument(w, provider)
            metrics.instrument(w, registry)
            assert await h.result(timeout=10) == 3
            exposition = prometheus_client.generate_latest(registry).decode()
    spans = [s.to_json() for s in exporter.get_finished_spans()]
    assert spans
    assert "trio_supervisor_" in exposition
    for text in (exposition, *spans):
        assert SECRET not in text
        assert "127.0.0.1" not in text  # no URL at all
