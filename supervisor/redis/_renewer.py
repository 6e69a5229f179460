"""The worker part that keeps its jobs its own: the lease renewer. It is the
fence too: a lost lease cancels the local copy; and it catches the cancel
requests the cancel listener missed, from the job's persistent flag."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import anyio

from ._job_runs import cancel_job
from ._worker_state import OUTCOME_BATCH

if TYPE_CHECKING:
    from ._worker_state import WorkerState

#: Renewals per lease: a lease survives two renewals lost in a row.
RENEWALS_PER_LEASE: Final = 3


async def renew_once(state: WorkerState) -> None:
    """Renew the lease of every job this worker holds. A job whose lease is lost
    is cancelled here (another worker may run it); one with a cancel request is
    cancelled (the flag outlives a missed message)."""
    held = list(state.inflight.jobs.values())
    for start in range(0, len(held), OUTCOME_BATCH):
        batch = held[start : start + OUTCOME_BATCH]
        args: list[str | bytes] = [state.consumer]
        for job in batch:
            args += (job.entry, job.id)
        replies = await state.scripts.call_many("renew", args)
        for job, reply in zip(batch, replies, strict=True):
            if state.inflight.jobs.get(job.id) is not job:
                continue  # its outcome was stored meanwhile
            if reply == 0:
                cancel_job(state, job, fenced=True)
            elif reply == 2 and not job.cancel_requested:
                cancel_job(state, job, fenced=False)


async def renewer(state: WorkerState) -> None:
    """A worker part: renew leases ``RENEWALS_PER_LEASE`` times per lease."""
    period = state.lease_ms / 1000 / RENEWALS_PER_LEASE
    while True:
        await renew_once(state)
        await anyio.sleep(period)
