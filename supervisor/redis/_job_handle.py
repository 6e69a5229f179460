"""``JobHandle``: a job seen from any process, by its id."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, final

import anyio

from .._checks import check_seconds
from .._errors import JobCancelled, JobDead, JobFailed, JobMalformed, JobNotFound
from ._records import JobInfo, JobStatus, status_of, text

if TYPE_CHECKING:
    from ._queue_link import QueueLink


@final
class JobHandle:
    """A job of one queue. Cheap to make (``q.job(id)``); every method asks Redis.
    Two handles of the same job are equal."""

    __slots__ = ("_queue", "id")

    def __init__(self, job_id: str, *, queue: QueueLink) -> None:
        #: The job id (a str), as ``q.job(id)`` takes it.
        self.id = job_id
        self._queue = queue

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JobHandle):
            return NotImplemented
        return self.id == other.id and self._queue.keys == other._queue.keys

    def __hash__(self) -> int:
        return hash(self.id)

    async def status(self) -> JobStatus:
        self._queue.check_open()
        raw = await self._queue.client.hget(self._queue.keys.job(self.id), "status")
        if raw is None:
            raise JobNotFound(self._not_found())
        return self._status(raw)

    def _status(self, raw: bytes) -> JobStatus:
        status = status_of(raw)
        if status is None:
            raise JobMalformed(self.id, f"status is {raw!r}")
        return status

    async def info(self) -> JobInfo:
        self._queue.check_open()
        fields = await self._queue.client.hgetall(self._queue.keys.job(self.id))
        if not fields:
            raise JobNotFound(self._not_found())
        return JobInfo.from_fields(self.id, fields)

    async def result(self, timeout: float | None = None) -> Any:  # noqa: ASYNC109 - the contract's signature
        """Wait until the job ends and return its value.

        Raises ``JobFailed``, ``JobCancelled`` or ``JobDead`` for those ends,
        ``JobNotFound`` when there is no such job, ``JobMalformed`` when its
        record (or stored result) cannot be read, and ``TimeoutError`` when
        ``timeout`` seconds pass first (the job goes on).
        """
        check_seconds("timeout", timeout, zero_ok=True)
        queue = self._queue
        queue.check_open()
        with anyio.fail_after(math.inf if timeout is None else timeout):
            async with queue.waiters.watch(self.id) as ended:
                while True:
                    fields = await queue.client.hmget(
                        queue.keys.job(self.id),
                        ["status", "result", "error", "traceback"],
                    )
                    if fields[0] is None:
                        raise JobNotFound(self._not_found())
                    status = self._status(fields[0])
                    if status.is_terminal:
                        return self._outcome(status, fields)
                    await queue.waiters.wait(ended)

    def _outcome(self, status: JobStatus, fields: tuple[bytes | None, ...]) -> Any:
        _, result, error, traceback = fields
        if status is JobStatus.SUCCEEDED:
            if result is None:
                raise JobMalformed(self.id, "it SUCCEEDED but has no result")
            try:
                return self._queue.codec.decode(result)
            except Exception as exc:  # any codec error: the stored result is bad
                reason = f"its result does not decode: {exc!r}"
                raise JobMalformed(self.id, reason) from exc
        if status is JobStatus.CANCELLED:
            raise JobCancelled(self.id)
        reason = text(error) if error else "unknown"
        if status is JobStatus.DEAD:
            raise JobDead(self.id, reason)
        raise JobFailed(self.id, reason, text(traceback) if traceback else None)

    async def cancel(self) -> JobStatus:
        """Cancel the job, from any process: a waiting one ends CANCELLED at once
        and never starts; a running one is cancelled promptly by its worker. A
        finished one is left as it is. Returns the status after the call."""
        queue = self._queue
        queue.check_open()
        raw = await queue.scripts.call("cancel", self.id, queue.result_ttl_ms)
        if raw is None:
            raise JobNotFound(self._not_found())
        return self._status(raw)

    def _not_found(self) -> str:
        return f"no job {self.id!r} in queue {self._queue.name!r}"

    def __repr__(self) -> str:
        return f"<JobHandle {self.id} of queue {self._queue.name!r}>"
