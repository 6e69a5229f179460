"""Health: the report, the rules that choose its status, and the failure window."""

from __future__ import annotations

import enum
import math
from collections import deque
from typing import Any

import attrs

from ._actor import ActorStatistics
from ._status import TaskEvent


class Health(enum.Enum):
    """The overall status of a :class:`HealthReport`."""

    #: No rule of :class:`HealthRules` holds.
    HEALTHY = "healthy"
    #: At least one "degraded" rule holds and no "unhealthy" one.
    DEGRADED = "degraded"
    #: At least one "unhealthy" rule holds.
    UNHEALTHY = "unhealthy"

    def __repr__(self) -> str:
        return f"Health.{self.name}"


def _fraction_or_none(
    _inst: object, attr: attrs.Attribute[Any], value: float | None
) -> None:
    if value is not None and not (0 <= value <= 1):  # NaN fails too
        msg = f"{attr.name} must be between 0 and 1 or None, got {value!r}"
        raise ValueError(msg)


def _seconds_or_none(
    _inst: object, attr: attrs.Attribute[Any], value: float | None
) -> None:
    if value is not None and not (value >= 0):  # NaN fails too
        msg = f"{attr.name} must be >= 0 or None, got {value!r}"
        raise ValueError(msg)


def _positive_seconds(_inst: object, _attr: object, value: float) -> None:
    if not (0 < value < math.inf):
        msg = f"failure_window must be > 0 and finite, got {value!r}"
        raise ValueError(msg)


def _non_negative_int(_inst: object, _attr: object, value: object) -> None:
    if not isinstance(value, int) or value < 0:
        msg = f"min_finished must be an int >= 0, got {value!r}"
        raise ValueError(msg)


@attrs.frozen(kw_only=True)
class HealthRules:
    """How :meth:`Supervisor.health` chooses its status.

    The status is UNHEALTHY when any ``*_unhealthy`` rule holds, else DEGRADED when
    any ``*_degraded`` rule holds, else HEALTHY. Setting a threshold to None turns
    that rule off. The report's ``reasons`` name every rule that holds.

    Attributes:
        queue_degraded, queue_unhealthy: fraction of ``max_pending`` that tasks
            waiting for capacity fill (only with a ``max_pending``); at or above it
            the rule holds. The default makes a full queue UNHEALTHY.
        failure_window: seconds over which the failure rate is measured. Tasks are
            counted in ten buckets of a tenth of it each, so the rate covers between
            0.9 and 1.0 times this window.
        min_finished: the failure-rate rules apply only once at least this many
            tasks finished in the window.
        failure_rate_degraded, failure_rate_unhealthy: FAILED / finished in the
            window, at or above which the rule holds.
        pending_age_degraded, pending_age_unhealthy: seconds the oldest task waiting
            for capacity has waited, at or above which the rule holds.
    """

    queue_degraded: float | None = attrs.field(default=0.8, validator=_fraction_or_none)
    queue_unhealthy: float | None = attrs.field(
        default=1.0, validator=_fraction_or_none
    )
    failure_window: float = attrs.field(default=60.0, validator=_positive_seconds)
    min_finished: int = attrs.field(default=10, validator=_non_negative_int)
    failure_rate_degraded: float | None = attrs.field(
        default=0.1, validator=_fraction_or_none
    )
    failure_rate_unhealthy: float | None = attrs.field(
        default=0.5, validator=_fraction_or_none
    )
    pending_age_degraded: float | None = attrs.field(
        default=None, validator=_seconds_or_none
    )
    pending_age_unhealthy: float | None = attrs.field(
        default=None, validator=_seconds_or_none
    )


@attrs.frozen(kw_only=True)
class HealthReport:
    """A snapshot of a supervisor, from :meth:`Supervisor.health`.

    Counts of live tasks (``pending``, ``running``, ``restarting``) are current;
    ``completed``, ``failed``, ``cancelled`` and ``submitted`` are cumulative.
    ``waiting`` is the part of ``pending`` that waits in the queue for capacity.
    Ages are in seconds of the supervisor's clock (None when nothing qualifies):
    ``oldest_pending_age`` of the task that has waited longest for capacity,
    ``longest_running_age`` since the oldest current attempt of a RUNNING task
    started. Building a report costs the same however many tasks there are.
    ``restarts_in_period`` counts restart decisions in the current restart-intensity
    window; ``restarts_remaining`` is how many more it allows (None: no limit).
    ``actors`` holds the statistics (mailbox depth, processed and failed messages)
    of each live actor.
    ``recent_finished``/``recent_failed`` count tasks in the failure window of the
    rules; ``reasons`` names each rule that holds, empty when HEALTHY.
    """

    status: Health
    reasons: tuple[str, ...]
    pending: int
    waiting: int
    running: int
    restarting: int
    completed: int
    failed: int
    cancelled: int
    submitted: int
    max_concurrent: int | None
    max_pending: int | None
    restarts_in_period: int
    restarts_remaining: int | None
    oldest_pending_age: float | None
    longest_running_age: float | None
    recent_finished: int
    recent_failed: int
    last_failure: TaskEvent | None
    uptime: float
    closed: bool
    actors: tuple[ActorStatistics, ...] = ()


