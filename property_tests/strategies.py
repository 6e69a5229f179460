"""Hypothesis strategies for supervisor scenarios; new properties extend these."""

from __future__ import annotations

import attrs
from hypothesis import strategies as st


@attrs.frozen
class TaskSpec:
    """One task of a scenario: how long it runs and how it ends."""

    duration: int  # virtual seconds before it returns or raises
    outcome: str  # "return" | "raise" | "hang"
    timeout: int | None
    cancel_after: int | None  # checkpoints a concurrent canceller waits, or None
    submit_delay: int  # virtual seconds after the previous submission


task_specs = st.builds(
    TaskSpec,
    duration=st.integers(0, 5),
    outcome=st.sampled_from(["return", "raise", "hang"]),
    timeout=st.none() | st.integers(1, 6),
    cancel_after=st.none() | st.integers(0, 6),
    submit_delay=st.integers(0, 3),
)

shutdown_modes = st.sampled_from(["exit", "grace", "cancel", "outer", "body_raises"])
