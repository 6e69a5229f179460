"""Core benchmarks beyond the hot path (``bench_hot_path.py``): the seed's 50
submissions, memory per task, and a million tasks through a limit.

Run: ``.venv/bin/python benchmarks/bench_core.py [--quick]``. Real clock. Prints
min / median / max over the runs; asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable

import trio
import trio.testing

from supervisor import open_supervisor

Bench = Callable[[int], Awaitable[float]]


async def noop() -> None:
    pass


# --- the seed's benchmark: 50 submissions -------------------------------------


async def seed_50_submissions(_n: int) -> float:
    async def job() -> None:
        await trio.sleep(0.001)

    async with open_supervisor(max_concurrent=10) as sup:
        t0 = time.perf_counter()
        for _ in range(50):
            await sup.submit(job)
        elapsed = time.perf_counter() - t0
    return elapsed


# --- memory -------------------------------------------------------------------


async def bytes_per_blocked_bare_task(n: int) -> float:
    async with trio.open_nursery() as nursery:
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(n):
            nursery.start_soon(trio.sleep_forever)
        await trio.testing.wait_all_tasks_blocked()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        nursery.cancel_scope.cancel()
    return (after - before) / n


async def bytes_per_pending_task(n: int) -> float:
    async with open_supervisor(max_concurrent=1) as sup:
        sup.submit_nowait(trio.sleep_forever)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(n):
            sup.submit_nowait(noop)
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        sup.cancel()
    return (after - before) / n


def rss_kib() -> int:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


async def million_through_1000(total: int) -> list[tuple[int, int]]:
    """RSS (KiB) after each tenth of ``total`` tasks through max_concurrent=1000."""
    samples: list[tuple[int, int]] = []
    step = total // 10
    async with open_supervisor(max_concurrent=1000, max_pending=10_000) as sup:
        for i in range(1, total + 1):
            await sup.submit(noop)
            if i % step == 0:
                samples.append((i, rss_kib()))
    return samples


# --- harness ------------------------------------------------------------------


def measure(bench: Bench, n: int, runs: int) -> list[float]:
    values = []
    for _ in range(runs):
        gc.collect()
        values.append(trio.run(bench, n))
    return values


def fmt(values: list[float], scale: float, unit: str) -> str:
    lo, med, hi = min(values), statistics.median(values), max(values)
    return f"{lo * scale:7.2f} / {med * scale:7.2f} / {hi * scale:7.2f} {unit}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes, 3 runs")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs
    print(f"python {sys.version.split()[0]}, trio {trio.__version__}, {runs} runs each")

    seed = measure(seed_50_submissions, 50, runs)
    print(f"\n  seed benchmark, 50 submissions:   {fmt(seed, 1e3, 'ms')}")

    n = 100_000 if not args.quick else 10_000
    bare_mem = trio.run(bytes_per_blocked_bare_task, n)
    pend_mem = trio.run(bytes_per_pending_task, n)
    print(f"\n  memory per blocked bare trio task:  {bare_mem:7.0f} B   ({n:,} tasks)")
    print(
        f"  memory per PENDING (queued) task:   {pend_mem:7.0f} B   ({n:,} tasks, max_concurrent=1)"
    )

    total = 1_000_000 if not args.quick else 100_000
    t0 = time.perf_counter()
    samples = trio.run(million_through_1000, total)
    elapsed = time.perf_counter() - t0
    print(
        f"\n  {total:,} tasks through max_concurrent=1000 in {elapsed:.1f} s; RSS (MiB) after each tenth:"
    )
    print("   " + "  ".join(f"{rss / 1024:.1f}" for _, rss in samples))


if __name__ == "__main__":
    main()
