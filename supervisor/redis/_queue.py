"""``open_queue``: enqueueing jobs, finding them again, and the queue's counts."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, cast, final

import anyio

from .._checks import check_count, check_seconds
from .._errors import JobMalformed
from ._codec import Codec, JsonCodec, check_codec, encode_arguments
from ._connection import open_client
from ._job_handle import JobHandle
from ._keys import QueueKeys, check_queue_name
from ._queue_link import QueueLink
from ._records import JobInfo, MalformedEntry, QueueStats, queue_stats, text
from ._registry import check_job_name
from ._result_waiters import ResultWaiters
from ._scripts import Scripts
from ._urls import check_url

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

#: Jobs per script call of ``enqueue_many``: big enough to amortize the round
#: trip, small enough not to stall the server for long.
BATCH: Final = 500
DEFAULT_RESULT_TTL: Final = 86400.0


def job_name_of(job: object) -> str:
    """``enqueue`` takes a job's name or its registered function."""
    if callable(job):
        name = getattr(job, "__supervisor_job__", None) or getattr(
            job, "__name__", None
        )
    else:
        name = job
    check_job_name(name)
    assert isinstance(name, str)
    return name


def _when(delay: float | None, at: datetime | None) -> tuple[str, int]:
    if delay is not None and at is not None:
        msg = "give delay= or at=, not both"
        raise ValueError(msg)
    if delay is not None:
        check_seconds("delay", delay, zero_ok=True)
        if math.isinf(delay):
            msg = "delay must be finite"
            raise ValueError(msg)
        return "d", math.ceil(delay * 1000)
    if at is not None:
        if not isinstance(cast("object", at), datetime):
            msg = f"at must be a timezone-aware datetime, got {at!r}"
            raise TypeError(msg)
        if at.tzinfo is None or at.utcoffset() is None:
            msg = f"at must be timezone-aware (a naive time is ambiguous), got {at!r}"
            raise ValueError(msg)
        return "a", math.ceil(at.timestamp() * 1000)
    return "n", 0


def _check_key(key: object) -> str:
    if key is None:
        return ""
    if not isinstance(key, str) or not key:
        msg = f"key must be a non-empty str or None, got {key!r}"
        raise TypeError(msg) if not isinstance(key, str) else ValueError(msg)
    return key


@final
class Queue:
    """A connection to one queue, from any process (``open_queue``)."""

    __slots__ = ("_link", "client", "codec", "keys", "name", "scripts")

    def __init__(self, link: QueueLink) -> None:
        self._link = link
        self.name = link.name
        #: The coredis client (bytes replies), for what this API does not cover.
        self.client = link.client
        self.keys = link.keys
        self.scripts = link.scripts
        self.codec = link.codec

    async def enqueue(
        self,
        job: str | Callable[..., Any],
        /,
        *args: Any,
        key: str | None = None,
        delay: float | None = None,
        at: datetime | None = None,
    ) -> JobHandle:
        """Add one job: ``job`` is a registered name (or the registered function)
        and ``args`` its positional arguments, encoded by the codec (a TypeError
        names an argument it cannot encode). With ``key``, while a job with that
        key is unfinished, the existing job is returned instead. ``delay``
        (seconds) or ``at`` (an aware datetime) schedule it."""
        name = job_name_of(job)
        kind, when = _when(delay, at)
        payload = encode_arguments(self.codec, name, args)
        key_ = _check_key(key)
        job_id = uuid.uuid4().hex
        with self._send_span(job_id, 1) as trace:
            reply = await self.scripts.call(
                "enqueue", job_id, name, payload, key_, kind, when, trace
            )
        return JobHandle(reply[0].decode(), queue=self._link)

    async def enqueue_many(
        self,
        job: str | Callable[..., Any],
        arguments: Iterable[Sequence[Any]],
        /,
        *,
        delay: float | None = None,
        at: datetime | None = None,
    ) -> list[JobHandle]:
        """Add one job per sequence of arguments, in batches of 500 per round trip.
        Every payload is encoded before anything is sent: a TypeError adds none."""
        name = job_name_of(job)
        kind, when = _when(delay, at)
        payloads = [
            encode_arguments(self.codec, name, tuple(a))
            for a in _argument_tuples(arguments)
        ]
        ids = [uuid.uuid4().hex for _ in payloads]
        handles = []
        with self._send_span(ids[0] if ids else "", len(ids)) as trace:
            flat: list[str | bytes | int] = []
            for job_id, payload in zip(ids, payloads, strict=True):
                flat += (job_id, name, payload, "", kind, when, trace)
            step = BATCH * 7
            for start in range(0, len(flat), step):
                reply = await self.scripts.call_many(
                    "enqueue", flat[start : start + step]
                )
                handles += [JobHandle(i.decode(), queue=self._link) for i in reply[::2]]
        return handles

    @contextmanager
    def _send_span(self, job_id: str, count: int) -> Iterator[str]:
        """With tracing, the "send" span around an enqueue, ended with its error if
        any; gives the traceparent the jobs carry ("" without tracing)."""
        tracing = self._link.tracing
        if tracing is None:
            yield ""
            return
        span, trace = tracing.send(self.name, job_id, count)
        try:
            yield trace
        except BaseException as exc:
            tracing.sent(span, exc)
            raise
        tracing.sent(span, None)

    def job(self, job_id: str) -> JobHandle:
        """The handle of a job enqueued anywhere (no round trip)."""
        _check_job_id(job_id)
        return JobHandle(job_id, queue=self._link)

    async def stats(self) -> QueueStats:
        return queue_stats(await self.scripts.call("stats"))

    async def dead_letters(self, count: int = 100) -> list[JobInfo]:
        """The oldest ``count`` DEAD jobs, with their history. An entry of the
        dead-letter stream without a readable job behind it is skipped."""
        check_count("count", count, 1)
        entries = await self.client.xrange(self.keys.dead, count=count)
        found = []
        for entry in entries:
            raw = entry.field_values.get(b"id")
            if not raw:
                continue
            job_id = text(raw)
            fields = await self.client.hgetall(self.keys.job(job_id))
            if fields:
                try:
                    found.append(JobInfo.from_fields(job_id, fields))
                except JobMalformed:
                    continue
        return found

    async def malformed(self, count: int = 100) -> list[MalformedEntry]:
        """The newest ``count`` malformed entries that workers and queues set
        aside (at most about 10,000 are kept), newest first."""
        check_count("count", count, 1)
        entries = await self.client.xrevrange(self.keys.malformed, count=count)
        return [
            MalformedEntry.from_entry(e.identifier, e.field_values) for e in entries
        ]

    async def requeue(self, *job_ids: str) -> int:
        """Put DEAD jobs back in the queue with a fresh budget of attempts and
        deliveries (their history is kept). Returns how many were DEAD."""
        for job_id in job_ids:
            _check_job_id(job_id)
        if not job_ids:
            return 0
        count: int = await self.scripts.call_many("requeue", job_ids)
        return count

    def __repr__(self) -> str:
        return f"<supervisor.redis.Queue {self.name!r}>"


