"""Restart intensity: how many restart decisions fall in a sliding time window.

Pure bookkeeping with no clock and no event loop: the caller passes ``now``. That
keeps it exact under virtual time and lets property tests drive it directly.
"""

from __future__ import annotations

from collections import deque


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
