"""What becomes of a job when its run on a worker ends: the rules of retry, fail,
cancel, hand back and dead, as one pure function (no I/O, no clock, no Redis).
``_job_runs`` carries out what it returns; the outcome script stores it, behind
the lease fence, atomically with the entry's acknowledgement.

=================  =========================  ==========================================
how it ended       also                       outcome
=================  =========================  ==========================================
UNKNOWN_NAME       (it never ran)             dead, with the reason
BAD_PAYLOAD        (it never ran)             dead, with the reason
NOT_STARTED        (the worker drains)        back: no attempt counted
COMPLETED                                     ok
FAILED             attempt < max_attempts     retry after the job's backoff (0 without)
FAILED             attempt >= max_attempts    fail
CANCELLED          its lease was lost         drop: store nothing (another worker has it)
CANCELLED          cancel() was called        cancel
CANCELLED          neither (a drain, a stop)  back: no attempt counted
=================  =========================  ==========================================

A run that completed or failed offers its outcome even when its lease was lost
or ``cancel()`` came too late: the script's fence refuses what is no longer this
worker's, and a job that finished on its own is not cancelled after the fact.

One rule is not here: a job reclaimed from a dead worker is DEAD after
``max_deliveries`` charged deaths. That is decided where the job is claimed, in
the begin scripts (``lua/common.lua``, ``begin_one``), since only there is it
atomic with the claim; no run on this worker ends then.
"""

from __future__ import annotations

import enum
import math
from typing import TYPE_CHECKING, Literal

import attrs

if TYPE_CHECKING:
    import random

    from .._spec import Backoff

#: What the outcome script stores (its ``kind``).
StoredKind = Literal["ok", "retry", "fail", "cancel", "dead", "back"]
#: ``drop``: nothing to store; the job leaves this worker's hands.
OutcomeKind = Literal[StoredKind, "drop"]


class Ending(enum.Enum):
    """How a job's run on this worker ended."""

    #: No job of its name in the worker's registry: it never ran.
    UNKNOWN_NAME = "unknown name"
    #: Its payload does not decode to a list of arguments: it never ran.
    BAD_PAYLOAD = "bad payload"
    #: The worker began to drain before the job's task started.
    NOT_STARTED = "not started"
    #: Its task returned a value the codec encodes.
    COMPLETED = "completed"
    #: Its task raised, timed out, or returned a value the codec cannot encode.
    FAILED = "failed"
    #: Its task was cancelled: ``cancel()``, a lost lease, a drain or a stop.
    CANCELLED = "cancelled"


@attrs.frozen
class Outcome:
    kind: OutcomeKind
    #: retry: milliseconds until the job is due again (0: at once).
    delay_ms: int = 0
    #: dead: why the job cannot run.
    reason: str = ""


_OK: Outcome = Outcome("ok")
_FAIL: Outcome = Outcome("fail")
_CANCEL: Outcome = Outcome("cancel")
_BACK: Outcome = Outcome("back")
_DROP: Outcome = Outcome("drop")


def decide_outcome(
    ending: Ending,
    *,
    attempt: int,
    max_attempts: int,
    backoff: Backoff | None,
    rng: random.Random,
    cancel_requested: bool = False,
    fenced: bool = False,
    reason: str = "",
) -> Outcome:
    """The outcome of a run that ended as ``ending`` (the table above).

    ``attempt``: the attempt this run was (1 for the first); ``max_attempts`` and
    ``backoff``: the job's. ``rng`` is drawn from once for a retry whose backoff
    has jitter, and never otherwise (a seeded worker's delays depend on it).
    ``cancel_requested``: ``cancel()`` was called on the job; ``fenced``: its
    lease was lost. ``reason``: why a job that never ran cannot run.
    """
    match ending:
        case Ending.UNKNOWN_NAME | Ending.BAD_PAYLOAD:
            return Outcome("dead", reason=reason)
        case Ending.NOT_STARTED:
            return _BACK
        case Ending.COMPLETED:
            return _OK
        case Ending.FAILED:
            if attempt >= max_attempts:
                return _FAIL
            if backoff is None:
                return Outcome("retry")
            return Outcome("retry", math.ceil(1000 * backoff.delay(attempt, rng)))
        case Ending.CANCELLED:
            if fenced:
                return _DROP
            return _CANCEL if cancel_requested else _BACK
