"""Distributed jobs: supervisor.redis against arq, taskiq-redis and SAQ, one local
redis-server (started here: 127.0.0.1, a free port, AOF with fsync every second),
one run. Real clock; prints min / median / max; asserts nothing.

Run: ``.venv/bin/python benchmarks/bench_redis.py [--quick]`` (needs the
``redis`` and ``bench`` extras, and redis-server on the PATH).

- End to end: N no-op jobs enqueued first, then one worker process started;
  throughput counted from the first job taken to the last one finished, per
  worker process, at concurrency 1, 32 and 256.
- Enqueue: one awaited call per job, and each library's batched form (ours:
  ``enqueue_many``; the peers have none: 100 calls in flight at once).
- Reclaim: a worker holding a job is killed with SIGKILL; seconds until another
  worker runs the job, against the lease (peers have no lease to compare).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from supervisor.redis import open_queue  # noqa: E402
from tests.redis.server import RedisServer  # noqa: E402

POLL = 0.005


class Worker:
    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            args,
            cwd=ROOT,
            # console scripts do not put the working directory on sys.path
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


async def _time_drain(
    n: int, remaining: Callable[[], Awaitable[int]], worker: Worker, bound: float = 300
) -> float:
    """Jobs per second from the first job taken to the last one done."""
    try:
        with anyio.fail_after(bound):
            while (left := await remaining()) >= n:
                await anyio.sleep(POLL)
            start, taken_before = time.perf_counter(), n - left
            while await remaining() > 0:
                await anyio.sleep(POLL)
        return (n - taken_before) / (time.perf_counter() - start)
    finally:
        worker.stop()


# --- supervisor.redis ------------------------------------------------------------


async def ours_e2e(url: str, concurrency: int, n: int) -> float:
    queue = f"ours-{uuid.uuid4().hex[:8]}"
    async with open_queue(url, queue) as q:
        await q.enqueue_many("noop", [()] * n)
        worker = Worker(
            [
                sys.executable, "-m", "supervisor", "worker",
                "benchmarks.redis_jobs:registry", "--url", url, "--queue", queue,
                "--concurrency", str(concurrency),
            ],
            {},
        )  # fmt: skip

        async def remaining() -> int:
            s = await q.stats()
            return s.ready + s.in_flight

        return await _time_drain(n, remaining, worker)


async def ours_enqueue(url: str, n: int, batched: bool) -> float:
    async with open_queue(url, f"ours-{uuid.uuid4().hex[:8]}") as q:
        start = time.perf_counter()
        if batched:
            await q.enqueue_many("noop", [()] * n)
        else:
            for _ in range(n):
                await q.enqueue("noop")
        return n / (time.perf_counter() - start)


async def ours_reclaim(url: str, lease: float) -> float:
    queue = f"reclaim-{uuid.uuid4().hex[:8]}"
    cmd = [
        sys.executable, "-m", "supervisor", "worker", "benchmarks.redis_jobs:registry",
        "--url", url, "--queue", queue, "--concurrency", "4", "--lease", str(lease),
    ]  # fmt: skip
    async with open_queue(url, queue) as q:
        h = await q.enqueue("hold", 3600)
        victim = Worker([*cmd, "--name", "victim"], {})
        with anyio.fail_after(60):
            while (await q.client.hget(q.keys.job(h.id), "worker")) != b"victim":
                await anyio.sleep(POLL)
        rescuer = Worker([*cmd, "--name", "rescuer"], {})
        with anyio.fail_after(60):
            while (await q.stats()).workers < 2:
                await anyio.sleep(POLL)
        killed = time.perf_counter()
        victim.stop()
        try:
            with anyio.fail_after(lease + 30):
                while (await q.client.hget(q.keys.job(h.id), "worker")) != b"rescuer":
                    await anyio.sleep(POLL)
            return time.perf_counter() - killed
        finally:
            rescuer.stop()


# --- arq ---------------------------------------------------------------------------


async def arq_e2e(url: str, concurrency: int, n: int) -> float:
    from arq import create_pool
    from arq.connections import RedisSettings

    # A database of its own, results not kept: once every job is done arq has
    # deleted every key it made, so DBSIZE (O(1)) says when; KEYS or SCAN over
    # arq's per-job keys would slow the very server being measured.
    url = url.rsplit("/", 1)[0] + "/1"
    queue = f"arq-{uuid.uuid4().hex[:8]}"
    pool = await create_pool(RedisSettings.from_dsn(url), default_queue_name=queue)
    try:
        await pool.flushdb()
        for start in range(0, n, 500):
            await _gather(
                [pool.enqueue_job("arq_noop") for _ in range(min(500, n - start))]
            )
        env = {
            "BENCH_REDIS_URL": url,
            "BENCH_QUEUE": queue,
            "BENCH_CONCURRENCY": str(concurrency),
        }
        worker = Worker(
            [
                str(Path(sys.executable).parent / "arq"),
                "benchmarks.redis_peers.ArqSettings",
            ],
            env,
        )

        async def remaining() -> int:
            queued = int(await pool.zcard(queue))
            if queued:
                return queued
            # jobs still running; arq's health-check key is the only other key
            health = int(await pool.exists(f"{queue}:health-check"))
            return 1 if int(await pool.dbsize()) - health else 0

        return await _time_drain(n, remaining, worker)
    finally:
        await pool.aclose()


async def arq_enqueue(url: str, n: int, batched: bool) -> float:
    from arq import create_pool
    from arq.connections import RedisSettings

    pool = await create_pool(
        RedisSettings.from_dsn(url), default_queue_name=f"arq-{uuid.uuid4().hex[:8]}"
    )
    try:
        start = time.perf_counter()
        if batched:
            for i in range(0, n, 100):
                await _gather(
                    [pool.enqueue_job("arq_noop") for _ in range(min(100, n - i))]
                )
        else:
            for _ in range(n):
                await pool.enqueue_job("arq_noop")
        return n / (time.perf_counter() - start)
    finally:
        await pool.aclose()


# --- taskiq-redis ----------------------------------------------------------------


def _taskiq(url: str, queue: str, concurrency: int) -> Any:
    os.environ.update(
        {
            "BENCH_REDIS_URL": url,
            "BENCH_QUEUE": queue,
            "BENCH_CONCURRENCY": str(concurrency),
        }
    )
    import importlib

    import benchmarks.redis_peers as peers

    return importlib.reload(peers)


async def taskiq_e2e(url: str, concurrency: int, n: int) -> float:
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    peers = _taskiq(url, queue, concurrency)
    await peers.broker.startup()
    try:
        for start in range(0, n, 500):
            await _gather([peers.taskiq_noop.kiq() for _ in range(min(500, n - start))])
        env = {
            "BENCH_REDIS_URL": url,
            "BENCH_QUEUE": queue,
            "BENCH_CONCURRENCY": str(concurrency),
        }
        worker = Worker(
            [
                str(Path(sys.executable).parent / "taskiq"), "worker",
                "benchmarks.redis_peers:broker", "--workers", "1",
                "--max-async-tasks", str(concurrency), "--no-configure-logging",
                "--log-level", "ERROR",
            ],
            env,
        )  # fmt: skip
        redis = peers.broker.connection_pool

        async def remaining() -> int:
            from redis.asyncio import Redis

            async with Redis(connection_pool=redis) as client:
                [group] = await client.xinfo_groups(queue)
                return int(group["lag"] or 0) + int(group["pending"])

        return await _time_drain(n, remaining, worker)
    finally:
        await peers.broker.shutdown()


async def taskiq_enqueue(url: str, n: int, batched: bool) -> float:
    peers = _taskiq(url, f"tq-{uuid.uuid4().hex[:8]}", 32)
    await peers.broker.startup()
    try:
        start = time.perf_counter()
        if batched:
            for i in range(0, n, 100):
                await _gather([peers.taskiq_noop.kiq() for _ in range(min(100, n - i))])
        else:
            for _ in range(n):
                await peers.taskiq_noop.kiq()
        return n / (time.perf_counter() - start)
    finally:
        await peers.broker.shutdown()


# --- SAQ ---------------------------------------------------------------------------------


async def saq_e2e(url: str, concurrency: int, n: int) -> float:
    from saq import Queue as SaqQueue

    queue = f"saq-{uuid.uuid4().hex[:8]}"
    q = SaqQueue.from_url(url, name=queue)
    await q.connect()
    try:
        for start in range(0, n, 500):
            await _gather([q.enqueue("saq_noop") for _ in range(min(500, n - start))])
        env = {
            "BENCH_REDIS_URL": url,
            "BENCH_QUEUE": queue,
            "BENCH_CONCURRENCY": str(concurrency),
        }
        worker = Worker(
            [
                str(Path(sys.executable).parent / "saq"),
                "benchmarks.redis_peers.saq_settings",
                "--quiet",
            ],
            env,
        )

        async def remaining() -> int:
            return int(await q.count("incomplete"))

        return await _time_drain(n, remaining, worker)
    finally:
        await q.disconnect()


async def saq_enqueue(url: str, n: int, batched: bool) -> float:
    from saq import Queue as SaqQueue

    q = SaqQueue.from_url(url, name=f"saq-{uuid.uuid4().hex[:8]}")
    await q.connect()
    try:
        start = time.perf_counter()
        if batched:
            for i in range(0, n, 100):
                await _gather([q.enqueue("saq_noop") for _ in range(min(100, n - i))])
        else:
            for _ in range(n):
                await q.enqueue("saq_noop")
        return n / (time.perf_counter() - start)
    finally:
        await q.disconnect()


async def _gather(calls: list[Awaitable[Any]]) -> None:
    async with anyio.create_task_group() as tg:
        for call in calls:
            tg.start_soon(_await, call)


async def _await(call: Awaitable[Any]) -> None:
    await call


# --- report --------------------------------------------------------------------------


def fmt(values: list[float]) -> str:
    return (
        f"{min(values):>9,.0f} {statistics.median(values):>9,.0f} {max(values):>9,.0f}"
    )


async def main(quick: bool, runs: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        server = RedisServer(Path(directory), fsync="everysec")
        server.start()
        try:
            await _report(server.url, quick, runs)
        finally:
            server.stop()


async def _report(url: str, quick: bool, runs: int) -> None:
    print(
        f"redis-server {subprocess.run(['redis-server', '--version'], capture_output=True, text=True, check=True).stdout.split()[2]}, AOF fsync every second; {runs} runs each, interleaved"
    )
    print("\nend to end, no-op jobs/s per worker process (min / median / max)")
    print(f"{'':28}{'min':>9} {'median':>9} {'max':>9}   ours / fastest peer")
    for concurrency in (1, 32, 256):
        n = (
            (1_000 if quick else 2_000)
            if concurrency == 1
            else (5_000 if quick else 20_000)
        )
        results: dict[str, list[float]] = {
            "supervisor.redis": [],
            "arq": [],
            "taskiq-redis": [],
            "saq": [],
        }
        for _ in range(runs):
            results["supervisor.redis"].append(await ours_e2e(url, concurrency, n))
            results["arq"].append(await arq_e2e(url, concurrency, n))
            results["taskiq-redis"].append(await taskiq_e2e(url, concurrency, n))
            results["saq"].append(await saq_e2e(url, concurrency, n))
        best_peer = max(
            statistics.median(values)
            for name, values in results.items()
            if name != "supervisor.redis"
        )
        for name, values in results.items():
            ratio = (
                f"   {statistics.median(values) / best_peer:.2f}x"
                if name == "supervisor.redis"
                else ""
            )
            print(f"  c={concurrency:<4} {name:<20}{fmt(values)}{ratio}")
    print("\nenqueue, jobs/s (min / median / max)")
    n = 2_000 if quick else 5_000
    for label, batched in (("one awaited call per job", False), ("batched", True)):
        results = {"supervisor.redis": [], "arq": [], "taskiq-redis": [], "saq": []}
        for _ in range(runs):
            results["supervisor.redis"].append(
                await ours_enqueue(url, n * (10 if batched else 1), batched)
            )
            results["arq"].append(await arq_enqueue(url, n, batched))
            results["taskiq-redis"].append(await taskiq_enqueue(url, n, batched))
            results["saq"].append(await saq_enqueue(url, n, batched))
        for name, values in results.items():
            print(f"  {label:<26} {name:<18}{fmt(values)}")
    print("\nreclaim after kill -9: seconds until another worker runs the job")
    for lease in (1.0, 5.0):
        latencies = [await ours_reclaim(url, lease) for _ in range(runs)]
        print(
            f"  lease {lease:.0f} s: {min(latencies):.2f} / {statistics.median(latencies):.2f} "
            f"/ {max(latencies):.2f} s (target <= lease + 1 s = {lease + 1:.0f} s)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    anyio.run(main, args.quick, args.runs, backend="asyncio")
