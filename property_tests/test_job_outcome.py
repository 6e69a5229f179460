"""A worker's decision of what becomes of a job (``supervisor.redis._outcome``),
driven directly: a pure function, checked against the rules of the contract's
distributed-jobs section written out here as a small model."""

from __future__ import annotations

import math
import random
import re
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

pytest.importorskip("coredis")  # supervisor.redis imports it

from supervisor import Backoff
from supervisor.redis._outcome import Ending, Outcome, decide_outcome

E = Ending


@st.composite
def backoffs(draw: st.DrawFn) -> Backoff:
    a, b = sorted(draw(st.lists(st.floats(0, 100), min_size=2, max_size=2)))
    return Backoff(
        initial=a,
        maximum=b,
        multiplier=draw(st.floats(1, 10)),
        jitter=draw(st.sampled_from([0.0, 1.0]) | st.floats(0, 1)),
    )


def model(
    ending: Ending,
    attempt: int,
    max_attempts: int,
    cancel_requested: bool,
    fenced: bool,
) -> str:
    """The kind of outcome, as API.md words the rules."""
    if ending in (E.UNKNOWN_NAME, E.BAD_PAYLOAD):
        # "A job name that no worker's registry knows ends DEAD with that reason";
        # "a payload that does not decode ... ends DEAD ... with its reason".
        return "dead"
    if ending is E.NOT_STARTED:
        # Drain: "hands back what is left at once (no delivery counted)".
        return "back"
    if ending is E.COMPLETED:
        return "ok"
    if ending is E.FAILED:
        # "An exception or timeout is a failed attempt, retried by the job's
        # max_attempts/backoff, then FAILED."
        return "retry" if attempt < max_attempts else "fail"
    # Cancelled. "A worker that loses a lease cancels its own copy" (another
    # worker has the job: nothing of this run is stored); cancel() ends a running
    # job CANCELLED; a drain's or a stop's cancel hands the job back.
    if fenced:
        return "drop"
    return "cancel" if cancel_requested else "back"


def delay_bounds_ms(backoff: Backoff, attempt: int) -> tuple[float, float]:
    """Backoff's documented delay before attempt ``attempt + 1``:
    ``min(maximum, initial * multiplier**(attempt - 1))`` times a factor in
    ``[1 - jitter, 1 + jitter]``; in milliseconds."""
    base = min(backoff.maximum, backoff.initial * backoff.multiplier ** (attempt - 1))
    return 1000 * base * (1 - backoff.jitter), 1000 * base * (1 + backoff.jitter)


@given(
    ending=st.sampled_from(list(Ending)),
    attempt=st.integers(1, 12),
    max_attempts=st.integers(1, 12),
    backoff=st.none() | backoffs(),
    seed=st.integers(0, 2**32),
    cancel_requested=st.booleans(),
    fenced=st.booleans(),
    reason=st.text(max_size=20),
)
def test_the_outcome_follows_the_rules_of_the_contract(
    ending: Ending,
    attempt: int,
    max_attempts: int,
    backoff: Backoff | None,
    seed: int,
    cancel_requested: bool,
    fenced: bool,
    reason: str,
) -> None:
    rng = random.Random(seed)
    outcome = decide_outcome(
        ending,
        attempt=attempt,
        max_attempts=max_attempts,
        backoff=backoff,
        rng=rng,
        cancel_requested=cancel_requested,
        fenced=fenced,
        reason=reason,
    )
    kind = model(ending, attempt, max_attempts, cancel_requested, fenced)
    assert outcome.kind == kind
    assert outcome.reason == (reason if kind == "dead" else "")
    # The generator is drawn from once for a jittered retry, never otherwise: a
    # seeded worker's later delays must not depend on outcomes that need none.
    expected_rng = random.Random(seed)
    draws = kind == "retry" and backoff is not None and backoff.jitter > 0
    u = expected_rng.random() if draws else None
    assert rng.getstate() == expected_rng.getstate()
    if kind != "retry" or backoff is None:
        assert outcome.delay_ms == 0
        return
    low, high = delay_bounds_ms(backoff, attempt)
    # A whole number of milliseconds, never early: rounded up.
    assert math.ceil(low - 1e-6) <= outcome.delay_ms <= math.ceil(high + 1e-6)
    if u is None:  # no jitter: exact
        assert outcome.delay_ms == math.ceil(low) == math.ceil(high)
    else:  # the factor is the uniform draw, mapped onto [1 - jitter, 1 + jitter]
        exact = low + (high - low) * u
        assert exact - 1e-6 <= outcome.delay_ms < exact + 1 + 1e-6


@given(
    ending=st.sampled_from(list(Ending)),
    attempt=st.integers(1, 12),
    max_attempts=st.integers(1, 12),
    backoff=st.none() | backoffs(),
    seed=st.integers(0, 2**32),
    flags=st.tuples(st.booleans(), st.booleans()),
)
def test_the_same_inputs_give_the_same_outcome(
    ending: Ending,
    attempt: int,
    max_attempts: int,
    backoff: Backoff | None,
    seed: int,
    flags: tuple[bool, bool],
) -> None:
    def decide() -> Outcome:
        return decide_outcome(
            ending,
            attempt=attempt,
            max_attempts=max_attempts,
            backoff=backoff,
            rng=random.Random(seed),
            cancel_requested=flags[0],
            fenced=flags[1],
        )

    assert decide() == decide()


def test_every_kind_it_stores_is_one_the_outcome_script_stores() -> None:
    script = Path(__file__).parent.parent / "supervisor/redis/lua/outcome.lua"
    handled = set(re.findall(r"kind == '(\w+)'", script.read_text()))
    kinds = {
        decide_outcome(
            ending,
            attempt=attempt,
            max_attempts=2,
            backoff=None,
            rng=random.Random(0),
            cancel_requested=cancel,
            fenced=fenced,
        ).kind
        for ending in Ending
        for attempt in (1, 2)
        for cancel in (False, True)
        for fenced in (False, True)
    }
    assert kinds - {"drop"} == handled


def test_the_defaults_say_nothing_was_asked_and_no_reason_given() -> None:
    """A run cancelled with neither cancel() nor a lost lease (a drain) goes back;
    a job that cannot run has the reason it is given, none by default."""
    rng = random.Random(0)
    common = {"attempt": 1, "max_attempts": 1, "backoff": None, "rng": rng}
    assert decide_outcome(Ending.CANCELLED, **common) == Outcome("back")  # type: ignore[arg-type]
    assert decide_outcome(Ending.UNKNOWN_NAME, **common) == Outcome("dead", reason="")  # type: ignore[arg-type]
