"""What ``supervisor.metrics`` reads, kept by the core at almost no cost: per
supervisor name, histograms of attempt durations and queue waits and a count of
restarts, plus the supervisors alive now and the final counts of those gone.

One hub per ``instrument()`` call, shared by the supervisors nested in the
instrumented one's tasks. Kept by name, so a service that opens a nested
supervisor per request grows by its names, not its supervisors. No prometheus
here: the core keeps its three dependencies.
"""

from __future__ import annotations

import bisect
import weakref
from collections import Counter
from typing import Final, Protocol

#: prometheus-client's default buckets (seconds), so dashboards need no setup.
BUCKETS: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)


class Histogram:
    """Counts per bucket (not cumulative) and the sum; +Inf is the last bucket."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, value)] += 1
        self.sum += value


class Recorder:
    """What the supervisors of one name observed."""

    __slots__ = ("durations", "restarts", "waits")

    def __init__(self) -> None:
        self.durations = Histogram()
        self.waits = Histogram()
        self.restarts = 0

    def attempt(self, started: float, ended: float, first_wait: float | None) -> None:
        """An attempt ran from ``started`` to ``ended``; ``first_wait``: the time its
        task waited before its first start (on its first attempt only)."""
        self.durations.observe(ended - started)
        if first_wait is not None:
            self.waits.observe(first_wait)


class Observed(Protocol):
    """A supervisor's task table as a hub sees it (``_table.TaskTable``). Plain
    reads of ints and lengths: a scrape runs in prometheus-client's thread, and
    none of this may iterate what the event loop changes."""

    def counts(self) -> dict[str, int]:
        """Tasks by status now (``pending``, ``running``, ``restarting``) and
        finished ones by outcome (``completed``, ``failed``, ``cancelled``)."""
        ...


#: What ended tasks are counted by, and what live ones are.
OUTCOMES: Final = ("completed", "failed", "cancelled")
STATUSES: Final = ("pending", "running", "restarting")


class MetricsHub:
    def __init__(self) -> None:
        self.recorders: dict[str, Recorder] = {}
        #: Final counts (``counts`` keys) of the supervisors gone, by name.
        self.retired: dict[str, Counter[str]] = {}
        #: The supervisors alive now (their task tables), with their names.
        self.live: weakref.WeakKeyDictionary[Observed, str] = (
            weakref.WeakKeyDictionary()
        )

    def attach(self, sup: Observed, name: str) -> Recorder:
        self.live[sup] = name
        recorder = self.recorders.get(name)
        if recorder is None:
            recorder = self.recorders[name] = Recorder()
        return recorder

    def detach(self, sup: Observed) -> None:
        """``sup`` exited: its counts move to its name's retired totals, so that the
        counters a scrape sees never go back."""
        name = self.live.pop(sup, None)
        if name is None:
            return
        final = sup.counts()
        self.retired.setdefault(name, Counter()).update(
            {outcome: final[outcome] for outcome in OUTCOMES}
        )
