"""The supervisor's decisions (``supervisor._policy``), driven directly: plain code
with no clock and no event loop, checked against OTP's rules written out here."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from supervisor import AutoShutdown, Restart, Strategy, TaskStatus
from supervisor._handle import Extra
from supervisor._policy import (
    Next,
    Role,
    after_attempt,
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


# -- what follows an attempt ---------------------------------------------------------

roles = st.sampled_from(list(Role))


@given(
    roles,
    st.booleans(),
    st.booleans(),
    st.sampled_from(list(Restart)),
    ended,
    attempts,
    caps,
    st.booleans(),
    st.booleans(),
)
def test_what_follows_an_attempt(
    role: Role,
    stopping: bool,
    cancelled: bool,
    restart: Restart,
    status: TaskStatus,
    n: int,
    cap: int | None,
    grouped: bool,
    significant: bool,
) -> None:
    follows = after_attempt(
        role,
        stopping=stopping,
        cancelled=cancelled,
        restart=restart,
        ended=status,
        attempts=n,
        max_attempts=cap,
        grouped=grouped,
        significant=significant,
    )
    room = cap is None or n < cap
    # The model, written out as OTP's rules plus ours:
    if role is Role.GROUP_STOP:
        # A sibling a group restart stopped rejoins the group, unless it is
        # TEMPORARY or used up (OTP), or cancelled, or nothing may restart.
        rejoins = restart is not Restart.TEMPORARY and room
        wanted = (
            Next.REJOIN_GROUP
            if rejoins and not cancelled and not stopping
            else Next.STOPPED_BY_GROUP
        )
    elif (
        role is Role.NONE
        and not stopping
        and not cancelled  # a cancelled task is never restarted
        and room
        and (
            (restart is Restart.PERMANENT and status is not S.CANCELLED)
            or (restart is Restart.TRANSIENT and status is S.FAILED)
        )
    ):
        wanted = Next.RESTART_WITH_GROUP if grouped else Next.RESTART
    elif (
        significant
        and role is Role.NONE
        and not cancelled
        and status is not S.CANCELLED
    ):
        # A significant child that ended by itself (not stopped on purpose, not
        # cancelled): the auto shutdown rule is asked.
        wanted = Next.END_SIGNIFICANT
    else:
        wanted = Next.END
    assert follows is wanted


def test_role_changes_follow_the_table() -> None:
    held = {Role.GROUP_HELD, Role.RESTART_PENDING}
    stops = {Role.GROUP_STOP, Role.TERMINATING, Role.SHUTTING_DOWN}
    for old in Role:
        for new in Role:
            if old in held:
                # A held task (no runner) is released, or ends kept: nothing else.
                legal = new in (Role.NONE, Role.TERMINATING)
            elif new is Role.GROUP_HELD:
                legal = old is Role.GROUP_STOP  # held only once the group stopped it
            elif new is Role.RESTART_PENDING:
                legal = old is Role.NONE  # its own failure leads a group restart
            elif new is Role.GROUP_STOP and old in {
                Role.TERMINATING,
                Role.SHUTTING_DOWN,
            }:
                legal = False  # a stop for good is never turned into a group stop
            else:
                legal = new in stops or new is Role.NONE
            assert old.may_become(new) is legal, (old, new)
        assert old.held is (old in held)
        assert old.for_good is (old in {Role.TERMINATING, Role.SHUTTING_DOWN})


def test_set_role_refuses_an_illegal_change() -> None:
    extra = Extra(Restart.PERMANENT, None, None)
    extra.set_role(Role.GROUP_STOP)
    extra.set_role(Role.GROUP_HELD)
    with pytest.raises(
        AssertionError, match="illegal role change GROUP_HELD -> GROUP_STOP"
    ):
        extra.set_role(Role.GROUP_STOP)
    assert extra.role is Role.GROUP_HELD
