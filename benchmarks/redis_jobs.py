"""The no-op jobs the Redis benchmarks run (imported by worker processes)."""

from __future__ import annotations

import anyio

from supervisor.redis import JobRegistry

registry = JobRegistry()


@registry.job
async def noop() -> None:
    return None


@registry.job
async def hold(seconds: float) -> None:
    await anyio.sleep(seconds)
