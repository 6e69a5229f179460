"""Worker resilience: Redis killed (SIGKILL) and restarted from its AOF while a
worker runs. The worker neither exits nor loses a job."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest

from supervisor.redis import QueueStats, open_queue, open_worker

from . import jobs
from .helpers import wait_until

if TYPE_CHECKING:
    from .server import RedisServer

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def test_a_redis_restart_loses_no_job(
    own_redis_server: RedisServer, queue: str
) -> None:
    url = own_redis_server.url
    async with open_queue(url, queue) as q:
        before = await q.enqueue_many(
            "hold", [(f"{queue}-a{i}", 0.3) for i in range(20)]
        )
    async with open_worker(url, queue, jobs.registry, concurrency=8, lease=1) as w:
        await wait_until(lambda: w.holding > 0)
        own_redis_server.kill()
        own_redis_server.start()
        async with open_queue(url, queue) as q:
            before = [q.job(h.id) for h in before]
            after = await q.enqueue_many("add", [(i, 1) for i in range(20)])
            assert [await h.result(timeout=30) for h in after] == list(range(1, 21))
            for h in before:
                assert await h.result(timeout=30) == f"{queue}-a{before.index(h)}"
            assert await q.stats() == QueueStats(0, 0, 0, 0, 1)


async def test_a_redis_outage_makes_the_parts_reconnect_with_backoff(
    own_redis_server: RedisServer, queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis down while jobs run: the parts fail and come back with backoff (a
    warning each); the outcomes reached while it was down are stored after."""
    caplog.set_level(logging.WARNING, logger="supervisor")
    url = own_redis_server.url
    async with open_queue(url, queue) as q:
        handles = await q.enqueue_many(
            "hold", [(f"{queue}-{i}", 0.2) for i in range(8)]
        )
    async with open_worker(url, queue, jobs.registry, concurrency=8, lease=1) as w:
        await wait_until(lambda: w.holding == 8)
        own_redis_server.kill()
        await wait_until(lambda: _warned(caplog), within=10)
        await wait_until(
            lambda: not any(f"{queue}-{i}" in jobs.holding for i in range(8))
        )
        own_redis_server.start()
        async with open_queue(url, queue) as q:
            for i, h in enumerate(handles):
                assert await q.job(h.id).result(timeout=20) == f"{queue}-{i}"
            assert await q.stats() == QueueStats(0, 0, 0, 0, 1)


def _warned(caplog: pytest.LogCaptureFixture) -> bool:
    return any(
        "ended (ConnectionError" in r.getMessage() and "restarting in" in r.getMessage()
        for r in caplog.records
    )
