"""The worker part that cancels a running job as soon as ``cancel()`` is
published on the queue's cancel channel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._job_runs import cancel_job
from ._records import text

if TYPE_CHECKING:
    from ._worker_state import WorkerState


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
            job_id = text(data) if isinstance(data, (bytes, str)) else str(data)
            job = state.inflight.jobs.get(job_id)
            if job is not None and not job.cancel_requested:
                cancel_job(state, job, fenced=False)
