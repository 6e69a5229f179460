"""The worker part that takes jobs: it never holds more than ``concurrency``,
promotes delayed jobs that are due, and reclaims the jobs of dead workers (each
run alone, so that a job that kills its worker is the one charged for it)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

import anyio

from ._job_runs import end_run, start_all
from ._keys import GROUP
from ._outcome import Ending
from ._records import text
from ._worker_state import LocalJob

if TYPE_CHECKING:
    from ._worker_state import WorkerState

logger = logging.getLogger("supervisor.redis")

#: The longest a fetch blocks, and how often expired leases are looked for (s).
POLL: Final = 0.5
#: Delayed jobs promoted per script call.
PROMOTE_BATCH: Final = 100


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


async def _promote(state: WorkerState) -> float:
    """Move due delayed jobs to the stream; the seconds until the next is due."""
    while True:
        moved, wait_ms = await state.scripts.call("promote", PROMOTE_BATCH)
        if moved < PROMOTE_BATCH:
            return POLL if wait_ms < 0 else min(POLL, wait_ms / 1000)


async def _reclaim(state: WorkerState) -> bool:
    """Run one job whose lease expired, alone: wait until this worker holds
    nothing, claim it, and fetch nothing else until its outcome is stored.
    False when no lease has expired."""
    expired = await state.client.xpending(
        state.keys.stream, GROUP, start="-", end="+", count=1, idle=state.lease_ms
    )
    if not expired:
        return False
    await state.inflight.wait_empty()
    if state.draining.is_set():
        return False
    reply = await state.scripts.call(
        "reclaim",
        state.consumer,
        state.lease_ms,
        state.max_deliveries,
        state.result_ttl_ms,
    )
    if reply is None:
        return False
    state.reclaimed += 1
    source, idle_ms, *jobs = reply
    _log_reclaim(state, text(source), idle_ms, jobs)
    start_all(state, jobs)
    await state.inflight.wait_empty()
    return True


def _log_reclaim(
    state: WorkerState, source: str, idle_ms: int, jobs: list[Any]
) -> None:
    """One WARNING per job taken over from a worker whose lease expired."""
    what = (
        f"job {text(jobs[1])} ({text(jobs[2])})"
        if len(jobs) == 6 and jobs[4] > 0
        else "an entry"  # it must not run: DEAD or set aside (logged as such)
    )
    logger.warning(
        "worker %s: reclaimed %s from worker %s after %.1f s without a renewal "
        "(lease %g s): it runs here alone",
        state.consumer,
        what,
        source,
        idle_ms / 1000,
        state.lease_ms / 1000,
        extra={"queue": state.keys.queue, "worker": state.consumer},
    )


def _hand_back(state: WorkerState, entries: list[tuple[bytes, bytes]]) -> None:
    """Entries read after the drain began go straight back (no attempt counted)."""
    for entry, job_id in entries:
        job = LocalJob(entry, job_id.decode(), "", 0)
        state.inflight.add(job)
        end_run(state, job, Ending.NOT_STARTED)


async def fetcher(state: WorkerState) -> None:
    """A worker part: take jobs while the worker has room, until it drains."""
    stream = state.keys.stream
    stream_key = stream.encode()
    next_promote = next_reclaim = 0.0
    while not state.draining.is_set():
        now = anyio.current_time()
        if now >= next_promote:
            next_promote = now + await _promote(state)
        if now >= next_reclaim:
            next_reclaim = now + POLL
            if await _reclaim(state):
                continue
        state.refill = True
        try:
            await state.inflight.wait_free()
        finally:
            state.refill = False
        if state.draining.is_set():
            break
        # The busy path: read and begin in one round trip.
        reply = await state.scripts.call(
            "fetch",
            state.consumer,
            state.inflight.free,
            state.solo,
            state.max_deliveries,
            state.result_ttl_ms,
        )
        if reply[0]:
            start_all(state, reply[1:])
            continue
        # Nothing new: wait for an entry on the stream (the idle path).
        block = min(next_promote, next_reclaim) - anyio.current_time()
        reply = await state.client.xreadgroup(
            GROUP,
            state.consumer,
            streams={stream: ">"},
            count=state.inflight.free,
            block=max(1, int(block * 1000)),
        )
        if not reply:
            continue
        # (an entry without an id is the begin script's to set aside)
        entries = [
            (_bytes(e.identifier), _bytes(e.field_values.get(b"id", b"")))
            for e in reply[stream_key]
        ]
        if state.draining.is_set():
            _hand_back(state, entries)
            break
        args: list[str | bytes | int] = [
            state.consumer,
            state.solo,
            state.max_deliveries,
            state.result_ttl_ms,
        ]
        for entry, job_id in entries:
            args += (entry, job_id)
        start_all(state, await state.scripts.call_many("begin", args))
    # A PERMANENT part that returned would be restarted: a drained fetcher waits.
    await anyio.sleep_forever()
