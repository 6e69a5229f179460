"""What the queue reports: job statuses, a job's record, the queue's counts."""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime
from typing import Any

import attrs


class JobStatus(enum.Enum):
    """Where a job is. The last four are terminal."""

    #: In the stream, waiting for a worker.
    QUEUED = "queued"
    #: Enqueued with ``delay=``/``at=``; moved to the stream when due.
    DELAYED = "delayed"
    #: Delivered to a worker and started there (or about to be).
    RUNNING = "running"
    #: An attempt failed and the retry waits for its backoff delay.
    RETRYING = "retrying"
    #: The function returned; its result is kept for ``result_ttl``.
    SUCCEEDED = "succeeded"
    #: The last allowed attempt raised or timed out.
    FAILED = "failed"
    #: It could not be run: unknown name, undecodable payload, or it killed its
    #: worker ``max_deliveries`` times. Kept in the dead-letter stream.
    DEAD = "dead"
    #: ``cancel()`` ended it.
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.DEAD, JobStatus.CANCELLED}
)
_BY_VALUE = {s.value.encode(): s for s in JobStatus}


def status_of(raw: bytes) -> JobStatus:
    return _BY_VALUE[raw]


def _time(raw: bytes | None) -> datetime | None:
    if raw is None:
        return None
    return datetime.fromtimestamp(int(raw) / 1000, UTC)


@attrs.frozen
class JobInfo:
    """A job's record as the queue holds it (times are the Redis server's)."""

    id: str
    name: str
    status: JobStatus
    #: Attempts started, not counting runs cut short by a worker's death or drain.
    attempts: int
    #: Deliveries charged to the job: deaths of a worker that ran it alone.
    deliveries: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    #: The last failure (``"ValueError: boom"``) or the reason it is DEAD.
    error: str | None
    #: The last failure's traceback, as text.
    traceback: str | None
    #: Failed attempts, deaths of its workers and the DEAD verdict, oldest first:
    #: dicts with ``at`` (ms since the epoch), ``event`` and details.
    history: tuple[dict[str, Any], ...]

    @classmethod
    def from_fields(cls, job_id: str, fields: dict[bytes, bytes]) -> JobInfo:
        raw_history = fields.get(b"history")
        return cls(
            id=job_id,
            name=fields[b"name"].decode(),
            status=status_of(fields[b"status"]),
            attempts=int(fields.get(b"attempts", 0)),
            deliveries=int(fields.get(b"deliveries", 0)),
            created_at=_time(fields[b"created"]),  # type: ignore[arg-type]  # always set
            started_at=_time(fields.get(b"started")),
            finished_at=_time(fields.get(b"finished")),
            error=fields[b"error"].decode() if fields.get(b"error") else None,
            traceback=fields[b"traceback"].decode()
            if fields.get(b"traceback")
            else None,
            history=tuple(json.loads(raw_history)) if raw_history else (),
        )


@attrs.frozen
class QueueStats:
    """Counts of one queue, read in one atomic step."""

    #: In the stream, not yet delivered.
    ready: int
    #: Waiting for their time: ``delay=``/``at=`` jobs and retries in backoff.
    delayed: int
    #: Delivered to a worker and not yet acknowledged.
    in_flight: int
    #: In the dead-letter stream.
    dead: int
    #: Workers whose heartbeat is current.
    workers: int
