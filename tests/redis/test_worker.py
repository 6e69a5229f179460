"""A worker in this process, against a real redis-server: outcomes, retries,
timeouts, DEAD, cancel, drain, fencing, reclaim, limits."""

from __future__ import annotations

import logging

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from supervisor.redis import (
    JobDead,
    JobFailed,
    JobRegistry,
    JobStatus,
    Queue,
    QueueStats,
    open_queue,
    open_worker,
)

from . import jobs
from .helpers import status_is, wait_until, workers_are

pytestmark = pytest.mark.anyio


async def test_a_job_runs_and_leaves_nothing_behind_but_its_result(
    url: str, queue: str
) -> None:
    """SUCCEEDED with its value; the entry left the stream and the pending list;
    the record expires after result_ttl; the dedupe key is gone."""
    async with open_queue(url, queue) as q:
        h = await q.enqueue("add", 2, 3, key="k")
        async with open_worker(url, queue, jobs.registry, result_ttl=100) as w:
            assert await h.result(timeout=10) == 5
            assert w.statistics().started == 1
        info = await h.info()
        assert info.status is JobStatus.SUCCEEDED
        assert info.attempts == 1
        assert info.started_at is not None
        assert info.finished_at is not None
        assert info.created_at <= info.started_at <= info.finished_at
        assert info.history == ()
        assert await q.client.xlen(q.keys.stream) == 0
        assert await q.stats() == QueueStats(0, 0, 0, 0, 0)
        assert 0 < await q.client.pttl(q.keys.job(h.id)) <= 100_000
        assert await q.client.exists([f"{q.keys.prefix}key:k"]) == 0


async def test_failed_attempts_are_retried_then_the_job_fails(
    url: str, queue: str
) -> None:
    """max_attempts=2: two attempts, each in the history; JobFailed describes the
    last error; the record keeps its traceback."""
    async with open_queue(url, queue) as q:
        h = await q.enqueue("fail_twice_fast", queue)
        async with open_worker(url, queue, jobs.registry):
            with pytest.raises(JobFailed) as caught:
                await h.result(timeout=10)
        assert caught.value.error == "RuntimeError: always"
        assert caught.value.traceback is not None
        assert "RuntimeError: always" in caught.value.traceback
        info = await h.info()
        assert info.status is JobStatus.FAILED
        assert info.attempts == 2
        assert [(e["event"], e["attempt"]) for e in info.history] == [
            ("failed", 1),
            ("failed", 2),
        ]
        assert jobs.flaky_runs[queue] == 2


async def test_a_flaky_job_succeeds_after_its_backoff(url: str, queue: str) -> None:
    """Two failures, then a success on attempt 3; RETRYING in between."""
    async with open_queue(url, queue) as q:
        h = await q.enqueue("flaky", queue, 2)
        statuses: set[JobStatus] = set()
        async with open_worker(url, queue, jobs.registry):
            with anyio.fail_after(10):
                while not (status := await h.status()).is_terminal:
                    statuses.add(status)
                    await anyio.sleep(0.005)
        assert await h.result(timeout=1) == "ok after 3"
        assert JobStatus.RETRYING in statuses
        info = await h.info()
        assert info.attempts == 3
        assert len(info.history) == 2


async def test_a_timeout_is_a_failed_attempt(url: str, queue: str) -> None:
    async with open_queue(url, queue) as q:
        h = await q.enqueue("too_slow")
        async with open_worker(url, queue, jobs.registry):
            with pytest.raises(JobFailed, match="TaskTimeout"):
                await h.result(timeout=10)
        assert [e["event"] for e in (await h.info()).history] == ["timeout"]


async def test_a_result_the_codec_cannot_encode_fails_the_job(
    url: str, queue: str
) -> None:
    async with open_queue(url, queue) as q:
        h = await q.enqueue("returns_a_set")
        async with open_worker(url, queue, jobs.registry):
            with pytest.raises(JobFailed, match="cannot be encoded"):
                await h.result(timeout=10)


