"""Opening a client to Redis and making sure a queue's stream and group exist."""

from __future__ import annotations

import contextlib
import logging
import math
import random
import ssl
import warnings
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Final, cast

import anyio
import coredis
from coredis.exceptions import (
    AuthenticationError,
    ConnectionError as CoredisConnectionError,
    StreamDuplicateConsumerGroupError,
)
from coredis.retry import NoRetryPolicy

from .._errors import RedisUnavailable
from .._logging import one_line
from .._spec import Backoff
from ._keys import GROUP
from ._urls import check_url, redact

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ._keys import QueueKeys

logger = logging.getLogger("supervisor.redis")

MIN_VERSION = (7, 0)
#: Between two attempts to reach a Redis that is not there yet.
WAIT_BACKOFF: Final = Backoff(initial=0.1, maximum=5.0, jitter=0.2)
#: While it waits, one WARNING line per this many seconds.
WAIT_LOG_EVERY: Final = 30.0
#: The longest one attempt to reach Redis may take (s).
ATTEMPT_BOUND: Final = 10.0
#: What says that Redis is not there (yet): refused, unreachable, loading its
#: data, or too slow to answer.
NOT_THERE: Final = (CoredisConnectionError, OSError, TimeoutError)


@asynccontextmanager
async def connect(
    url: str, *, cluster: bool = False
) -> AsyncIterator[coredis.Redis[bytes]]:
    """A client whose commands are never retried behind our back: a script that
    ran but whose reply was lost must not run twice. The callers retry where
    that is safe (the worker's parts restart with backoff). ``cluster``: a Redis
    Cluster client, ``url`` naming one of its nodes."""
    client: coredis.Redis[bytes]
    if cluster:
        # The cluster client has the same commands; every key of a queue is in
        # one slot, so each command and script goes to one node.
        with warnings.catch_warnings():
            # coredis 6.9's own from_url passes its startup node in the form it
            # deprecates (a dict): nothing of ours to change.
            warnings.simplefilter("ignore", DeprecationWarning)
            cluster_client = coredis.RedisCluster.from_url(
                url, decode_responses=False, retry_policy=NoRetryPolicy()
            )
        client = cast("coredis.Redis[bytes]", cluster_client)
    else:
        client = coredis.Redis.from_url(
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


def single_error(
    group: BaseExceptionGroup[BaseException],
    cancelled: type[BaseException] | tuple[type[BaseException], ...] | None = None,
) -> BaseException | None:
    """The one exception (not a cancellation: ``cancelled``, by default the
    running backend's) that a nest of groups holds, or None when it holds
    several, or only cancellations."""
    if cancelled is None:
        cancelled = anyio.get_cancelled_exc_class()
    _, rest = group.split(cancelled)
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
    await check_version(client)
    with contextlib.suppress(StreamDuplicateConsumerGroupError):
        await client.xgroup_create(keys.stream, GROUP, "0", mkstream=True)


async def _is_cluster(client: coredis.Redis[bytes]) -> bool:
    """The server is a node of a Redis Cluster."""
    info = await client.info("cluster")
    return str(info.get("cluster_enabled", 0)) == "1"


async def check_version(client: coredis.Redis[bytes]) -> None:
    info = await client.info("server")
    raw = info["redis_version"]
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    version = tuple(int(p) for p in text.split(".")[:2])
    if version < MIN_VERSION:
        msg = f"supervisor.redis needs Redis >= 7.0 (or Valkey), the server is {text}"
        raise RuntimeError(msg)


@asynccontextmanager
async def open_client(
    url: str, keys: QueueKeys | None, *, wait: float | None
) -> AsyncIterator[coredis.Redis[bytes]]:
    """A client of ``url`` whose queue ``keys`` has its stream and group (None:
    a client of no queue in particular, which creates nothing). Redis
    not there yet (refused, unreachable, loading) is tried again with backoff for
    up to ``wait`` seconds (None: for ever), with one WARNING line when the wait
    starts and one per WAIT_LOG_EVERY seconds; then ``RedisUnavailable``. A
    refused password is not waited for. Cancellation stops the wait."""
    check_url(url)
    started = anyio.current_time()
    deadline = math.inf if wait is None else started + wait
    next_log = started
    rng = random.Random()
    attempt = 0
    shown = redact(url)
    while True:
        stack = AsyncExitStack()
        try:
            # (not inside the deadline's scope: the client's own scopes outlive it)
            client = await stack.enter_async_context(connect(url))
            with anyio.fail_after(ATTEMPT_BOUND):
                cluster = await _is_cluster(client)
            if cluster:  # (a client is opened and closed outside the deadline)
                await stack.aclose()
                stack = AsyncExitStack()
                client = await stack.enter_async_context(connect(url, cluster=True))
            with anyio.fail_after(ATTEMPT_BOUND):
                if keys is None:
                    await check_version(client)
                else:
                    await ensure_group(client, keys)
            break
        except AuthenticationError as exc:  # waiting will not help
            await _close_quietly(stack)
            raise RedisUnavailable(shown, one_line(exc)) from exc
        except NOT_THERE as exc:
            await _close_quietly(stack)
            now = anyio.current_time()
            if now >= deadline or _tls_refused(exc):  # (waiting will not help TLS)
                raise RedisUnavailable(shown, _why(exc)) from exc
            # (the last attempt is made at the deadline)
            delay = min(WAIT_BACKOFF.delay(attempt, rng), deadline - now)
            attempt += 1
            if now >= next_log:
                left = (
                    "" if wait is None else f" (for up to {deadline - now:.3g} s more)"
                )
                logger.warning(
                    "Redis at %s is not there yet (%s); waiting for it%s",
                    shown,
                    _why(exc),
                    left,
                )
                next_log = now + WAIT_LOG_EVERY
            await anyio.sleep(delay)
    if attempt:
        waited = anyio.current_time() - started
        logger.info("Redis at %s is there after %.1f s", shown, waited)
    async with stack:
        yield client


def _causes(exc: BaseException) -> list[BaseException]:
    chain = [exc]
    while (nxt := chain[-1].__cause__ or chain[-1].__context__) is not None:
        if nxt in chain:
            break
        chain.append(nxt)
    return chain


def _tls_refused(exc: BaseException) -> bool:
    return any(isinstance(e, ssl.SSLError) for e in _causes(exc))


def _why(exc: BaseException) -> str:
    """The client's error, and what it wraps at the root (coredis wraps a TLS
    or socket error in "Unable to establish a connection")."""
    root = _causes(exc)[-1]
    return one_line(exc) if root is exc else f"{one_line(exc)} ({one_line(root)})"


async def _close_quietly(stack: AsyncExitStack) -> None:
    """Close a client that could not reach Redis: its pool may raise the same
    connection error again, which says nothing new."""
    with contextlib.suppress(*NOT_THERE):
        await stack.aclose()


async def queue_names(client: coredis.Redis[bytes]) -> list[str]:
    """The queues that have a stream on this server."""
    names = set()
    async for key in client.scan_iter(match="sv:{*}:stream"):
        text = bytes(key).decode(errors="replace")
        names.add(text[len("sv:{") : -len("}:stream")])
    return sorted(names)


async def queue_is_new(client: coredis.Redis[bytes], keys: QueueKeys) -> bool:
    """No job was ever enqueued to the queue on this server (a typo in its name
    looks like this)."""
    info = await client.xinfo_stream(keys.stream)
    added = info.get("entries-added", 0)
    return not added and not await client.zcard(keys.delayed)


#: The server's clock in ms (coredis's ``time()`` drops the fraction of a second:
#: it divides the microseconds by 1000 before it adds them as microseconds).
_SERVER_MS = "local t = redis.call('TIME') return t[1] * 1000 + math.floor(t[2] / 1000)"


async def server_ms(client: coredis.Redis[bytes]) -> int:
    """The Redis server's clock, in ms since the epoch (as the scripts read it)."""
    ms = await client.eval(_SERVER_MS)
    assert isinstance(ms, int)
    return ms
