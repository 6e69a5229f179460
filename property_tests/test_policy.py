"""The supervisor's decisions (``supervisor._policy``), driven directly: plain code
with no clock and no event loop, checked against OTP's rules written out here."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from supervisor import AutoShutdown, Restart, Strategy, TaskStatus
from supervisor._policy import (
    auto_shutdown_fires,
    check_significant,
    group_of,
    rejoins_group,
    restart_follows,
    stop_order,
)

S = TaskStatus
ended = st.sampled_from([S.COMPLETED, S.FAILED, S.CANCELLED])
attempts = st.integers(1, 6)
caps = st.none() | st.integers(1, 6)


@given(st.sampled_from(list(Restart)), ended, attempts, caps)
def test_restart_follows_otps_restart_types(
    restart: Restart, status: TaskStatus, n: int, cap: int | None
) -> None:
    # OTP: permanent always restarted; transient only after an abnormal exit;
    # temporary never; a cancellation (our "shutdown" exit) never. Plus our cap.
    wanted = {
        Restart.PERMANENT: status in (S.COMPLETED, S.FAILED),
        Restart.TRANSIENT: status is S.FAILED,
        Restart.TEMPORARY: False,
    }[restart]
    room = cap is None or n < cap
    assert restart_follows(restart, status, n, cap) is (wanted and room)


@given(st.sampled_from(list(Restart)), attempts, caps)
def test_a_stopped_sibling_rejoins_its_group_unless_temporary_or_used_up(
    restart: Restart, n: int, cap: int | None
) -> None:
    expected = restart is not Restart.TEMPORARY and (cap is None or n < cap)
    assert rejoins_group(restart, n, cap) is expected


@given(st.sampled_from(list(Strategy)), st.integers(1, 8), st.data())
def test_group_and_stop_order(strategy: Strategy, n: int, data: st.DataObject) -> None:
    order = [f"c{i}" for i in range(n)]  # in start order
    leader = data.draw(st.sampled_from(order))
    group = group_of(strategy, order, leader)
    i = order.index(leader)
    if strategy is Strategy.ONE_FOR_ONE:
        assert group == [leader]
    elif strategy is Strategy.ONE_FOR_ALL:
        assert group == order
    else:
        assert group == order[i:]
    # restarted in start order; stopped newest first, the leader not among them
    assert group == sorted(group, key=order.index)
    stops = stop_order(group, leader)
    assert leader not in stops
    assert stops == sorted(stops, key=order.index, reverse=True)
    assert set(stops) == set(group) - {leader}


@given(st.sampled_from(list(AutoShutdown)), st.integers(0, 5))
def test_auto_shutdown(mode: AutoShutdown, left: int) -> None:
    expected = {
        AutoShutdown.NEVER: False,
        AutoShutdown.ANY_SIGNIFICANT: True,
        AutoShutdown.ALL_SIGNIFICANT: left == 0,
    }[mode]
    assert auto_shutdown_fires(mode, left) is expected


@given(
    st.booleans(), st.sampled_from(list(Restart)), st.sampled_from(list(AutoShutdown))
)
def test_which_children_may_be_significant(
    significant: bool, restart: Restart, mode: AutoShutdown
) -> None:
    allowed = not significant or (
        restart is not Restart.PERMANENT and mode is not AutoShutdown.NEVER
    )
    if allowed:
        check_significant(significant, restart, mode)
    else:
        with pytest.raises(ValueError, match="significant=True needs"):
            check_significant(significant, restart, mode)