async def test_an_unknown_job_ends_dead_and_can_be_requeued(
    url: str, queue: str
) -> None:
    """No crash loop: DEAD at once with the reason, in the dead letters; requeued
    to a worker that knows it, it runs."""
    async with open_queue(url, queue) as q:
        h = await q.enqueue("mystery", 1)
        async with open_worker(url, queue, jobs.registry):
            with pytest.raises(JobDead, match="no job named 'mystery'"):
                await h.result(timeout=10)
        assert (await q.stats()).dead == 1
        [dead] = await q.dead_letters()
        assert (dead.id, dead.status) == (h.id, JobStatus.DEAD)
        assert dead.history[-1]["event"] == "dead"
        other = JobRegistry()

        @other.job(name="mystery")
        async def mystery(x: int) -> int:
            return x + 1

        assert await q.requeue(h.id, "not-a-dead-job") == 1
        assert (await q.stats()).dead == 0
        async with open_worker(url, queue, other):
            assert await h.result(timeout=10) == 2
        assert await q.dead_letters() == []


async def test_a_payload_that_does_not_decode_ends_dead(url: str, queue: str) -> None:
    async with open_queue(url, queue) as q:
        h = await q.enqueue("add", 1, 2)
        await q.client.hset(q.keys.job(h.id), {"args": b"\xff not json"})
        async with open_worker(url, queue, jobs.registry):
            with pytest.raises(JobDead, match="payload does not decode"):
                await h.result(timeout=10)


async def test_cancel_of_a_running_job_cancels_it_promptly(
    url: str, queue: str
) -> None:
    async with open_queue(url, queue) as q:
        h = await q.enqueue("hold", queue, 60)
        async with open_worker(url, queue, jobs.registry):
            await wait_until(lambda: queue in jobs.holding)
            assert await h.cancel() is JobStatus.RUNNING
            await wait_until(lambda: queue in jobs.cancelled, within=5)
            await wait_until(lambda: status_is(h, JobStatus.CANCELLED), within=5)


async def test_a_cancel_flag_without_its_message_is_caught_at_renewal(
    url: str, queue: str
) -> None:
    """The persistent flag alone (the message lost) cancels the job within a lease."""
    async with open_queue(url, queue) as q:
        h = await q.enqueue("hold", queue, 60)
        async with open_worker(url, queue, jobs.registry, lease=0.3):
            await wait_until(lambda: queue in jobs.holding)
            await q.client.hset(q.keys.job(h.id), {"cancel": "1"})
            await wait_until(lambda: queue in jobs.cancelled, within=5)
        assert await h.status() is JobStatus.CANCELLED


async def test_a_drain_lets_running_jobs_finish_within_its_timeout(
    url: str, queue: str
) -> None:
    """Leaving the block: the running job gets a stop request and finishes."""
    async with open_queue(url, queue) as q:
        h = await q.enqueue("hold", queue, 0.3)
        async with open_worker(url, queue, jobs.registry, drain_timeout=10):
            await wait_until(lambda: queue in jobs.holding)
        assert await h.status() is JobStatus.SUCCEEDED
        assert queue in jobs.stop_requests


async def test_a_drain_hands_back_what_is_left_without_counting_it(
    url: str, queue: str
) -> None:
    """Past drain_timeout the job is cancelled here and queued again at once,
    with no attempt or delivery counted; the next worker runs it."""
    async with open_queue(url, queue) as q:
        h = await q.enqueue("hold", queue, 60)
        async with open_worker(url, queue, jobs.registry, drain_timeout=0.1):
            await wait_until(lambda: queue in jobs.holding)
        info = await h.info()
        assert (info.status, info.attempts, info.deliveries) == (JobStatus.QUEUED, 0, 0)
        assert queue in jobs.cancelled
        assert await q.stats() == QueueStats(1, 0, 0, 0, 0)
        await q.client.hset(q.keys.job(h.id), {"args": f'["{queue}-2", 0]'.encode()})
        async with open_worker(url, queue, jobs.registry):
            assert await h.result(timeout=10) == queue + "-2"
        assert (await h.info()).attempts == 1


