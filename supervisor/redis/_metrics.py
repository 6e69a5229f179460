"""Prometheus collectors of workers and queues (``supervisor.metrics.instrument``
takes them too). Built at scrape time from what the worker counts anyway; a
queue's depth is read by a task of the queue every ``interval`` seconds, since a
scrape runs in prometheus-client's thread, which cannot await Redis."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Final, final

import anyio
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

from .._prometheus import add_histogram

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client.core import Metric

    from ._queue import Queue
    from ._records import QueueStats
    from ._worker_state import WorkerState

#: Outcome kinds as the metrics name them.
OUTCOMES: Final = {
    "ok": "succeeded",
    "retry": "retried",
    "fail": "failed",
    "cancel": "cancelled",
    "dead": "dead",
    "back": "handed_back",
}


@final
class WorkerCollector(Collector):
    def __init__(self, state: WorkerState) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        state = self._state
        queue = state.keys.queue
        finished = CounterMetricFamily(
            "trio_supervisor_jobs_finished",
            "Job attempts this worker ended, by job and outcome.",
            labels=["queue", "job", "outcome"],
        )
        for (job, kind), count in sorted(dict(state.outcomes.counts).items()):
            finished.add_metric([queue, job or "(not begun)", OUTCOMES[kind]], count)
        durations = HistogramMetricFamily(
            "trio_supervisor_job_duration_seconds",
            "How long each job attempt ran on this worker.",
            labels=["queue", "job"],
        )
        for job, histogram in sorted(dict(state.durations).items()):
            add_histogram(durations, [queue, job], histogram)
        redeliveries = CounterMetricFamily(
            "trio_supervisor_redeliveries",
            "Jobs delivered again: taken from a dead worker (reclaimed), dropped "
            "after a lost lease (lease_lost), or handed back by a drain.",
            labels=["queue", "reason"],
        )
        handed_back = sum(
            c for (_, kind), c in state.outcomes.counts.items() if kind == "back"
        )
        redeliveries.add_metric([queue, "reclaimed"], state.reclaimed)
        redeliveries.add_metric([queue, "lease_lost"], state.fenced)
        redeliveries.add_metric([queue, "handed_back"], handed_back)
        held = GaugeMetricFamily(
            "trio_supervisor_worker_jobs",
            "Jobs this worker holds, and how many it may hold.",
            labels=["queue", "kind"],
        )
        held.add_metric([queue, "holding"], len(state.inflight.jobs))
        held.add_metric([queue, "capacity"], state.concurrency)
        yield from (finished, durations, redeliveries, held)


@final
class QueueCollector(Collector):
    """Depth of a queue, as last read (every ``interval`` seconds)."""

    def __init__(self, queue: Queue, interval: float) -> None:
        self._queue = queue
        self._interval = interval
        self.stats: QueueStats | None = None

    async def refresh(self) -> None:
        while True:
            # Redis away: the last figures stay until it is back.
            with contextlib.suppress(ConnectionError):
                self.stats = await self._queue.stats()
            await anyio.sleep(self._interval)

    def collect(self) -> Iterator[Metric]:
        stats = self.stats
        if stats is None:
            return
        name = self._queue.name
        depth = GaugeMetricFamily(
            "trio_supervisor_queue_depth",
            "Jobs of the queue by state.",
            labels=["queue", "state"],
        )
        for state in ("ready", "delayed", "in_flight", "dead"):
            depth.add_metric([name, state], getattr(stats, state))
        workers = GaugeMetricFamily(
            "trio_supervisor_queue_workers",
            "Live workers of the queue.",
            labels=["queue"],
        )
        workers.add_metric([name], stats.workers)
        yield from (depth, workers)
