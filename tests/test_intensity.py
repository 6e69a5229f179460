"""The pure restart-intensity window."""

from __future__ import annotations

from supervisor._intensity import RestartWindow


def test_restart_window_is_pure_and_closed_at_both_ends() -> None:
    window = RestartWindow(max_restarts=2, period=5)
    assert [window.record(t) for t in (0, 1, 5)] == [False, False, True]  # 5 - 0 <= 5
    window = RestartWindow(max_restarts=2, period=5)
    assert [window.record(t) for t in (0, 1, 5.5)] == [False, False, False]  # 0 left
    window = RestartWindow(max_restarts=2, period=5)
    assert [window.record(t) for t in (0, 1, 5.5, 6)] == [False, False, False, True]
    assert window.count(100) == 0
    assert window.remaining(100) == 2
