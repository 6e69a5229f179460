"""Real worker processes (``python -m supervisor worker``): signals, kill -9,
crash attribution. Every process is reaped by the Fleet, whatever happens."""

from __future__ import annotations

import signal
import time
from typing import TYPE_CHECKING

import anyio
import pytest

from supervisor.redis import JobStatus, Queue, QueueStats, open_queue

from .fleet import Fleet, WorkerProcess
from .helpers import all_status, status_is, wait_until

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def anyio_backend() -> str:
    return "trio"  # the producer's side; the workers are processes


async def _exits(worker: WorkerProcess, within: float) -> int:
    with anyio.fail_after(within):
        while (code := worker.process.poll()) is None:  # noqa: ASYNC110 - a process, no event to wait on
            await anyio.sleep(0.01)
    return code


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
async def test_a_signal_drains_the_running_job_and_exits_0(
    url: str, queue: str, sig: signal.Signals
) -> None:
    async with open_queue(url, queue) as q:
        h = await q.enqueue("hold", queue, 0.5)
        with Fleet(url, queue) as fleet:
            worker = fleet.start()
            await wait_until(lambda: status_is(h, JobStatus.RUNNING))
            worker.signal(sig)
            assert await _exits(worker, 10) == 0
        assert await h.status() is JobStatus.SUCCEEDED
        assert await q.stats() == QueueStats(0, 0, 0, 0, 0)


async def test_sigterm_hands_back_a_job_past_the_drain_timeout(
    url: str, queue: str
) -> None:
    async with open_queue(url, queue) as q:
        h = await q.enqueue("hold", queue, 60)
        with Fleet(url, queue) as fleet:
            worker = fleet.start(drain_timeout=0.2)
            await wait_until(lambda: status_is(h, JobStatus.RUNNING))
            start = time.monotonic()
            worker.signal(signal.SIGTERM)
            assert await _exits(worker, 10) == 0
            assert time.monotonic() - start < 5
        info = await h.info()
        assert (info.status, info.attempts, info.deliveries) == (JobStatus.QUEUED, 0, 0)
        assert await q.stats() == QueueStats(1, 0, 0, 0, 0)


async def test_a_second_signal_stops_at_once_and_loses_nothing(
    url: str, queue: str, tmp_path: Path
) -> None:
    """SIGTERM drains (60 s allowed); SIGINT then stops at once: exit code 3, a
    log line that counts the job handed back; the next worker runs it."""
    async with open_queue(url, queue) as q:
        h = await q.enqueue("hold", queue, 60)
        with Fleet(url, queue) as fleet:
            log = tmp_path / "worker.log"
            worker = fleet.start(drain_timeout=60, lease=1, log=log)
            await wait_until(lambda: status_is(h, JobStatus.RUNNING))
            worker.signal(signal.SIGTERM)
            await wait_until(lambda: _draining(q))
            worker.signal(signal.SIGINT)
            assert await _exits(worker, 5) == 3
            text = log.read_text()
            assert "SIGINT again: stopping now" in text
            assert (
                "stopped at once: 1 jobs handed back (no attempt counted), 0 left to "
                "be reclaimed when their lease expires (1 s)"
            ) in text
            assert "Traceback" not in text
            await q.client.hset(q.keys.job(h.id), {"args": f'["{queue}", 0]'.encode()})
            fleet.start(lease=1)
            assert await h.result(timeout=15) == queue
        info = await h.info()
        assert (info.attempts, info.deliveries) == (1, 0)


async def test_jobs_of_a_killed_worker_are_reclaimed_within_lease_plus_1s(
    url: str, queue: str
) -> None:
    lease = 1.0
    async with open_queue(url, queue) as q:
        h = await q.enqueue("hold", queue, 60)
        with Fleet(url, queue) as fleet:
            victim = fleet.start(lease=lease)
            await wait_until(lambda: status_is(h, JobStatus.RUNNING))
            fleet.start(lease=lease)
            await q.client.hset(q.keys.job(h.id), {"args": f'["{queue}", 0]'.encode()})
            killed_at = time.monotonic()
            victim.kill()
            assert await h.result(timeout=10) == queue
            latency = time.monotonic() - killed_at
        assert latency <= lease + 1.0
        info = await h.info()
        # It shared nothing with another job, but its worker ran 4 slots: the
        # death is not charged to it.
        assert (info.attempts, info.deliveries) == (1, 0)
        assert [e["event"] for e in info.history] == ["worker died"]


async def test_a_poison_job_ends_dead_and_its_neighbours_keep_their_budget(
    url: str, queue: str
) -> None:
    """A job that kills its worker, running next to three others: only it uses up
    deliveries (each time it ran alone) and ends DEAD; the others succeed with no
    delivery charged."""
    async with open_queue(url, queue) as q:
        bystanders = [await q.enqueue("hold", f"{queue}-{i}", 0.5) for i in range(3)]
        with Fleet(url, queue) as fleet:
            fleet.start(concurrency=4, lease=0.5, max_deliveries=2)
            await wait_until(lambda: all_status(bystanders, JobStatus.RUNNING))
            poison = await q.enqueue("kill_my_process")
            # Keep two workers alive while the poison job kills them.
            with anyio.fail_after(45):
                while not all(
                    [(await h.status()).is_terminal for h in [*bystanders, poison]]
                ):
                    while len(fleet.live()) < 2:
                        fleet.start(concurrency=4, lease=0.5, max_deliveries=2)
                    await anyio.sleep(0.02)
        info = await poison.info()
        assert info.status is JobStatus.DEAD
        assert info.deliveries == 2
        assert "died while running it alone 2 times" in (info.error or "")
        for h in bystanders:
            b = await h.info()
            assert (b.status, b.deliveries) == (JobStatus.SUCCEEDED, 0)
        assert (await q.stats()).dead == 1


async def test_the_worker_command_runs_on_asyncio_too(url: str, queue: str) -> None:
    async with open_queue(url, queue) as q:
        h = await q.enqueue("add", 20, 22)
        with Fleet(url, queue) as fleet:
            worker = fleet.start(backend="asyncio")
            assert await h.result(timeout=10) == 42
            worker.signal(signal.SIGTERM)
            assert await _exits(worker, 10) == 0


async def _draining(q: Queue) -> bool:
    workers = await q.client.zrange(q.keys.workers, 0, -1)
    for consumer in workers:
        raw = await q.client.hget(q.keys.worker(bytes(consumer).decode()), "draining")
        if raw == b"1":
            return True
    return False
