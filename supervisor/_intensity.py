"""Restart intensity: how many restart decisions fall in a sliding time window.

Pure bookkeeping with no clock and no event loop: the caller passes ``now``. That
keeps it exact under virtual time and lets property tests drive it directly.
"""

from __future__ import annotations

import random
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._spec import Backoff


class RestartWindow:
    """Counts restart decisions; tells when more than ``max_restarts`` fall in a window.

    A decision at time ``t`` is in the window ending at ``now`` while
    ``now - t <= period`` (closed at both ends, as OTP's supervisor does). Memory is
    at most ``max_restarts + 1`` times.
    """

    __slots__ = ("_max_restarts", "_period", "_times")

    def __init__(self, max_restarts: int, period: float) -> None:
        self._max_restarts = max_restarts
        self._period = period
        self._times: deque[float] = deque(maxlen=max_restarts + 1)

    @property
    def max_restarts(self) -> int:
        return self._max_restarts

    @property
    def period(self) -> float:
        return self._period

    def _prune(self, now: float) -> None:
        times = self._times
        while times and now - times[0] > self._period:
            times.popleft()

    def record(self, now: float) -> bool:
        """Count a restart decision taken at ``now``.

        Returns True when it makes more than ``max_restarts`` decisions in the
        window ending at ``now``: the restart must not happen.
        """
        self._prune(now)
        self._times.append(now)
        return len(self._times) > self._max_restarts

    def count(self, now: float) -> int:
        """Restart decisions in the window ending at ``now``."""
        self._prune(now)
        return len(self._times)

    def remaining(self, now: float) -> int:
        """How many more restarts may happen now without exceeding the intensity."""
        return max(0, self._max_restarts - self.count(now))


class RestartBudget:
    """A supervisor's restart intensity and backoff jitter: each restart decision
    is counted here, and the last failure that led to one is kept for the error
    that giving up raises."""

    __slots__ = ("last_failure", "rng", "window")

    def __init__(
        self, max_restarts: int, period: float | None, seed: int | None
    ) -> None:
        self.window = None if period is None else RestartWindow(max_restarts, period)
        self.rng = random.Random(seed)
        self.last_failure: BaseException | None = None

    @property
    def max_restarts(self) -> int | None:
        return None if self.window is None else self.window.max_restarts

    @property
    def period(self) -> float | None:
        return None if self.window is None else self.window.period

    def exceeded(self, now: float, failure: BaseException | None) -> bool:
        """Count a restart decision at ``now`` (after ``failure``, if any); True
        when it exceeds the intensity: the restart must not happen."""
        if failure is not None:
            self.last_failure = failure
        window = self.window
        return window is not None and window.record(now)

    def delay(self, backoff: Backoff | None, attempts: int) -> float:
        """The backoff before the attempt after ``attempts``."""
        return 0.0 if backoff is None else backoff.delay(attempts, self.rng)

    def count(self, now: float) -> int:
        return 0 if self.window is None else self.window.count(now)

    def remaining(self, now: float) -> int | None:
        return None if self.window is None else self.window.remaining(now)
