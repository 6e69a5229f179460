"""What observability costs on the hot path: submit to finish of trivial tasks,
plain against instrumented, in the same run (interleaved). Real clock; prints
min / median / max per task and the ratio of medians; asserts nothing.

Run: ``.venv/bin/python benchmarks/bench_observability.py [--runs N]`` (needs the
``prometheus`` and ``otel`` extras, and opentelemetry-sdk).
"""

from __future__ import annotations

import argparse
import functools
import gc
import statistics
import time
from collections.abc import Awaitable, Callable

import trio
from bench_hot_path import in_nursery  # (this folder is on the path when run)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from prometheus_client import CollectorRegistry, generate_latest

from supervisor import Supervisor, open_supervisor
from supervisor.metrics import instrument
from supervisor.tracing import instrument as trace_attempts


async def noop() -> None:
    pass


def supervised(
    setup: Callable[[Supervisor], object],
) -> Callable[[int], Awaitable[float]]:
    """n trivial tasks through a supervisor that ``setup`` instruments first."""

    async def bench(n: int) -> float:
        t0 = time.perf_counter()
        async with open_supervisor() as sup:
            setup(sup)
            for _ in range(n):
                sup.submit_nowait(noop)
        return time.perf_counter() - t0

    return bench


def metrics(sup: Supervisor) -> None:
    registry = CollectorRegistry()
    instrument(sup, registry)
    assert b"trio_supervisor_tasks_finished_total" in generate_latest(registry)


def bare(
    body: Callable[[], Awaitable[None]],
) -> Callable[[int], Awaitable[float]]:
    """n tasks running ``body`` in a bare trio nursery."""
    return functools.partial(in_nursery, body)


_tracer = TracerProvider().get_tracer("bench")


async def sdk_span() -> None:
    """What one recorded SDK span costs by itself, whoever makes it."""
    with _tracer.start_as_current_span("noop"):
        await noop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--tasks", type=int, default=10_000)
    args = parser.parse_args()
    benches: dict[str, Callable[[int], Awaitable[float]]] = {
        "plain": supervised(lambda sup: None),
        "metrics (supervisor.metrics)": supervised(metrics),
        # spans made and ended, exported nowhere
        "tracing (supervisor.tracing)": supervised(
            lambda sup: trace_attempts(sup, TracerProvider())
        ),
        "tracing, 10% sampled": supervised(
            lambda sup: trace_attempts(
                sup, TracerProvider(sampler=TraceIdRatioBased(0.1))
            )
        ),
        # instrumented, but no SDK configured: the API's no-op tracer
        "tracing, API only (no SDK)": supervised(trace_attempts),
        "bare trio": bare(noop),
        "bare trio + an SDK span per task": bare(sdk_span),
    }
    times: dict[str, list[float]] = {name: [] for name in benches}
    for _ in range(args.runs):
        for name, bench in benches.items():
            gc.collect()
            times[name].append(trio.run(bench, args.tasks) / args.tasks * 1e6)
    base = statistics.median(times["plain"])
    print(
        f"{args.tasks:,} tasks, submit_nowait to finish, us per task "
        "(min / median / max, ratio to plain)"
    )
    for name, values in times.items():
        med = statistics.median(values)
        print(
            f"  {name:<34} {min(values):6.2f} / {med:6.2f} / {max(values):6.2f}   "
            f"{med / base:.3f}x"
        )
    span = statistics.median(
        times["bare trio + an SDK span per task"]
    ) - statistics.median(times["bare trio"])
    print(
        f"one recorded SDK span costs {span:.2f} us by itself: "
        f"{span / base:.2f}x of the plain path"
    )


if __name__ == "__main__":
    main()
