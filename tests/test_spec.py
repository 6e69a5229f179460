"""Restart, Strategy and Backoff values."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from supervisor import Backoff, Strategy


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"initial": 5, "maximum": 1},
            r"^Backoff initial must be <= maximum, got initial=5, maximum=1$",
        ),
        ({"jitter": 1.5}, r"^Backoff jitter must be between 0 and 1, got 1.5$"),
        ({"jitter": -0.1}, r"^Backoff jitter must be between 0 and 1, got -0.1$"),
        ({"initial": math.nan}, r"^Backoff initial must be >= 0 and finite, got nan$"),
        ({"multiplier": 0.5}, r"^Backoff multiplier must be >= 1 and finite, got 0.5$"),
    ],
)
def test_bad_backoff_is_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Backoff(**kwargs)


def test_backoff_delay_caps_and_never_overflows() -> None:
    b = Backoff(initial=1, multiplier=10, maximum=60, jitter=0)
    assert [b.base_delay(n) for n in (1, 2, 3, 10_000)] == [1, 10, 60, 60]


def test_strategy_members() -> None:
    assert [s.name for s in Strategy] == ["ONE_FOR_ONE", "ONE_FOR_ALL", "REST_FOR_ONE"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"maximum": math.inf}, r"^Backoff maximum must be >= 0 and finite, got inf$"),
        ({"maximum": -1}, r"^Backoff maximum must be >= 0 and finite, got -1$"),
        ({"maximum": math.nan}, r"^Backoff maximum must be >= 0 and finite, got nan$"),
        ({"initial": -0.5}, r"^Backoff initial must be >= 0 and finite, got -0.5$"),
        (
            {"multiplier": math.inf},
            r"^Backoff multiplier must be >= 1 and finite, got inf$",
        ),
        ({"jitter": math.nan}, r"^Backoff jitter must be between 0 and 1, got nan$"),
    ],
)
def test_every_backoff_field_is_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Backoff(**kwargs)


def test_backoff_boundary_values_are_accepted() -> None:
    b = Backoff(initial=0, maximum=0, multiplier=1, jitter=1)
    assert (b.base_delay(1), b.base_delay(5)) == (0, 0)
    assert Backoff(initial=2, maximum=2, multiplier=1, jitter=0).base_delay(9) == 2


def test_jitter_spreads_the_delay_by_the_documented_formula() -> None:
    # delay * (1 + jitter * (2 * r - 1)), r drawn from the supervisor's generator
    r = random.Random(7).random()
    b = Backoff(initial=1, multiplier=2, jitter=0.5)
    assert b.delay(3, random.Random(7)) == 4 * (1 + 0.5 * (2 * r - 1))
    assert Backoff(initial=1, jitter=0).delay(1, random.Random(7)) == 1


def test_auto_shutdown_members_and_values() -> None:
    from supervisor import AutoShutdown

    assert [(a.name, a.value) for a in AutoShutdown] == [
        ("NEVER", "never"),
        ("ANY_SIGNIFICANT", "any_significant"),
        ("ALL_SIGNIFICANT", "all_significant"),
    ]
    assert repr(AutoShutdown.NEVER) == "AutoShutdown.NEVER"