def evaluate(
    rules: HealthRules,
    *,
    waiting: int,
    max_pending: int | None,
    recent_finished: int,
    recent_failed: int,
    oldest_pending_age: float | None,
) -> tuple[Health, tuple[str, ...]]:
    """Apply ``rules`` to the figures; return the status and the reasons for it."""
    unhealthy: list[str] = []
    degraded: list[str] = []

    def check(
        value: float | None, limit: float | None, out: list[str], what: str
    ) -> None:
        if value is not None and limit is not None and value >= limit:
            out.append(f"{what} {value:.3g} >= {limit:.3g}")

    if max_pending:
        fill = waiting / max_pending
        check(fill, rules.queue_unhealthy, unhealthy, "queue fill")
        if not unhealthy:
            check(fill, rules.queue_degraded, degraded, "queue fill")
    if recent_finished and recent_finished >= rules.min_finished:
        rate = recent_failed / recent_finished
        before = len(unhealthy)
        check(rate, rules.failure_rate_unhealthy, unhealthy, "failure rate")
        if len(unhealthy) == before:
            check(rate, rules.failure_rate_degraded, degraded, "failure rate")
    before = len(unhealthy)
    check(
        oldest_pending_age, rules.pending_age_unhealthy, unhealthy, "oldest pending age"
    )
    if len(unhealthy) == before:
        check(
            oldest_pending_age,
            rules.pending_age_degraded,
            degraded,
            "oldest pending age",
        )
    if unhealthy:
        return Health.UNHEALTHY, tuple(unhealthy + degraded)
    if degraded:
        return Health.DEGRADED, tuple(degraded)
    return Health.HEALTHY, ()


class FailureWindow:
    """Counts finished and failed tasks over a sliding window, in O(1) per task.

    Time is cut into buckets of ``window / buckets`` seconds, bucket ``k`` being
    ``floor(t / width) == k``; the counts cover the current bucket and the
    ``buckets - 1`` before it. Bucket indices are integers, so the boundaries never
    drift however long the supervisor runs. Memory is fixed.
    """

    __slots__ = (
        "_buckets",
        "_cur_failed",
        "_cur_finished",
        "_index",
        "_next_start",
        "_past",
        "_width",
    )

    def __init__(self, window: float, now: float, buckets: int = 10) -> None:
        self._width = window / buckets
        self._buckets = buckets
        self._past: deque[tuple[int, int]] = deque(maxlen=buckets - 1)
        self._cur_finished = 0
        self._cur_failed = 0
        self._index = math.floor(now / self._width)
        self._next_start = (self._index + 1) * self._width

    def _advance(self, index: int) -> None:
        # Close the current bucket and the empty ones since, at most a window's worth.
        self._past.append((self._cur_finished, self._cur_failed))
        self._cur_finished = self._cur_failed = 0
        for _ in range(min(index - self._index - 1, self._buckets)):
            self._past.append((0, 0))
        self._index = index
        self._next_start = (index + 1) * self._width

    def add(self, now: float, failed: bool) -> None:
        # Called for every finished task: one float comparison in the common case.
        # The bucket itself is always floor(now / width), so a rounding difference
        # between the two tests only costs a floor() until time moves on.
        if now >= self._next_start:
            index = math.floor(now / self._width)
            if index > self._index:
                self._advance(index)
        self._cur_finished += 1
        if failed:
            self._cur_failed += 1

    def totals(self, now: float) -> tuple[int, int]:
        """(finished, failed) in the window that ends at ``now``."""
        index = math.floor(now / self._width)
        if index > self._index:
            self._advance(index)
        finished = self._cur_finished + sum(f for f, _ in self._past)
        failed = self._cur_failed + sum(f for _, f in self._past)
        return finished, failed
