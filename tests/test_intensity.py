"""The pure restart-intensity window."""

from __future__ import annotations

from supervisor._intensity import RestartBudget, RestartWindow


def test_restart_window_is_pure_and_closed_at_both_ends() -> None:
    window = RestartWindow(max_restarts=2, period=5)
    assert [window.record(t) for t in (0, 1, 5)] == [False, False, True]  # 5 - 0 <= 5
    window = RestartWindow(max_restarts=2, period=5)
    assert [window.record(t) for t in (0, 1, 5.5)] == [False, False, False]  # 0 left
    window = RestartWindow(max_restarts=2, period=5)
    assert [window.record(t) for t in (0, 1, 5.5, 6)] == [False, False, False, True]
    assert window.count(100) == 0
    assert window.remaining(100) == 2


def test_restart_window_remembers_at_most_one_decision_too_many() -> None:
    # Its memory is bounded: past the decision that exceeds the intensity (where
    # the supervisor gives up) the count stays at max_restarts + 1.
    window = RestartWindow(max_restarts=2, period=100)
    assert [window.record(t) for t in range(6)] == [
        False,
        False,
        True,
        True,
        True,
        True,
    ]
    assert window.count(5) == 3
    assert window.remaining(5) == 0
    assert (window.max_restarts, window.period) == (2, 100)


def test_a_budget_without_a_period_has_no_limit_and_counts_nothing() -> None:
    # restart_period=None: no intensity at all, so the budget reports no limit
    # and never says a decision exceeded it.
    budget = RestartBudget(max_restarts=0, period=None, seed=0)
    assert (budget.max_restarts, budget.period) == (None, None)
    assert [budget.exceeded(t, None) for t in range(3)] == [False, False, False]
    assert (budget.count(2), budget.remaining(2)) == (0, None)
    limited = RestartBudget(max_restarts=1, period=10, seed=0)
    assert (limited.max_restarts, limited.period) == (1, 10)
    assert [limited.exceeded(t, None) for t in range(2)] == [False, True]
