"""The part of a worker that stores outcomes: one script call per batch, each
outcome stored and its entry acknowledged atomically, behind the lease fence.
While the fetcher waits for room, the same call takes new jobs for the slots
the batch frees (one round trip per job at concurrency 1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._job_runs import start_all
from ._worker_state import OUTCOME_BATCH

if TYPE_CHECKING:
    from ._worker_state import WorkerState


async def store_waiting(state: WorkerState) -> None:
    """Store the outcomes that wait, in batches, until none does. On an error
    (the connection dropped) the batch stays waiting: the script is safe to run
    again, since an outcome already stored no longer passes the fence."""
    outcomes = state.outcomes
    while outcomes.waiting:
        batch = outcomes.waiting[:OUTCOME_BATCH]
        refill = len(batch) if state.refill and not state.draining.is_set() else 0
        args: list[str | bytes | int] = [
            state.consumer,
            state.result_ttl_ms,
            refill,
            state.solo,
            state.max_deliveries,
        ]
        for job, kind, a, b in batch:
            args += (job.entry, job.id, kind, a, b)
        reply = await state.scripts.call_many("outcome", args)
        del outcomes.waiting[: len(batch)]
        # No checkpoint from here: the slots the batch frees and the jobs that
        # fill them change hands at once, so the fetcher never sees extra room.
        for (job, kind, _, _), ok in zip(batch, reply, strict=False):
            if not ok:
                state.fenced += 1
            elif kind == "back":
                state.handed_back += 1
            state.inflight.remove(job)
        if refill:
            start_all(state, reply[len(batch) + 1 :])


async def flusher(state: WorkerState) -> None:
    """A worker part: store outcomes as they come."""
    while True:
        await state.outcomes.wait()
        await store_waiting(state)
