"""The hot path: per-task cost of each runner mode against bare trio and the peers.

Every task's body is one checkpoint. All variants of a size run interleaved, run
after run, each in a fresh event loop after a ``gc.collect()``; printed per task:
min / median / max over the runs, and ratios of medians to the reference named
in the heading. Real clock; asserts nothing.

Run: ``.venv/bin/python benchmarks/bench_hot_path.py [--runs N] [--quick]``
(aiojobs, a peer on asyncio, comes with the ``bench`` extra; without it that line
is left out).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import importlib.metadata
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import anyio
import trio
import trio.testing

from supervisor import open_supervisor

try:
    import aiojobs
except ImportError:  # pragma: no cover - the bench extra is optional
    aiojobs = None  # type: ignore[assignment]

Bench = Callable[[int], float]  # n tasks -> seconds


async def body() -> None:
    await trio.lowlevel.checkpoint()


async def anyio_body() -> None:
    await anyio.lowlevel.checkpoint()


def on_trio(fn: Callable[[int], Awaitable[float]]) -> Bench:
    return lambda n: trio.run(fn, n)


def on_asyncio(fn: Callable[[int], Coroutine[Any, Any, float]]) -> Bench:
    return lambda n: asyncio.run(fn(n))


# --- submit to finish -----------------------------------------------------------


async def in_nursery(task: Callable[[], Awaitable[None]], n: int) -> float:
    """n copies of ``task`` in one bare trio nursery."""
    t0 = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(n):
            nursery.start_soon(task)
    return time.perf_counter() - t0


async def bare_trio(n: int) -> float:
    return await in_nursery(body, n)


async def scoped(n: int) -> float:
    """The floor of one trio task per job, each job (a call of its function) in a
    cancel scope of its own."""

    async def in_scope() -> None:
        with trio.CancelScope():
            await body()

    return await in_nursery(in_scope, n)


async def anyio_task_group(n: int) -> float:
    t0 = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(anyio_body)
    return time.perf_counter() - t0


async def bare_limiter(n: int) -> float:
    """Bare trio with a CapacityLimiter(100): the reference for max_concurrent."""
    limiter = trio.CapacityLimiter(100)

    async def limited() -> None:
        async with limiter:
            await trio.lowlevel.checkpoint()

    return await in_nursery(limited, n)


def supervised(
    *, awaited: bool = False, **options: Any
) -> Callable[[int], Awaitable[float]]:
    async def bench(n: int) -> float:
        t0 = time.perf_counter()
        async with open_supervisor(**options) as sup:
            if awaited:
                for _ in range(n):
                    await sup.submit(body)
            else:
                for _ in range(n):
                    sup.submit_nowait(body)
        return time.perf_counter() - t0

    return bench


async def bare_asyncio(n: int) -> float:
    t0 = time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        for _ in range(n):
            tg.create_task(asyncio.sleep(0))
    return time.perf_counter() - t0


async def aiojobs_unlimited(n: int) -> float:
    assert aiojobs is not None
    t0 = time.perf_counter()
    scheduler = aiojobs.Scheduler(limit=None, pending_limit=0)
    for _ in range(n):
        await scheduler.spawn(asyncio.sleep(0))
    await scheduler.wait_and_close()
    return time.perf_counter() - t0


# --- cancelling running tasks -------------------------------------------------


async def cancel_bare(n: int, *, scoped: bool) -> float:
    async def blocked() -> None:
        if scoped:
            with trio.CancelScope():
                await trio.sleep_forever()
        else:
            await trio.sleep_forever()

    with trio.CancelScope() as outer:
        async with trio.open_nursery() as nursery:
            for _ in range(n):
                nursery.start_soon(blocked)
            await trio.testing.wait_all_tasks_blocked()
            t0 = time.perf_counter()
            outer.cancel()
    return time.perf_counter() - t0


async def cancel_supervised(n: int, **options: Any) -> float:
    with trio.CancelScope() as outer:
        async with open_supervisor(**options) as sup:
            for _ in range(n):
                sup.submit_nowait(trio.sleep_forever)
            await trio.testing.wait_all_tasks_blocked()
            t0 = time.perf_counter()
            outer.cancel()
            await trio.sleep_forever()
    return time.perf_counter() - t0


# --- health() -------------------------------------------------------------------


async def health_with_scheduled(n: int, *, calls: int = 2_000, **options: Any) -> float:
    """Seconds per health() call while n tasks are scheduled but not started."""
    async with open_supervisor(**options) as sup:
        for _ in range(n):
            sup.submit_nowait(trio.sleep_forever)
        t0 = time.perf_counter()
        for _ in range(calls):
            sup.health()
        elapsed = time.perf_counter() - t0
        sup.cancel()
    return elapsed / calls


# --- the garbage collector in bursts --------------------------------------------


def with_gc(setting: str, bench: Bench) -> Bench:
    """``bench`` under one garbage-collector setting, restored afterwards."""

    def run(n: int) -> float:
        thresholds = gc.get_threshold()
        try:
            if setting == "gc.freeze() first":
                gc.freeze()  # what exists now is never walked again
            elif setting == "gc.set_threshold(100_000)":
                gc.set_threshold(100_000, *thresholds[1:])
            elif setting == "gc.disable() during the burst":
                gc.disable()
            return bench(n)
        finally:
            gc.enable()
            gc.set_threshold(*thresholds)
            gc.unfreeze()

    return run


# --- harness --------------------------------------------------------------------


def interleaved(benches: dict[str, Bench], n: int, runs: int) -> dict[str, list[float]]:
    """Seconds per task of each bench, the runs interleaved."""
    times: dict[str, list[float]] = {name: [] for name in benches}
    for _ in range(runs):
        for name, bench in benches.items():
            gc.collect()
            times[name].append(bench(n) / n)
    return times


def report(times: dict[str, list[float]], reference: str, unit: float = 1e6) -> None:
    base = statistics.median(times[reference])
    for name, values in times.items():
        med = statistics.median(values)
        print(
            f"  {name:<58} {min(values) * unit:8.2f} / {med * unit:8.2f} / "
            f"{max(values) * unit:8.2f}   {med / base:5.2f}x",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="1k and 10k, 3 runs")
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    print(
        f"python {sys.version.split()[0]}, trio {trio.__version__}, "
        f"anyio {importlib.metadata.version('anyio')}, {runs} interleaved runs; "
        "us per task: min / median / max, ratio of medians"
    )
    benches: dict[str, Bench] = {
        "bare trio start_soon": on_trio(bare_trio),
        "bare trio + CancelScope per task (floor)": on_trio(scoped),
        "supervisor, runners='task', unlimited": on_trio(supervised()),
        "supervisor, runners='task', await submit": on_trio(supervised(awaited=True)),
        "bare trio + CapacityLimiter(100)": on_trio(bare_limiter),
        "supervisor, runners='task', max_concurrent=100": on_trio(
            supervised(max_concurrent=100)
        ),
        "supervisor, runners='pooled', max_concurrent=100": on_trio(
            supervised(max_concurrent=100, runners="pooled")
        ),
        "anyio TaskGroup on trio": on_trio(anyio_task_group),
        "bare asyncio TaskGroup": on_asyncio(bare_asyncio),
    }
    if aiojobs is not None:
        benches["aiojobs on asyncio, unlimited"] = on_asyncio(aiojobs_unlimited)
    for n in sizes:
        print(f"\n{n:,} tasks, submit to finish (ratio to bare trio start_soon)")
        times = interleaved(benches, n, runs)
        report(times, "bare trio start_soon")
        floor = statistics.median(times["bare trio + CancelScope per task (floor)"])
        unlimited = statistics.median(times["supervisor, runners='task', unlimited"])
        print(f"  runners='task', unlimited / the floor: {unlimited / floor:.2f}x")

    n = 10_000
    print(f"\nouter cancel of {n:,} running tasks (ratio to the floor)")
    cancels: dict[str, Bench] = {
        "bare trio": lambda n: trio.run(lambda: cancel_bare(n, scoped=False)),
        "bare trio + CancelScope per task (floor)": lambda n: trio.run(
            lambda: cancel_bare(n, scoped=True)
        ),
        "supervisor, runners='task'": lambda n: trio.run(cancel_supervised, n),
        "supervisor, runners='pooled', max_concurrent=n": lambda n: trio.run(
            lambda: cancel_supervised(n, max_concurrent=n, runners="pooled")
        ),
    }
    report(interleaved(cancels, n, runs), "bare trio + CancelScope per task (floor)")

    n = sizes[-1]
    print(f"\n{n:,}-task bursts and the garbage collector (ratio to the default)")
    unlimited = on_trio(supervised())
    bursts: dict[str, Bench] = {
        f"runners='task', unlimited, {setting}": with_gc(setting, unlimited)
        for setting in (
            "default",
            "gc.freeze() first",
            "gc.set_threshold(100_000)",
            "gc.disable() during the burst",
        )
    }
    bursts["runners='pooled', max_concurrent=100, default"] = on_trio(
        supervised(max_concurrent=100, runners="pooled")
    )
    report(interleaved(bursts, n, runs), "runners='task', unlimited, default")

    print("\nhealth(), us per call, with tasks scheduled (ratio to 0 scheduled)")
    for label, options in (
        ("unlimited (each holds a slot, not started)", {}),
        (
            "pooled, max_concurrent=100 (the rest wait)",
            {"max_concurrent": 100, "runners": "pooled"},
        ),
    ):
        health: dict[str, list[float]] = {}
        for _ in range(runs):
            for n in (0, 10_000, 100_000):
                gc.collect()
                health.setdefault(f"{label}: {n:,}", []).append(
                    trio.run(functools.partial(health_with_scheduled, n, **options))
                )
        report(health, f"{label}: 0")


if __name__ == "__main__":
    main()
