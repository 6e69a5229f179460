"""Core benchmarks: the supervisor's per-task costs against bare trio, same run.

Run: ``.venv/bin/python benchmarks/bench_core.py [--quick]``. Real clock. Prints
min / median / max over the runs and ratios of medians; asserts nothing.
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


# --- submit -> complete of trivial tasks ------------------------------------


async def bare_start_soon(n: int) -> float:
    t0 = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(n):
            nursery.start_soon(noop)
    return time.perf_counter() - t0


async def bare_scoped(n: int) -> float:
    """Bare trio with one CancelScope per task: the floor of 'each task in its own scope'."""

    async def scoped() -> None:
        with trio.CancelScope():
            await noop()

    t0 = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(n):
            nursery.start_soon(scoped)
    return time.perf_counter() - t0


async def bare_limiter(n: int) -> float:
    limiter = trio.CapacityLimiter(100)

    async def limited() -> None:
        async with limiter:
            await noop()

    t0 = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(n):
            nursery.start_soon(limited)
    return time.perf_counter() - t0


async def sup_submit_nowait(n: int) -> float:
    t0 = time.perf_counter()
    async with open_supervisor() as sup:
        for _ in range(n):
            sup.submit_nowait(noop)
    return time.perf_counter() - t0


async def sup_submit(n: int) -> float:
    t0 = time.perf_counter()
    async with open_supervisor() as sup:
        for _ in range(n):
            await sup.submit(noop)
    return time.perf_counter() - t0


async def sup_limited_100(n: int) -> float:
    t0 = time.perf_counter()
    async with open_supervisor(max_concurrent=100) as sup:
        for _ in range(n):
            sup.submit_nowait(noop)
    return time.perf_counter() - t0


# --- cancelling running tasks ------------------------------------------------


async def bare_cancel(n: int) -> float:
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            for _ in range(n):
                nursery.start_soon(trio.sleep_forever)
            await trio.testing.wait_all_tasks_blocked()
            t0 = time.perf_counter()
            scope.cancel()
    return time.perf_counter() - t0


async def bare_scoped_cancel(n: int) -> float:
    """Bare trio, each task in its own CancelScope: the floor for the supervisor."""

    async def scoped() -> None:
        with trio.CancelScope():
            await trio.sleep_forever()

    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            for _ in range(n):
                nursery.start_soon(scoped)
            await trio.testing.wait_all_tasks_blocked()
            t0 = time.perf_counter()
            scope.cancel()
    return time.perf_counter() - t0


async def sup_cancel(n: int) -> float:
    with trio.CancelScope() as scope:
        async with open_supervisor() as sup:
            for _ in range(n):
                sup.submit_nowait(trio.sleep_forever)
            await trio.testing.wait_all_tasks_blocked()
            t0 = time.perf_counter()
            scope.cancel()
            await trio.sleep_forever()
    return time.perf_counter() - t0


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
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    print(f"python {sys.version.split()[0]}, trio {trio.__version__}, {runs} runs each")
    print(
        "per-task cost, us: min / median / max   (ratio = median / bare trio median)\n"
    )

    rows: list[tuple[str, str, str]] = []

    def row(label: str, values: list[float], n: int, base: list[float] | None) -> float:
        med = statistics.median(values) / n
        ratio = f"{med / (statistics.median(base) / n):.2f}x" if base else "1.00x"
        rows.append((label, fmt([v / n for v in values], 1e6, "us"), ratio))
        print(f"  {label:<44} {rows[-1][1]}   {ratio}", flush=True)
        return med

    for n in sizes:
        base = measure(bare_start_soon, n, runs)
        row(f"bare trio start_soon, {n:,}", base, n, None)
        row(
            f"bare trio + CancelScope per task, {n:,}",
            measure(bare_scoped, n, runs),
            n,
            base,
        )
        row(
            f"supervisor submit_nowait, {n:,}",
            measure(sup_submit_nowait, n, runs),
            n,
            base,
        )
        row(f"supervisor await submit, {n:,}", measure(sup_submit, n, runs), n, base)
    n = sizes[-1]
    base = measure(bare_start_soon, n, runs)
    row(f"bare trio unlimited, {n:,}", base, n, None)
    row(
        f"bare trio + CapacityLimiter(100), {n:,}",
        measure(bare_limiter, n, runs),
        n,
        base,
    )
    row(
        f"supervisor max_concurrent=100, {n:,}",
        measure(sup_limited_100, n, runs),
        n,
        base,
    )

    n = 10_000
    base = measure(bare_cancel, n, runs)
    row(f"bare trio: cancel {n:,} running", base, n, None)
    row(
        f"bare trio + CancelScope per task: cancel {n:,}",
        measure(bare_scoped_cancel, n, runs),
        n,
        base,
    )
    row(
        f"supervisor: outer cancel of {n:,} running",
        measure(sup_cancel, n, runs),
        n,
        base,
    )

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
