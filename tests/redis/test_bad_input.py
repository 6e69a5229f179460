"""Bad input to the queue's methods (the rest of the public entry points are in
tests/test_bad_input.py): the specific error class, with a message that names the
argument, and nothing enqueued."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from supervisor.redis import QueueStats, open_queue

pytestmark = pytest.mark.anyio

NAIVE = datetime(2030, 1, 1)
AWARE = datetime(2030, 1, 1).astimezone()

CASES: list[tuple[str, Any, type[Exception], str]] = [
    ("enqueue(job=1)", lambda q: q.enqueue(1), TypeError, "job name"),
    ("enqueue(job='')", lambda q: q.enqueue(""), ValueError, "job name"),
    ("enqueue(delay=-1)", lambda q: q.enqueue("j", delay=-1), ValueError, "delay"),
    ("enqueue(delay='1')", lambda q: q.enqueue("j", delay="1"), TypeError, "delay"),
    ("enqueue(at=naive)", lambda q: q.enqueue("j", at=NAIVE), ValueError, "at"),
    ("enqueue(at=1)", lambda q: q.enqueue("j", at=1), TypeError, "at"),
    (
        "enqueue(delay and at)",
        lambda q: q.enqueue("j", delay=1, at=AWARE),
        ValueError,
        "delay",
    ),
    ("enqueue(key='')", lambda q: q.enqueue("j", key=""), ValueError, "key"),
    ("enqueue(key=1)", lambda q: q.enqueue("j", key=1), TypeError, "key"),
    (
        "enqueue(an argument JSON cannot encode)",
        lambda q: q.enqueue("j", object()),
        TypeError,
        "argument 0",
    ),
    (
        "enqueue_many(arguments=1)",
        lambda q: q.enqueue_many("j", 1),
        TypeError,
        "arguments",
    ),
    (
        "enqueue_many(arguments=[1])",
        lambda q: q.enqueue_many("j", [(), 1]),
        TypeError,
        "arguments[1]",
    ),
    ("dead_letters(count=0)", lambda q: q.dead_letters(0), ValueError, "count"),
    ("dead_letters(count='1')", lambda q: q.dead_letters("1"), TypeError, "count"),
    ("requeue(1)", lambda q: q.requeue(1), TypeError, "job_id"),
    ("job(1)", lambda q: q.job(1), TypeError, "job_id"),
    ("job('')", lambda q: q.job(""), ValueError, "job_id"),
]


@pytest.mark.parametrize(
    ("call", "error", "argument"),
    [pytest.param(c, e, a, id=label) for label, c, e, a in CASES],
)
async def test_the_queue_refuses_bad_input(
    url: str, queue: str, call: Any, error: type[Exception], argument: str
) -> None:
    async with open_queue(url, queue) as q:
        with pytest.raises(error) as raised:
            result = call(q)
            if hasattr(result, "__await__"):
                await result
        assert argument in str(raised.value)
        assert await q.stats() == QueueStats(0, 0, 0, 0, 0)  # nothing enqueued


@pytest.mark.parametrize(("bad", "error"), [(-1, ValueError), ("1", TypeError)])
async def test_a_result_wait_refuses_a_bad_timeout(
    url: str, queue: str, bad: object, error: type[Exception]
) -> None:
    async with open_queue(url, queue) as q:
        h = await q.enqueue("j")
        with pytest.raises(error, match="timeout"):
            await h.result(timeout=bad)  # type: ignore[arg-type]
