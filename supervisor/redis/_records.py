"""What the queue reports: job statuses, a job's record, the queue's counts."""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs

from .._errors import JobMalformed

if TYPE_CHECKING:
    from collections.abc import Mapping


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


def status_of(raw: bytes | None) -> JobStatus | None:
    """The status a record holds; None when it holds no status of ours."""
    return None if raw is None else _BY_VALUE.get(raw)


def text(raw: bytes | str) -> str:
    """Bytes read from Redis as text (invalid UTF-8 replaced, never an error)."""
    return raw if isinstance(raw, str) else raw.decode(errors="replace")


def int_or_none(raw: bytes | None) -> int | None:
    """An integer read from Redis; None when missing or not an integer."""
    try:
        return None if raw is None else int(raw)
    except ValueError:
        return None


def _time(raw: bytes | None) -> datetime | None:
    ms = int_or_none(raw)
    if ms is None:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


_EPOCH = datetime.fromtimestamp(0, UTC)


def _history(raw: bytes | None) -> tuple[dict[str, Any], ...]:
    if not raw:
        return ()
    try:
        events = json.loads(raw)
    except ValueError:
        events = None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        return ({"event": "unreadable history", "raw": text(raw)},)
    return tuple(events)


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
        """The record as read from Redis. Raises ``JobMalformed`` when it has no
        job status; other fields of the wrong kind read as missing (a name as
        "", a creation time as the epoch, counts as 0)."""
        status = status_of(fields.get(b"status"))
        if status is None:
            raise JobMalformed(job_id, f"status is {fields.get(b'status')!r}")
        name = fields.get(b"name")
        error = fields.get(b"error")
        trace = fields.get(b"traceback")
        return cls(
            id=job_id,
            name=text(name) if name else "",
            status=status,
            attempts=int_or_none(fields.get(b"attempts")) or 0,
            deliveries=int_or_none(fields.get(b"deliveries")) or 0,
            created_at=_time(fields.get(b"created")) or _EPOCH,
            started_at=_time(fields.get(b"started")),
            finished_at=_time(fields.get(b"finished")),
            error=text(error) if error else None,
            traceback=text(trace) if trace else None,
            history=_history(fields.get(b"history")),
        )


@attrs.frozen
class MalformedEntry:
    """An entry of one of a queue's keys that could not be read, set aside by a
    worker or a queue (``q.malformed()``): what it was and why it was refused."""

    #: When it was set aside (the Redis server's time).
    at: datetime
    #: Which of the queue's keys held it: ``stream``, ``delayed`` or ``key`` (a
    #: dedupe key).
    source: str
    #: The full name of that key.
    key: str
    reason: str
    #: The entry's raw contents (invalid UTF-8 replaced).
    fields: dict[str, Any]

    @classmethod
    def from_entry(
        cls, entry_id: bytes | str, fields: Mapping[Any, Any]
    ) -> MalformedEntry:
        try:
            raw = json.loads(fields.get(b"raw", b"{}").decode(errors="replace"))
        except ValueError:
            raw = None
        ms = text(entry_id).partition("-")[0]
        return cls(
            at=_time(ms.encode()) or _EPOCH,
            source=text(fields.get(b"source", b"?")),
            key=text(fields.get(b"key", b"?")),
            reason=text(fields.get(b"reason", b"?")),
            fields=raw if isinstance(raw, dict) else {},
        )


def queue_stats(reply: list[int]) -> QueueStats:
    """The stats script's reply (``lua/stats.lua``) as QueueStats."""
    ready, in_flight, delayed, dead, workers, malformed, lost = reply
    return QueueStats(
        ready=ready,
        delayed=delayed,
        in_flight=in_flight,
        dead=dead,
        workers=workers,
        malformed=malformed,
        lost=lost,
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
    #: Malformed entries set aside (``q.malformed()`` lists them).
    malformed: int = 0
    #: Lost workers: no heartbeat within three beats, yet holding jobs (which
    #: live workers reclaim once their leases expire).
    lost: int = 0
