"""Restart policies, strategies and backoff: frozen values, no event loop needed."""

from __future__ import annotations

import enum
import math
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    import random


class Restart(enum.Enum):
    """When a task is run again after an attempt ends."""

    #: Never restarted (the default for ``submit``).
    TEMPORARY = "temporary"
    #: Restarted after a failure (an exception or its timeout); not after a normal
    #: return or a cancellation.
    TRANSIENT = "transient"
    #: Restarted after a failure or a normal return; not after a cancellation (the
    #: default for ``start_child``).
    PERMANENT = "permanent"

    def __repr__(self) -> str:
        return f"Restart.{self.name}"


class Strategy(enum.Enum):
    """Which children a supervisor restarts when one of them is restarted."""

    #: Only the child that ended.
    ONE_FOR_ONE = "one_for_one"
    #: Every child: the others are stopped, then all restart in start order.
    ONE_FOR_ALL = "one_for_all"
    #: The child and those started after it, in start order.
    REST_FOR_ONE = "rest_for_one"

    def __repr__(self) -> str:
        return f"Strategy.{self.name}"


class AutoShutdown(enum.Enum):
    """Whether a supervisor shuts itself down when significant children end."""

    #: Never (the default); no child may be significant.
    NEVER = "never"
    #: When any significant child ends by itself and no restart follows.
    ANY_SIGNIFICANT = "any_significant"
    #: When the last live significant child ends by itself and no restart follows.
    ALL_SIGNIFICANT = "all_significant"

    def __repr__(self) -> str:
        return f"AutoShutdown.{self.name}"


def _finite_non_negative(
    inst: Backoff, attr: attrs.Attribute[float], value: float
) -> None:
    if not (0 <= value < math.inf):  # NaN fails too
        msg = f"Backoff {attr.name} must be >= 0 and finite, got {value!r}"
        raise ValueError(msg)


def _multiplier(inst: Backoff, attr: attrs.Attribute[float], value: float) -> None:
    if not (1 <= value < math.inf):
        msg = f"Backoff multiplier must be >= 1 and finite, got {value!r}"
        raise ValueError(msg)


def _jitter(inst: Backoff, attr: attrs.Attribute[float], value: float) -> None:
    if not (0 <= value <= 1):
        msg = f"Backoff jitter must be between 0 and 1, got {value!r}"
        raise ValueError(msg)


@attrs.frozen(kw_only=True)
class Backoff:
    """Capped exponential delay between attempts, spread by seeded jitter.

    The delay before attempt ``n + 1`` is ``min(maximum, initial * multiplier**(n-1))``,
    then multiplied by a factor drawn uniformly from ``[1 - jitter, 1 + jitter]`` with
    the supervisor's random generator (``open_supervisor(seed=...)``). With
    ``jitter=0`` the delays are exact.
    """

    initial: float = attrs.field(default=0.1, validator=_finite_non_negative)
    maximum: float = attrs.field(default=30.0, validator=_finite_non_negative)
    multiplier: float = attrs.field(default=2.0, validator=_multiplier)
    jitter: float = attrs.field(default=0.1, validator=_jitter)

    def __attrs_post_init__(self) -> None:
        if self.initial > self.maximum:
            msg = (
                f"Backoff initial must be <= maximum, got initial={self.initial!r}, "
                f"maximum={self.maximum!r}"
            )
            raise ValueError(msg)

    def base_delay(self, attempts: int) -> float:
        """The delay before attempt ``attempts + 1``, without jitter."""
        try:
            delay = self.initial * self.multiplier ** (attempts - 1)
        except OverflowError:
            return self.maximum
        return min(self.maximum, delay)

    def delay(self, attempts: int, rng: random.Random) -> float:
        """The delay before attempt ``attempts + 1``, with jitter drawn from ``rng``."""
        delay = self.base_delay(attempts)
        if self.jitter:
            delay *= 1 + self.jitter * (2 * rng.random() - 1)
        return delay
