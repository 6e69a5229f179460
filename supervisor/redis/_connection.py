"""Opening a client to Redis and making sure a queue's stream and group exist."""

from __future__ import annotations

import contextlib
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
import coredis
from coredis.exceptions import StreamDuplicateConsumerGroupError
from coredis.retry import NoRetryPolicy

from ._keys import GROUP

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ._keys import QueueKeys

MIN_VERSION = (7, 0)


def check_url(url: object) -> None:
    if not isinstance(url, str):
        msg = f"url must be a str such as 'redis://127.0.0.1:6379/0', got {url!r}"
        raise TypeError(msg)
    if not url.startswith(("redis://", "rediss://", "unix://")):
        msg = f"url must start with redis://, rediss:// or unix://, got {url!r}"
        raise ValueError(msg)


@asynccontextmanager
async def connect(url: str) -> AsyncIterator[coredis.Redis[bytes]]:
    """A client whose commands are never retried behind our back: a script that
    ran but whose reply was lost must not run twice. The callers retry where
    that is safe (the worker's parts restart with backoff)."""
    client: coredis.Redis[bytes] = coredis.Redis.from_url(
        url, decode_responses=False, retry_policy=NoRetryPolicy()
    )
    # coredis's pool owns a task group, which wraps whatever escapes the block in
    # an ExceptionGroup: the user's own error escapes bare instead.
    escaped: BaseException | None = None
    try:
        async with client:
            yield client
    except BaseExceptionGroup as group:
        escaped = single_error(group)
        if escaped is None:
            raise
    if escaped is not None:
        # Raised outside the except block so that it keeps its own __context__.
        try:
            raise escaped
        finally:
            del escaped


def single_error(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The one exception (not a cancellation) that a nest of groups holds, or
    None when it holds several, or only cancellations."""
    _, rest = group.split(anyio.get_cancelled_exc_class())
    leaves: list[BaseException] = []
    stack: list[BaseException] = [] if rest is None else [rest]
    while stack:
        exc = stack.pop()
        if isinstance(exc, BaseExceptionGroup):
            stack.extend(exc.exceptions)
        else:
            leaves.append(exc)
    return leaves[0] if len(leaves) == 1 else None


async def ensure_group(client: coredis.Redis[bytes], keys: QueueKeys) -> None:
    """Create the stream and its consumer group if missing (from the first entry,
    so jobs enqueued before any worker existed are read)."""
    info = await client.info("server")
    raw = info["redis_version"]
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    version = tuple(int(p) for p in text.split(".")[:2])
    if version < MIN_VERSION:
        msg = f"supervisor.redis needs Redis >= 7.0 (or Valkey), the server is {text}"
        raise RuntimeError(msg)
    with contextlib.suppress(StreamDuplicateConsumerGroupError):
        await client.xgroup_create(keys.stream, GROUP, "0", mkstream=True)
