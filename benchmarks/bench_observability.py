"""What observability costs on the hot path: submit to finish of trivial tasks,
plain against instrumented, in the same run (interleaved). Real clock; prints
min / median / max per task and the ratio of medians; asserts nothing.

Run: ``.venv/bin/python benchmarks/bench_observability.py [--runs N]`` (needs the
``prometheus`` extra).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Awaitable, Callable

import trio
from prometheus_client import CollectorRegistry, generate_latest

from supervisor import open_supervisor
from supervisor.metrics import instrument


async def noop() -> None:
    pass


async def plain(n: int) -> float:
    t0 = time.perf_counter()
    async with open_supervisor() as sup:
        for _ in range(n):
            sup.submit_nowait(noop)
    return time.perf_counter() - t0


async def with_metrics(n: int) -> float:
    registry = CollectorRegistry()
    t0 = time.perf_counter()
    async with open_supervisor() as sup:
        instrument(sup, registry)
        for _ in range(n):
            sup.submit_nowait(noop)
    elapsed = time.perf_counter() - t0
    assert b"trio_supervisor_task_duration_seconds_count" in generate_latest(registry)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--tasks", type=int, default=10_000)
    args = parser.parse_args()
    benches: dict[str, Callable[[int], Awaitable[float]]] = {
        "plain": plain,
        "metrics (supervisor.metrics)": with_metrics,
    }
    times: dict[str, list[float]] = {name: [] for name in benches}
    for _ in range(args.runs):
        for name, bench in benches.items():
            gc.collect()
            times[name].append(trio.run(bench, args.tasks) / args.tasks * 1e6)
    base = statistics.median(times["plain"])
    print(
        f"{args.tasks:,} tasks, submit_nowait to finish, us per task (min / median / max)"
    )
    for name, values in times.items():
        med = statistics.median(values)
        print(
            f"  {name:<30} {min(values):6.2f} / {med:6.2f} / {max(values):6.2f}   "
            f"{med / base:.3f}x"
        )


if __name__ == "__main__":
    main()
