"""Jobs for the tests, importable by worker processes as ``tests.redis.jobs:registry``."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import anyio
import anyio.lowlevel

from supervisor import current_handle
from supervisor.redis import Backoff, JobRegistry

registry = JobRegistry()

#: In-process records of what ran (tests that run a worker in their own process).
calls: list[tuple[str, tuple[Any, ...]]] = []
#: Per token: how many times ``flaky`` ran.
flaky_runs: dict[str, int] = {}
#: Tokens of ``hold`` calls running now, and those that were cancelled.
holding: set[str] = set()
cancelled: list[str] = []
stop_requests: list[str] = []


@registry.job
async def add(a: int, b: int) -> int:
    calls.append(("add", (a, b)))
    return a + b


@registry.job
async def noop() -> None:
    return None


@registry.job
async def fail(message: str) -> None:
    raise ValueError(message)


@registry.job(max_attempts=3, backoff=Backoff(initial=0.05, jitter=0))
async def flaky(token: str, failures: int) -> str:
    runs = flaky_runs[token] = flaky_runs.get(token, 0) + 1
    if runs <= failures:
        msg = f"run {runs} fails"
        raise RuntimeError(msg)
    return f"ok after {runs}"


@registry.job(max_attempts=2)
async def fail_twice_fast(token: str) -> None:
    flaky_runs[token] = flaky_runs.get(token, 0) + 1
    msg = "always"
    raise RuntimeError(msg)


@registry.job(timeout=0.2)
async def too_slow() -> None:
    await anyio.sleep(60)


@registry.job
async def hold(token: str, seconds: float) -> str:
    """Runs ``seconds`` (real clock), then returns; records stop requests and
    cancellations."""
    holding.add(token)
    handle = current_handle()
    assert handle is not None
    try:
        async with anyio.create_task_group() as tg:

            async def watch_stop() -> None:
                await handle.wait_stop_requested()
                stop_requests.append(token)

            tg.start_soon(watch_stop)
            await anyio.sleep(seconds)
            tg.cancel_scope.cancel()
    except anyio.get_cancelled_exc_class():
        cancelled.append(token)
        raise
    finally:
        holding.discard(token)
    return token


@registry.job
async def returns_a_set() -> set[int]:
    return {1, 2}


@registry.job
async def kill_my_process() -> None:
    """A poison job: kills the worker that runs it."""
    os.kill(os.getpid(), signal.SIGKILL)


@registry.job
async def record(token: str, seconds: float) -> str:
    """Appends ``start``/``end`` lines to $RECORD_FILE around a real sleep (the
    chaos test reads them back to count executions and overlaps)."""
    path = os.environ["RECORD_FILE"]
    _append(path, f"start {token} {os.getpid()} {time.time():.6f}\n")
    await anyio.sleep(seconds)
    _append(path, f"end {token} {os.getpid()} {time.time():.6f}\n")
    return token


def _append(path: str, line: str) -> None:
    # One write of a short line to an O_APPEND file: atomic among processes.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


#: ``gauge``: how many run now, and the most that ever ran at once.
gauge_now = 0
gauge_max = 0


@registry.job
async def gauge(seconds: float) -> None:
    global gauge_now, gauge_max
    gauge_now += 1
    gauge_max = max(gauge_max, gauge_now)
    try:
        await anyio.sleep(seconds)
    finally:
        gauge_now -= 1


@registry.job
async def traced_work() -> str:
    """Returns the id of the span current inside the job (its "process" span when
    the worker is traced)."""
    from opentelemetry import trace

    await anyio.lowlevel.checkpoint()
    return format(trace.get_current_span().get_span_context().span_id, "016x")