@asynccontextmanager
async def open_queue(
    url: str,
    queue: str,
    *,
    codec: Codec | None = None,
    result_ttl: float = DEFAULT_RESULT_TTL,
    wait_for_redis: float | None = 0,
) -> AsyncIterator[Queue]:
    """Connect to a queue to enqueue jobs and follow them. ``codec`` must be the
    workers' (JSON by default). ``result_ttl`` is how long a job that ``cancel()``
    ends here stays readable (workers keep results for their own ``result_ttl``).
    ``wait_for_redis``: seconds to wait for a Redis that is not there yet (None:
    for ever), else ``RedisUnavailable``."""
    check_url(url)
    check_queue_name(queue)
    check_codec(JsonCodec() if codec is None else codec)
    check_seconds("result_ttl", result_ttl, zero_ok=False, none_ok=False)
    check_seconds("wait_for_redis", wait_for_redis, zero_ok=True)
    keys = QueueKeys(queue)
    async with open_client(url, keys, wait=wait_for_redis) as client:
        async with anyio.create_task_group() as tg:
            q = Queue(
                QueueLink(
                    name=queue,
                    client=client,
                    keys=keys,
                    scripts=Scripts.register(client, keys),
                    codec=JsonCodec() if codec is None else codec,
                    result_ttl_ms=math.ceil(result_ttl * 1000),
                    waiters=ResultWaiters(client, keys, tg),
                    task_group=tg,
                )
            )
            try:
                yield q
            finally:
                q._link.closed = True
                tg.cancel_scope.cancel()


def _check_job_id(job_id: object) -> None:
    if not isinstance(job_id, str):
        msg = f"job_id must be a non-empty str, got {job_id!r}"
        raise TypeError(msg)
    if not job_id:
        msg = "job_id must not be empty"
        raise ValueError(msg)


def _argument_tuples(arguments: object) -> Iterator[Sequence[Any]]:
    """enqueue_many's ``arguments``: an iterable of one sequence per job."""
    if isinstance(arguments, (str, bytes)) or not isinstance(arguments, Iterable):
        msg = f"arguments must be an iterable of argument tuples, got {arguments!r}"
        raise TypeError(msg)
    for i, one in enumerate(arguments):
        if isinstance(one, (str, bytes)) or not isinstance(one, Sequence):
            msg = (
                f"arguments[{i}] must be a tuple (or list) of one job's arguments, "
                f"got {one!r}"
            )
            raise TypeError(msg)
        yield one
