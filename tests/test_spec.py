"""Restart, Strategy and Backoff values."""

from __future__ import annotations

import math
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
