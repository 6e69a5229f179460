"""RestartWindow agrees with a naive model: never more than max_restarts restarts
within any window of restart_period seconds, and it says so exactly when exceeded."""

from __future__ import annotations

from hypothesis import given, strategies as st

from supervisor._intensity import RestartWindow


@given(
    max_restarts=st.integers(0, 5),
    period=st.sampled_from([0.5, 1.0, 5.0]),
    gaps=st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.5, 5.0, 6.0]), max_size=30),
)
def test_window_matches_a_model_that_keeps_every_decision(
    max_restarts: int, period: float, gaps: list[float]
) -> None:
    window = RestartWindow(max_restarts, period)
    now = 0.0
    decisions: list[float] = []
    for gap in gaps:
        now += gap
        decisions.append(now)
        in_window = [t for t in decisions if now - t <= period]
        exceeded = window.record(now)
        assert exceeded == (len(in_window) > max_restarts)
        if exceeded:
            return  # the supervisor gives up here; the window is not used again
        assert window.count(now) == len(in_window)
        assert window.remaining(now) == max_restarts - len(in_window)
