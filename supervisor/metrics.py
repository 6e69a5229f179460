"""Prometheus metrics of supervisors (``pip install 'trio-supervisor[prometheus]'``).

::

    from supervisor.metrics import instrument

    async with open_supervisor("api") as sup:
        instrument(sup)            # prometheus_client.REGISTRY by default
        ...

Exported, with the label ``supervisor`` (the name of this supervisor, and of the
supervisors opened inside its tasks, which are instrumented with it):

- ``trio_supervisor_tasks_finished_total{supervisor,outcome}``: completed, failed,
  cancelled;
- ``trio_supervisor_task_restarts_total{supervisor}``: restart decisions;
- ``trio_supervisor_tasks{supervisor,status}``: pending, running, restarting, read
  at scrape time;
- ``trio_supervisor_task_duration_seconds{supervisor}``: each attempt's duration;
- ``trio_supervisor_task_queue_wait_seconds{supervisor}``: each task's wait from
  submission to its first start.

Labels never carry task ids. The core only counts and buckets (no prometheus
call on the submit -> run -> finish path); everything is built at scrape time.
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import TYPE_CHECKING, final

from prometheus_client import REGISTRY
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

from ._checks import check_seconds
from ._metrics_hub import OUTCOMES, STATUSES, MetricsHub
from ._prometheus import add_histogram
from ._supervisor import Supervisor
from ._util import fixup_module_metadata

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client.core import Metric
    from prometheus_client.registry import CollectorRegistry

    from .redis import Queue, Worker

__all__ = ["SupervisorCollector", "instrument"]


@final
class SupervisorCollector(Collector):
    """The collector ``instrument`` registers (``registry.unregister(it)`` to stop)."""

    def __init__(self, hub: MetricsHub) -> None:
        self._hub = hub

    def collect(self) -> Iterator[Metric]:
        hub = self._hub
        finished = CounterMetricFamily(
            "trio_supervisor_tasks_finished",
            "Tasks that ended, by outcome.",
            labels=["supervisor", "outcome"],
        )
        restarts = CounterMetricFamily(
            "trio_supervisor_task_restarts",
            "Restart decisions (one per failure answered with a restart).",
            labels=["supervisor"],
        )
        tasks = GaugeMetricFamily(
            "trio_supervisor_tasks",
            "Tasks that are not finished, by status.",
            labels=["supervisor", "status"],
        )
        durations = HistogramMetricFamily(
            "trio_supervisor_task_duration_seconds",
            "How long each attempt ran.",
            labels=["supervisor"],
        )
        waits = HistogramMetricFamily(
            "trio_supervisor_task_queue_wait_seconds",
            "How long each task waited from submission to its first start.",
            labels=["supervisor"],
        )
        # Every supervisor attached has its name's recorder: live ones add their
        # counts now to those of the ones gone.
        totals = {name: Counter(hub.retired.get(name, ())) for name in hub.recorders}
        for table, name in list(hub.live.items()):
            totals[name].update(table.counts())
        for name, recorder in sorted(hub.recorders.items()):
            total = totals[name]
            for outcome in OUTCOMES:
                finished.add_metric([name, outcome], total[outcome])
            for status in STATUSES:
                tasks.add_metric([name, status], total[status])
            restarts.add_metric([name], recorder.restarts)
            add_histogram(durations, [name], recorder.durations)
            add_histogram(waits, [name], recorder.waits)
        yield from (finished, restarts, tasks, durations, waits)


def instrument(
    target: Supervisor | Worker | Queue,
    registry: CollectorRegistry = REGISTRY,
    *,
    interval: float = 5.0,
) -> Collector:
    """Export the metrics of ``target`` to ``registry`` and return the collector.

    - A ``Supervisor``: its metrics and those of the supervisors opened inside its
      tasks; once per supervisor, inside its block.
    - A ``supervisor.redis`` worker (``open_worker``): jobs finished by job and
      outcome, job durations, redeliveries by reason, jobs held.
    - A ``supervisor.redis`` queue (``open_queue``): its depth by state and its live
      workers, read every ``interval`` seconds by a task of the queue.
    """
    redis = sys.modules.get("supervisor.redis")
    if redis is not None and isinstance(target, redis.Worker):
        from .redis._metrics import WorkerCollector

        collector: Collector = WorkerCollector(target._state)
        registry.register(collector)
        return collector
    if redis is not None and isinstance(target, redis.Queue):
        from .redis._metrics import QueueCollector

        check_seconds("interval", interval, zero_ok=False, none_ok=False)
        queue_collector = QueueCollector(target, interval)
        target._link.task_group.start_soon(queue_collector.refresh)
        registry.register(queue_collector)
        return queue_collector
    if not isinstance(target, Supervisor):
        msg = f"instrument() takes a Supervisor, a Worker or a Queue, got {target!r}"
        raise TypeError(msg)
    sup = target
    if sup._metrics_hub is not None:
        msg = f"supervisor {sup._name!r} is instrumented already (or nested in one that is)"
        raise ValueError(msg)
    hub = MetricsHub()
    sup._attach_metrics(hub)
    supervisor_collector = SupervisorCollector(hub)
    registry.register(supervisor_collector)
    return supervisor_collector


fixup_module_metadata(__name__, globals())
