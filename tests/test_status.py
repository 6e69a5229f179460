from __future__ import annotations

import pytest

from supervisor import TaskStatus
from supervisor._status import LEGAL_TRANSITIONS, is_legal_transition

S = TaskStatus


def test_terminal_statuses_are_exactly_the_last_three() -> None:
    assert {s for s in S if s.is_terminal} == {S.COMPLETED, S.FAILED, S.CANCELLED}


def test_transition_table_is_the_contract() -> None:
    allowed = {(a, b) for a, targets in LEGAL_TRANSITIONS.items() for b in targets}
    assert allowed == {
        (S.PENDING, S.RUNNING),
        (S.PENDING, S.CANCELLED),
        (S.RUNNING, S.COMPLETED),
        (S.RUNNING, S.FAILED),
        (S.RUNNING, S.CANCELLED),
        (S.RUNNING, S.RESTARTING),
        (S.RESTARTING, S.RUNNING),
        (S.RESTARTING, S.CANCELLED),
        (S.RESTARTING, S.FAILED),
    }


@pytest.mark.parametrize("old", list(S))
@pytest.mark.parametrize("new", list(S))
def test_member_next_matches_table(old: TaskStatus, new: TaskStatus) -> None:
    assert (
        (new in old._next)
        == (new in LEGAL_TRANSITIONS[old])
        == is_legal_transition(old, new)
    )


def test_creation_is_only_into_pending() -> None:
    assert [s for s in S if is_legal_transition(None, s)] == [S.PENDING]