async def test_a_lost_lease_cancels_the_local_copy(url: str, queue: str) -> None:
    """Another consumer takes the entry: the worker's next renewal finds it lost,
    cancels its copy, and stores nothing."""
    async with open_queue(url, queue) as q:
        h = await q.enqueue("hold", queue, 60)
        async with open_worker(url, queue, jobs.registry, lease=0.3) as w:
            await wait_until(lambda: queue in jobs.holding)
            entry = await q.client.hget(q.keys.job(h.id), "entry")
            assert entry is not None
            await q.client.xclaim(q.keys.stream, "workers", "thief", 0, [entry])
            await wait_until(lambda: queue in jobs.cancelled, within=5)
            await wait_until(lambda: w.holding == 0)
            assert w.statistics().fenced == 1
        assert await h.status() is JobStatus.RUNNING  # the thief's now
        pending = await q.client.xpending(q.keys.stream, "workers", "-", "+", 10)
        assert [p.consumer for p in pending] == [b"thief"]  # type: ignore[union-attr]


async def test_a_job_whose_lease_expired_is_reclaimed(url: str, queue: str) -> None:
    """An entry read by a consumer that never ran it (gone) is taken over once its
    lease expires; no attempt or delivery is charged."""
    async with open_queue(url, queue) as q:
        h = await q.enqueue("add", 4, 4)
        await q.client.xreadgroup(
            "workers", "ghost", streams={q.keys.stream: ">"}, count=1
        )
        async with open_worker(url, queue, jobs.registry, lease=0.3) as w:
            start = anyio.current_time()
            assert await h.result(timeout=10) == 8
            assert anyio.current_time() - start >= 0.25
            assert w.statistics().reclaimed == 1
        info = await h.info()
        assert (info.attempts, info.deliveries) == (1, 0)


@pytest.mark.parametrize("waiting", [True, False], ids=["backlog", "idle-worker"])
async def test_a_worker_never_holds_more_than_its_concurrency(
    url: str, queue: str, waiting: bool
) -> None:
    """Jobs waiting when it starts (the busy path), or arriving while it waits on
    an empty stream (the blocking read): never more than 3 held, 3 at once."""
    jobs.gauge_max = 0
    async with open_queue(url, queue) as q:
        if waiting:
            handles = await q.enqueue_many("gauge", [(0.02,)] * 30)
        async with open_worker(url, queue, jobs.registry, concurrency=3) as w:
            if not waiting:
                await wait_until(lambda: workers_are(q, 1))
                handles = await q.enqueue_many("gauge", [(0.02,)] * 30)
            seen = 0

            async def watch() -> None:
                nonlocal seen
                while True:
                    seen = max(seen, w.holding)
                    await anyio.lowlevel.checkpoint()

            async with anyio.create_task_group() as tg:
                tg.start_soon(watch)
                for h in handles:
                    await h.result(timeout=20)
                tg.cancel_scope.cancel()
        assert jobs.gauge_max == 3
        assert seen <= 3


async def test_workers_are_counted_while_alive_and_leave_cleanly(
    url: str, queue: str
) -> None:
    async with open_queue(url, queue) as q:
        async with (
            open_worker(url, queue, jobs.registry),
            open_worker(url, queue, jobs.registry),
        ):
            await wait_until(lambda: workers_are(q, 2))
        assert (await q.stats()).workers == 0
        assert await q.client.xinfo_consumers(q.keys.stream, "workers") == ()


