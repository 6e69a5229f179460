"""Helpers of the redis tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import anyio

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from supervisor.redis import JobHandle, JobStatus, Queue

#: Between two checks of a bounded wait (real seconds).
POLL: Final = 0.01


async def wait_until(
    check: Callable[[], bool | Awaitable[bool]], *, within: float = 10.0
) -> None:
    """Poll ``check`` until it holds; fail after ``within`` seconds."""
    with anyio.fail_after(within):
        while True:
            result = check()
            if not isinstance(result, bool):
                result = await result
            if result:
                return
            await anyio.sleep(POLL)


async def status_is(handle: JobHandle, status: JobStatus) -> bool:
    return await handle.status() is status


async def all_status(handles: list[JobHandle], status: JobStatus) -> bool:
    return all([await status_is(h, status) for h in handles])


async def workers_are(queue: Queue, count: int) -> bool:
    return (await queue.stats()).workers == count
