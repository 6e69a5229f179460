"""The internal state names of ``_policy`` stay what they say.

``Role`` and ``Phase`` are compared by identity only, so their values are there for
people: a debugger, a log line of a contributor, a ``print(extra.role)``. Pinned
so that renaming one is a deliberate change.
"""

from __future__ import annotations

from supervisor._policy import Phase, Role


def test_role_values_are_their_lowercased_names() -> None:
    assert [(r.name, r.value) for r in Role] == [
        ("NONE", "none"),
        ("GROUP_STOP", "group_stop"),
        ("GROUP_HELD", "group_held"),
        ("RESTART_PENDING", "restart_pending"),
        ("TERMINATING", "terminating"),
        ("SHUTTING_DOWN", "shutting_down"),
    ]


def test_phase_values_are_their_lowercased_names() -> None:
    assert [(p.name, p.value) for p in Phase] == [
        ("OPEN", "open"),
        ("CLOSED", "closed"),
        ("STOPPING", "stopping"),
    ]
