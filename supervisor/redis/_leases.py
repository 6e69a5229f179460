"""The worker parts that keep its jobs its own: the lease renewer (the fence: a
lost lease cancels the local copy) and the cancel listener."""

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


async def cancel_listener(state: WorkerState) -> None:
    """A worker part: cancel a running job as soon as ``cancel()`` is published.
    A message missed while the connection was down is caught by the next renewal,
    which reads the job's persistent cancel flag."""
    async with state.client.pubsub(
        channels=[state.keys.cancel_channel], ignore_subscribe_messages=True
    ) as pubsub:
        while True:
            message = await pubsub.get_message()
            if message is None or message["type"] != "message":
                continue
            data = message["data"]
            job_id = data.decode() if isinstance(data, bytes) else str(data)
            job = state.inflight.jobs.get(job_id)
            if job is not None and not job.cancel_requested:
                cancel_job(state, job, fenced=False)
