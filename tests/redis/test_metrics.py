"""Metrics of a worker and a queue, through a real text exposition."""

from __future__ import annotations

import pytest

pytest.importorskip("prometheus_client")

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from supervisor.metrics import instrument
from supervisor.redis import JobFailed, JobStatus, open_queue, open_worker

from . import jobs
from .helpers import status_is, wait_until

pytestmark = pytest.mark.anyio


def scrape(
    registry: CollectorRegistry,
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def get(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float],
    name: str,
    **labels: str,
) -> float:
    return samples[(name, frozenset(labels.items()))]


async def test_a_worker_counts_jobs_by_outcome_and_times_them(
    url: str, queue: str
) -> None:
    registry = CollectorRegistry()
    async with open_queue(url, queue) as q:
        ok = await q.enqueue_many("add", [(1, 2)] * 5)
        bad = await q.enqueue("fail_twice_fast", queue)
        dead = await q.enqueue("mystery")
        async with open_worker(url, queue, jobs.registry) as w:
            instrument(w, registry)
            for h in ok:
                await h.result(timeout=10)
            with pytest.raises(JobFailed):
                await bad.result(timeout=10)
            await wait_until(lambda: status_is(dead, JobStatus.DEAD))
            await wait_until(lambda: w.holding == 0)
            samples = scrape(registry)
    f = "trio_supervisor_jobs_finished_total"
    assert get(samples, f, queue=queue, job="add", outcome="succeeded") == 5
    assert get(samples, f, queue=queue, job="fail_twice_fast", outcome="retried") == 1
    assert get(samples, f, queue=queue, job="fail_twice_fast", outcome="failed") == 1
    assert get(samples, f, queue=queue, job="mystery", outcome="dead") == 1
    d = "trio_supervisor_job_duration_seconds_count"
    assert get(samples, d, queue=queue, job="add") == 5
    assert get(samples, d, queue=queue, job="fail_twice_fast") == 2
    r = "trio_supervisor_redeliveries_total"
    for reason in ("reclaimed", "lease_lost", "handed_back"):
        assert get(samples, r, queue=queue, reason=reason) == 0
    assert (
        get(samples, "trio_supervisor_worker_jobs", queue=queue, kind="capacity") == 32
    )
    labels = {label for (_, pairs) in samples for label, _ in pairs}
    assert labels == {"queue", "job", "outcome", "reason", "kind", "le"}  # no job ids


async def test_a_queue_reports_its_depth(url: str, queue: str) -> None:
    registry = CollectorRegistry()
    async with open_queue(url, queue) as q:
        await q.enqueue_many("add", [(1, 1)] * 3)
        await q.enqueue("add", 1, 1, delay=60)
        instrument(q, registry, interval=0.01)
        await wait_until(lambda: bool(scrape(registry)))
        samples = scrape(registry)
    g = "trio_supervisor_queue_depth"
    assert get(samples, g, queue=queue, state="ready") == 3
    assert get(samples, g, queue=queue, state="delayed") == 1
    assert get(samples, g, queue=queue, state="in_flight") == 0
    assert get(samples, "trio_supervisor_queue_workers", queue=queue) == 0
