"""The peers' no-op jobs and worker settings, for bench_redis.py (imported by their
worker processes). Each reads the Redis URL, queue and concurrency from the
environment, as their command-line workers import this module."""

from __future__ import annotations

import os
from typing import Any

from arq.connections import RedisSettings
from saq import Queue as SaqQueue
from taskiq_redis import RedisStreamBroker

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
QUEUE = os.environ.get("BENCH_QUEUE", "bench")
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))


# --- arq: the worker polls a sorted set; poll_delay lowered from its 0.5 s
# default, which would cap a backlog at queue_read_limit jobs per half second.
async def arq_noop(ctx: dict[str, Any]) -> None:
    return None


class ArqSettings:
    functions = [arq_noop]
    redis_settings = RedisSettings.from_dsn(URL)
    queue_name = QUEUE
    max_jobs = CONCURRENCY
    poll_delay = 0.01
    keep_result = 0  # results not kept: bench_redis.py counts keys to see the end
    handle_signals = True


# --- taskiq-redis: the Redis Streams broker (acknowledged deliveries, like ours).
broker = RedisStreamBroker(URL, queue_name=QUEUE, consumer_group_name=QUEUE)


@broker.task(task_name="noop")
async def taskiq_noop() -> None:
    return None


# --- SAQ: a list per queue and a sorted set of incomplete jobs.
async def saq_noop(ctx: dict[str, Any]) -> None:
    return None


saq_settings = {
    "queue": SaqQueue.from_url(URL, name=QUEUE),
    "functions": [saq_noop],
    "concurrency": CONCURRENCY,
}
