"""FailureWindow agrees with a naive model that keeps every finish time."""

from __future__ import annotations

import math

from hypothesis import given, strategies as st

from supervisor._health import FailureWindow

finishes = st.lists(
    st.tuples(st.floats(0, 5, allow_nan=False), st.booleans()), max_size=60
)


@given(
    window=st.sampled_from([1.0, 10.0, 60.0]),
    steps=finishes,
    query_gap=st.floats(0, 100, allow_nan=False),
)
def test_window_counts_match_the_model(
    window: float, steps: list[tuple[float, bool]], query_gap: float
) -> None:
    fw = FailureWindow(window, now=0.0)
    now = 0.0
    kept: list[tuple[float, bool]] = []
    for gap, failed in steps:
        now += gap
        fw.add(now, failed)
        kept.append((now, failed))
    now += query_gap
    width = window / 10
    first_bucket = math.floor(now / width) - 9
    in_window = [(t, f) for t, f in kept if math.floor(t / width) >= first_bucket]
    assert fw.totals(now) == (len(in_window), sum(f for _, f in in_window))