async def test_retries_are_logged_at_warning_and_failures_at_error(
    url: str, queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="supervisor")
    async with open_queue(url, queue) as q:
        h = await q.enqueue("fail_twice_fast", queue)
        async with open_worker(url, queue, jobs.registry):
            with pytest.raises(JobFailed):
                await h.result(timeout=10)
    records = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in records] == ["WARNING", "ERROR"]
    assert (
        "attempt 1 of 2 failed: RuntimeError: always; retrying in 0 s" in records[0][1]
    )
    assert "failed for good on attempt 2 of 2" in records[1][1]
    assert caplog.records[1].job_id == h.id  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"concurrency": 0}, ValueError, "concurrency must be >= 1"),
        ({"lease": 0}, ValueError, "lease must be > 0"),
        ({"lease": float("inf")}, ValueError, "lease must be between"),
        ({"drain_timeout": -1}, ValueError, "drain_timeout must be >= 0"),
        ({"max_deliveries": 0}, ValueError, "max_deliveries must be >= 1"),
        ({"shutdown_on": ("TERM",)}, TypeError, "shutdown_on must hold signals"),
        ({"name": 5}, TypeError, "name must be a str"),
    ],
)
async def test_bad_options_of_open_worker(
    url: str, queue: str, kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        async with open_worker(url, queue, jobs.registry, **kwargs):  # type: ignore[arg-type]
            pass


async def test_two_live_workers_cannot_share_a_name(url: str, queue: str) -> None:
    async with open_worker(url, queue, jobs.registry, name="w1"):
        with pytest.raises(ValueError, match="name 'w1' is used by a live worker"):
            async with open_worker(url, queue, jobs.registry, name="w1"):
                pass
    async with open_worker(url, queue, jobs.registry, name="w1") as again:
        assert again.consumer == "w1"  # free again once the first one left


async def test_open_worker_needs_a_registry(url: str, queue: str) -> None:
    with pytest.raises(TypeError, match="registry must be a JobRegistry"):
        async with open_worker(url, queue, {}):  # type: ignore[arg-type]
            pass


async def test_a_job_longer_than_its_lease_runs_once_while_its_worker_lives(
    url: str, queue: str
) -> None:
    """Renewals keep the lease: a second worker watching the queue never takes a
    job that runs three leases long."""
    jobs.calls.clear()
    async with open_queue(url, queue) as q:
        h = await q.enqueue("hold", queue, 2.0)
        async with open_worker(url, queue, jobs.registry, lease=0.6) as first:
            await wait_until(lambda: queue in jobs.holding)
            async with open_worker(url, queue, jobs.registry, lease=0.6) as second:
                assert await h.result(timeout=10) == queue
                assert second.statistics().reclaimed == 0
            assert first.statistics().fenced == 0
        info = await h.info()
        assert (info.attempts, info.deliveries, info.history) == (1, 0, ())
        assert queue not in jobs.cancelled


async def test_the_consumers_of_workers_gone_for_good_are_forgotten(
    url: str, queue: str
) -> None:
    """A consumer that holds nothing and is idle for ten heartbeat lifetimes is
    deleted by the live workers' heartbeats: the group does not grow."""
    async with open_queue(url, queue) as q:
        await q.client.xgroup_createconsumer(q.keys.stream, "workers", "gone")
        h = await q.enqueue("add", 1, 1)
        async with open_worker(url, queue, jobs.registry, lease=0.06, name="alive"):
            await h.result(timeout=10)  # now "alive" is a consumer too
            await wait_until(lambda: _consumers_are(q, [b"alive"]), within=20)


async def _consumers_are(q: Queue, names: list[bytes]) -> bool:
    consumers = await q.client.xinfo_consumers(q.keys.stream, "workers")
    return sorted(c[b"name"] for c in consumers) == names  # type: ignore[type-var]


async def test_every_key_of_a_queue_shares_its_hash_tag(url: str, queue: str) -> None:
    """One slot per queue (Redis Cluster): every key it made is ``sv:{queue}:...``."""
    async with open_queue(url, queue) as q:
        h = await q.enqueue("add", 1, 1, key="k")
        d = await q.enqueue("add", 1, 1, delay=60)
        dead = await q.enqueue("mystery")
        async with open_worker(url, queue, jobs.registry):
            await h.result(timeout=10)
            with pytest.raises(JobDead):
                await dead.result(timeout=10)
            keys = [k async for k in q.client.scan_iter(match=f"*{queue}*")]
        assert keys
        assert all(k.decode().startswith(f"sv:{{{queue}}}:") for k in keys), keys
        assert await d.status() is JobStatus.DELAYED


async def test_a_worker_stopped_at_once_hands_its_jobs_back(
    url: str, queue: str
) -> None:
    """An error in the block stops the worker at once: the job is cancelled where
    it stands and handed back (QUEUED, nothing counted), not left for its lease."""
    async with open_queue(url, queue) as q:
        h = await q.enqueue("hold", queue, 60)
        with pytest.raises(RuntimeError, match="the app failed"):
            async with open_worker(url, queue, jobs.registry, lease=30):
                await wait_until(lambda: queue in jobs.holding)
                raise RuntimeError("the app failed")
        info = await h.info()
        assert (info.status, info.attempts, info.deliveries) == (JobStatus.QUEUED, 0, 0)
        assert await q.stats() == QueueStats(1, 0, 0, 0, 0)


async def test_a_cancelled_scope_around_a_worker_leaves_its_jobs_to_the_lease(
    url: str, queue: str
) -> None:
    """A cancelled scope around the block also cancels coredis's connections, so
    nothing can be handed back: the job waits for its lease, then runs elsewhere."""
    async with open_queue(url, queue) as q:
        h = await q.enqueue("hold", queue, 0.01)
        await q.client.hset(q.keys.job(h.id), {"args": f'["{queue}", 60]'.encode()})
        with anyio.CancelScope() as scope:
            async with open_worker(url, queue, jobs.registry, lease=0.3):
                await wait_until(lambda: queue in jobs.holding)
                await q.client.hset(
                    q.keys.job(h.id), {"args": f'["{queue}", 0]'.encode()}
                )
                scope.cancel()
        assert await h.status() is JobStatus.RUNNING
        async with open_worker(url, queue, jobs.registry, lease=0.3) as w:
            assert await h.result(timeout=10) == queue
            assert w.statistics().reclaimed == 1


async def test_an_outcome_is_not_stored_once_the_lease_is_lost(
    url: str, queue: str
) -> None:
    """The job ends after another consumer took its entry and before a renewal
    noticed: the outcome script's fence drops it; the thief's claim stands."""
    async with open_queue(url, queue) as q:
        h = await q.enqueue("hold", queue, 0.3)
        async with open_worker(url, queue, jobs.registry, lease=30) as w:
            await wait_until(lambda: queue in jobs.holding)
            entry = await q.client.hget(q.keys.job(h.id), "entry")
            assert entry is not None
            await q.client.xclaim(q.keys.stream, "workers", "thief", 0, [entry])
            await wait_until(lambda: w.holding == 0)
            assert w.statistics().fenced == 1
        assert queue not in jobs.cancelled  # it ran to its end here
        assert await h.status() is JobStatus.RUNNING
        pending = await q.client.xpending(q.keys.stream, "workers", "-", "+", 10)
        assert [p.consumer for p in pending] == [b"thief"]  # type: ignore[union-attr]


async def test_shutdown_on_needs_the_main_thread(url: str, queue: str) -> None:
    import signal

    async def in_a_thread() -> None:
        async with open_worker(
            url, queue, jobs.registry, shutdown_on=(signal.SIGTERM,)
        ):
            pass

    def run() -> None:
        anyio.run(in_a_thread)

    with pytest.raises(RuntimeError, match="shutdown_on needs the main thread"):
        await anyio.to_thread.run_sync(run)
