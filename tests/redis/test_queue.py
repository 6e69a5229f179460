"""The producer side: enqueue, dedupe, schedule, status, cancel of waiting jobs,
stats, bad input. No worker runs here unless a test starts one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest

from supervisor.redis import (
    JobCancelled,
    JobNotFound,
    JobRegistry,
    JobStatus,
    JsonCodec,
    MsgspecCodec,
    QueueStats,
    open_queue,
    open_worker,
)

from . import jobs
from .helpers import wait_until

pytestmark = pytest.mark.anyio


async def test_an_enqueued_job_is_queued_with_its_record(url: str, queue: str) -> None:
    """A new job is QUEUED, counted as ready, and its record has no start yet."""
    async with open_queue(url, queue) as q:
        h = await q.enqueue("add", 1, 2)
        assert await h.status() is JobStatus.QUEUED
        info = await h.info()
        assert (info.name, info.status, info.attempts, info.deliveries) == (
            "add",
            JobStatus.QUEUED,
            0,
            0,
        )
        assert info.started_at is None
        assert info.finished_at is None
        assert info.created_at.tzinfo is not None
        assert await q.stats() == QueueStats(
            ready=1, delayed=0, in_flight=0, dead=0, workers=0
        )


async def test_enqueue_takes_the_registered_function_too(url: str, queue: str) -> None:
    """``enqueue(fn, ...)`` is ``enqueue(fn.__name__, ...)``."""
    async with open_queue(url, queue) as q:
        h = await q.enqueue(jobs.add, 1, 2)
        assert (await h.info()).name == "add"


async def test_q_job_finds_a_job_enqueued_elsewhere(url: str, queue: str) -> None:
    """A handle made from the id (in another connection) sees the same job."""
    async with open_queue(url, queue) as q1, open_queue(url, queue) as q2:
        h = await q1.enqueue("add", 1, 2)
        again = q2.job(h.id)
        assert again == h
        assert hash(again) == hash(h)
        assert await again.status() is JobStatus.QUEUED


async def test_an_unknown_id_is_not_found(url: str, queue: str) -> None:
    """status, info, result and cancel of an id that no job has raise JobNotFound."""
    async with open_queue(url, queue) as q:
        h = q.job("nope")
        with pytest.raises(JobNotFound, match="nope"):
            await h.status()
        with pytest.raises(JobNotFound):
            await h.info()
        with pytest.raises(JobNotFound):
            await h.result(timeout=5)
        with pytest.raises(JobNotFound):
            await h.cancel()
        assert issubclass(JobNotFound, LookupError)


async def test_a_key_deduplicates_while_the_job_is_unfinished(
    url: str, queue: str
) -> None:
    """The same key returns the existing job until it ends; then a new one."""
    async with open_queue(url, queue) as q:
        first = await q.enqueue("add", 1, 2, key="order-42")
        again = await q.enqueue("add", 5, 5, key="order-42")
        other = await q.enqueue("add", 1, 2, key="order-43")
        assert again.id == first.id
        assert other.id != first.id
        assert (await q.stats()).ready == 2
        async with open_worker(url, queue, jobs.registry):
            assert await first.result(timeout=10) == 3
        later = await q.enqueue("add", 5, 5, key="order-42")
        assert later.id != first.id


async def test_delay_schedules_the_job(url: str, queue: str) -> None:
    """A delayed job is DELAYED (not ready) until due, then a worker runs it."""
    async with open_queue(url, queue) as q:
        h = await q.enqueue("add", 1, 1, delay=0.3)
        assert await h.status() is JobStatus.DELAYED
        stats = await q.stats()
        assert (stats.ready, stats.delayed) == (0, 1)
        async with open_worker(url, queue, jobs.registry):
            start = anyio.current_time()
            assert await h.result(timeout=10) == 2
        info = await h.info()
        assert info.started_at is not None
        assert info.started_at - info.created_at >= timedelta(seconds=0.29)
        assert anyio.current_time() - start < 5


async def test_at_schedules_the_job(url: str, queue: str) -> None:
    """``at=`` a time in the past queues it now; in the future delays it."""
    async with open_queue(url, queue) as q:
        past = await q.enqueue("add", 1, 1, at=datetime.now(UTC) - timedelta(hours=1))
        future = await q.enqueue("add", 1, 1, at=datetime.now(UTC) + timedelta(hours=1))
        assert await past.status() is JobStatus.QUEUED
        assert await future.status() is JobStatus.DELAYED


async def test_cancel_of_a_waiting_job_ends_it_at_once(url: str, queue: str) -> None:
    """A queued or delayed job cancelled ends CANCELLED and never runs."""
    jobs.calls.clear()
    async with open_queue(url, queue) as q:
        queued = await q.enqueue("add", 7, 7)
        delayed = await q.enqueue("add", 8, 8, delay=0.2)
        assert await queued.cancel() is JobStatus.CANCELLED
        assert await delayed.cancel() is JobStatus.CANCELLED
        assert await queued.cancel() is JobStatus.CANCELLED  # idempotent
        assert await q.stats() == QueueStats(0, 0, 0, 0, 0)
        with pytest.raises(JobCancelled):
            await queued.result(timeout=5)
        async with open_worker(url, queue, jobs.registry):
            # Due after the cancelled delayed job was: once it ran, that one
            # would have been promoted and run too, had it not been cancelled.
            marker = await q.enqueue("add", 1, 0, delay=0.3)
            await marker.result(timeout=10)
        assert ("add", (7, 7)) not in jobs.calls
        assert ("add", (8, 8)) not in jobs.calls


async def test_enqueue_many_adds_every_job(url: str, queue: str) -> None:
    """One handle per argument list, in order; all run."""
    async with open_queue(url, queue) as q:
        handles = await q.enqueue_many("add", [(i, i) for i in range(1200)])
        assert len({h.id for h in handles}) == 1200
        assert (await q.stats()).ready == 1200
        async with open_worker(url, queue, jobs.registry, concurrency=64):
            results = [await h.result(timeout=30) for h in handles[::100]]
        assert results == [2 * i for i in range(0, 1200, 100)]


async def test_an_argument_the_codec_cannot_encode_is_a_type_error(
    url: str, queue: str
) -> None:
    """The TypeError names the argument; nothing is enqueued (one or many)."""
    async with open_queue(url, queue) as q:
        with pytest.raises(TypeError, match=r"argument 1 of job 'add' \(set\)"):
            await q.enqueue("add", 1, {2})
        with pytest.raises(TypeError, match="argument 0"):
            await q.enqueue_many("add", [(1, 2), (float("nan"), 1)])
        assert (await q.stats()).ready == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"delay": -1}, ValueError, "delay must be >= 0"),
        ({"delay": float("inf")}, ValueError, "delay must be finite"),
        ({"at": datetime(2030, 1, 1)}, ValueError, "at must be timezone-aware"),
        ({"at": "tomorrow"}, TypeError, "at must be a timezone-aware datetime"),
        ({"delay": 1, "at": datetime.now(UTC)}, ValueError, "not both"),
        ({"key": ""}, ValueError, "key must be"),
        ({"key": 5}, TypeError, "key must be"),
    ],
)
async def test_bad_options_of_enqueue(
    url: str, queue: str, kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    async with open_queue(url, queue) as q:
        with pytest.raises(error, match=match):
            await q.enqueue("add", 1, 2, **kwargs)  # type: ignore[arg-type]


async def test_bad_arguments_of_open_queue(url: str) -> None:
    """The message names the argument."""
    with pytest.raises(TypeError, match="url must be a str"):
        async with open_queue(5, "q"):  # type: ignore[arg-type]
            pass
    with pytest.raises(ValueError, match="url must start with"):
        async with open_queue("http://x", "q"):
            pass
    with pytest.raises(ValueError, match="queue must be"):
        async with open_queue(url, "a{b}"):
            pass
    with pytest.raises(TypeError, match="codec must have"):
        async with open_queue(url, "q", codec=object()):  # type: ignore[arg-type]
            pass
    with pytest.raises(ValueError, match="result_ttl must be > 0"):
        async with open_queue(url, "q", result_ttl=0):
            pass
    with pytest.raises(ValueError, match="job name must be"):
        async with open_queue(url, "q") as q:
            await q.enqueue("")


async def test_result_times_out_without_changing_the_job(url: str, queue: str) -> None:
    """``result(timeout=)`` raises TimeoutError; the job stays QUEUED."""
    async with open_queue(url, queue) as q:
        h = await q.enqueue("add", 1, 2)
        with pytest.raises(TimeoutError):
            await h.result(timeout=0.05)
        assert await h.status() is JobStatus.QUEUED


async def test_a_result_is_seen_from_another_process_connection(
    url: str, queue: str
) -> None:
    """A waiter in one connection wakes when a worker elsewhere finishes."""
    async with open_queue(url, queue) as q, open_queue(url, queue) as watcher:
        h = await q.enqueue("add", 2, 3)
        got: list[int] = []

        async def wait() -> None:
            got.append(await watcher.job(h.id).result(timeout=10))

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            async with open_worker(url, queue, jobs.registry):
                await wait_until(lambda: bool(got))
        assert got == [5]


@pytest.mark.parametrize("codec", [JsonCodec(), MsgspecCodec()], ids=repr)
async def test_codecs_round_trip_through_a_worker(
    url: str, queue: str, codec: JsonCodec | MsgspecCodec
) -> None:
    async with open_queue(url, queue, codec=codec) as q:
        h = await q.enqueue("add", "a", "b")
        async with open_worker(url, queue, jobs.registry, codec=codec):
            assert await h.result(timeout=10) == "ab"


async def test_enqueue_takes_a_function_registered_under_another_name(
    url: str, queue: str
) -> None:
    registry = JobRegistry()

    @registry.job(name="renamed")
    async def original() -> None:
        pass

    async with open_queue(url, queue) as q:
        h = await q.enqueue(original)
        assert (await h.info()).name == "renamed"


async def test_a_handle_of_a_closed_queue_says_so(url: str, queue: str) -> None:
    async with open_queue(url, queue) as q:
        h = await q.enqueue("add", 1, 2)
    for call in (h.status, h.info, h.cancel, h.result):
        with pytest.raises(RuntimeError, match="is closed"):
            await call()
