"""The part of a worker that stores outcomes: one script call per batch, each
outcome stored and its entry acknowledged atomically, behind the lease fence."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
        args: list[str | bytes | int] = [state.consumer, state.result_ttl_ms]
        for job, kind, a, b in batch:
            args += (job.entry, job.id, kind, a, b)
        stored = await state.scripts.call_many("outcome", args)
        del outcomes.waiting[: len(batch)]
        for (job, _, _, _), ok in zip(batch, stored, strict=True):
            if not ok:
                state.fenced += 1
            state.inflight.remove(job)


async def flusher(state: WorkerState) -> None:
    """A worker part: store outcomes as they come."""
    while True:
        await state.outcomes.wait()
        await store_waiting(state)
