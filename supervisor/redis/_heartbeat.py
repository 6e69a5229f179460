"""The worker part that says it is alive (``q.stats().workers`` and ``top`` read
it) and forgets the consumers of workers gone for good."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Final

import anyio

if TYPE_CHECKING:
    from ._worker_state import WorkerState

#: A worker is live for this many beats after its last one.
BEATS_TO_LIVE: Final = 3
MAX_BEAT: Final = 5.0


def beat_period(lease_ms: int) -> float:
    return min(MAX_BEAT, lease_ms / 1000 / 3)


async def heartbeat(state: WorkerState) -> None:
    period = beat_period(state.lease_ms)
    ttl_ms = int(period * BEATS_TO_LIVE * 1000)
    while True:
        await state.scripts.call(
            "heartbeat",
            state.consumer,
            ttl_ms,
            "host",
            socket.gethostname(),
            "pid",
            os.getpid(),
            "concurrency",
            state.concurrency,
            "lease",
            state.lease_ms,
            "draining",
            int(state.draining.is_set()),
        )
        await anyio.sleep(period)
