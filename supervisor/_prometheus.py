"""Shared by the Prometheus collectors (extra ``prometheus``): a histogram of
``_metrics_hub`` as a metric family's sample."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._metrics_hub import BUCKETS

if TYPE_CHECKING:
    from prometheus_client.core import HistogramMetricFamily

    from ._metrics_hub import Histogram


def add_histogram(
    family: HistogramMetricFamily, labels: list[str], histogram: Histogram
) -> None:
    """Add ``histogram`` (counts per bucket) with cumulative buckets, as the
    exposition wants them."""
    cumulative = 0
    buckets = []
    for bound, count in zip(
        (*BUCKETS, float("inf")), list(histogram.counts), strict=True
    ):
        cumulative += count
        buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
    family.add_metric(labels, buckets, histogram.sum)
