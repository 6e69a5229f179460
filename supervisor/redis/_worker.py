"""``open_worker``: a worker process's supervision tree.

::

    open_worker()
    ├── supervisor "jobs <queue>"        # each delivered job: a TEMPORARY task
    └── supervisor "worker <queue>"      # the parts, PERMANENT, restarted with
        ├── fetcher                      # backoff when Redis drops (no intensity
        ├── flusher                      # limit: a Redis outage must not end the
        ├── renewer                      # worker)
        ├── cancel listener
        └── heartbeat

Leaving the block drains: the fetcher stops, running jobs get ``drain_timeout``
seconds (and a stop request: ``current_handle().stop_requested``), the rest are
cancelled and handed back at once (no attempt or delivery counted), their
outcomes are stored, and the worker leaves the group. Stopping at once (a second
signal, an error in the block) cancels the jobs where they stand and hands them
back within HAND_BACK_BOUND seconds. A cancelled scope around the block cancels
coredis's connections too, so nothing can be handed back: those jobs are
reclaimed when their leases expire, as after a kill.
"""

from __future__ import annotations

import logging
import math
import os
import random
import socket
import uuid
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Final, cast, final

import anyio
import attrs

from .._arguments import check_signals
from .._checks import check_count, check_name, check_seconds, check_type
from .._open import open_supervisor
from .._spec import Backoff, Restart
from ._cancel_listener import cancel_listener
from ._codec import Codec, JsonCodec, check_codec
from ._connection import open_client, queue_is_new, queue_names, server_ms
from ._fetcher import fetcher
from ._flusher import flusher, store_waiting
from ._heartbeat import heartbeat
from ._job_runs import on_job_event
from ._keys import QueueKeys, check_queue_name
from ._queue import DEFAULT_RESULT_TTL
from ._registry import JobRegistry
from ._renewer import renewer
from ._scripts import Scripts
from ._urls import check_url, redact
from ._worker_state import WorkerState

if TYPE_CHECKING:
    import signal
    from collections.abc import AsyncIterator, Iterable

    import coredis

    from .._supervisor import Supervisor

logger = logging.getLogger("supervisor.redis")

#: How a part comes back after its connection dropped.
PART_BACKOFF: Final = Backoff(initial=0.05, maximum=5.0, jitter=0.2)
#: The longest a drain waits to store the outcomes of its jobs once they ended
#: (Redis may be down); what is not stored then is reclaimed after its lease.
STORE_BOUND: Final = 10.0
#: The longest a worker stopped at once spends handing its jobs back.
HAND_BACK_BOUND: Final = 2.0


@attrs.frozen
class WorkerStatistics:
    """Counts of one worker since it started."""

    #: Job attempts it started.
    started: int
    #: Jobs it took over from workers whose lease expired (each run alone).
    reclaimed: int
    #: Runs it dropped because their lease was lost (another worker has them).
    fenced: int
    #: Jobs it holds now: running, or finished with the outcome not stored yet.
    holding: int
    concurrency: int
    #: Jobs it handed back unrun or cut short by its drain or stop (no attempt
    #: counted), their hand-back stored.
    handed_back: int = 0


@final
class Worker:
    """A running worker (``open_worker``)."""

    def __init__(self, state: WorkerState, queue: str) -> None:
        self._state = state
        self.queue = queue

    @property
    def consumer(self) -> str:
        """This worker's name in the queue's consumer group."""
        return self._state.consumer

    @property
    def concurrency(self) -> int:
        return self._state.concurrency

    @property
    def holding(self) -> int:
        """Jobs delivered to this worker whose outcome is not stored yet."""
        return len(self._state.inflight.jobs)

    @property
    def draining(self) -> bool:
        return self._state.draining.is_set()

    @property
    def stopped_at_once(self) -> bool:
        """It was stopped at once (a second signal, an error or a cancelled scope
        around the block) rather than drained; read after the block."""
        return self._state.stopped_at_once

    def statistics(self) -> WorkerStatistics:
        state = self._state
        return WorkerStatistics(
            started=state.started,
            reclaimed=state.reclaimed,
            fenced=state.fenced,
            holding=len(state.inflight.jobs),
            concurrency=state.concurrency,
            handed_back=state.handed_back,
        )

    def drain(self) -> None:
        """Stop taking jobs now (idempotent). The block's exit waits for the
        running ones, as a drain does."""
        self._state.draining.set()

    async def wait_draining(self) -> None:
        """Until a drain began (``drain()`` or a ``shutdown_on`` signal)."""
        await self._state.draining.wait()

    def __repr__(self) -> str:
        return (
            f"<supervisor.redis.Worker {self.consumer!r} of queue {self.queue!r}, "
            f"{self.holding}/{self.concurrency} held>"
        )


async def _on_signals(
    signals: Iterable[signal.Signals],
    worker: Worker,
    body: anyio.CancelScope,
    everything: anyio.CancelScope,
    listening: anyio.Event,
) -> None:
    with anyio.open_signal_receiver(*signals) as received:
        listening.set()
        count = 0
        async for sig in received:
            count += 1
            if count == 1:
                logger.warning("worker %s: %s: draining", worker.consumer, sig.name)
                worker.drain()
                body.cancel()
            else:
                logger.warning(
                    "worker %s: %s again: stopping now", worker.consumer, sig.name
                )
                everything.cancel()
                return


@asynccontextmanager
async def open_worker(
    url: str,
    queue: str,
    registry: JobRegistry,
    *,
    concurrency: int = 32,
    lease: float = 30.0,
    drain_timeout: float = 30.0,
    max_deliveries: int = 3,
    result_ttl: float = DEFAULT_RESULT_TTL,
    codec: Codec | None = None,
    name: str | None = None,
    shutdown_on: Iterable[int] = (),
    seed: int | None = None,
    wait_for_redis: float | None = None,
) -> AsyncIterator[Worker]:
    """Run jobs of ``queue`` from ``registry`` while the block runs; drain when it
    exits. ``lease``: seconds a job stays this worker's without a renewal (renewed
    three times per lease while it runs); ``max_deliveries``: deaths of a worker
    running the job alone before it is DEAD. ``shutdown_on``: signals that start
    the drain and cancel the block's body (a second one stops at once).
    ``wait_for_redis``: seconds to wait for a Redis that is not there yet (None,
    the default: for ever), else ``RedisUnavailable``."""
    check_url(url)
    check_queue_name(queue)
    check_type("registry", registry, JobRegistry, "a JobRegistry")
    if cast("object", registry) is None:
        msg = "registry must be a JobRegistry, got None"
        raise TypeError(msg)
    check_count("concurrency", concurrency, 1)
    check_seconds("lease", lease, zero_ok=False, none_ok=False)
    if lease < 0.01 or math.isinf(lease):
        msg = (
            f"lease must be between 0.01 and a finite number of seconds, got {lease!r}"
        )
        raise ValueError(msg)
    check_seconds("drain_timeout", drain_timeout, zero_ok=True, none_ok=False)
    check_count("max_deliveries", max_deliveries, 1)
    check_seconds("result_ttl", result_ttl, zero_ok=False, none_ok=False)
    check_codec(JsonCodec() if codec is None else codec)
    check_name("name", name, none_ok=True)
    signals = check_signals(shutdown_on)
    check_seconds("wait_for_redis", wait_for_redis, zero_ok=True)
    consumer = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    keys = QueueKeys(queue)
    async with open_client(url, keys, wait=wait_for_redis) as client:
        await _check_name_is_free(client, keys, consumer)
        await _announce(client, keys, consumer, url, concurrency)
        with anyio.CancelScope() as everything:
            state = WorkerState(
                client=client,
                keys=keys,
                scripts=Scripts.register(client, keys),
                codec=JsonCodec() if codec is None else codec,
                registry=registry,
                consumer=consumer,
                concurrency=concurrency,
                lease_ms=math.ceil(lease * 1000),
                max_deliveries=max_deliveries,
                result_ttl_ms=math.ceil(result_ttl * 1000),
                rng=random.Random(seed),
            )
            try:
                async with open_supervisor(
                    f"jobs {queue}",
                    on_event=partial(on_job_event, state),
                    # A job's failures are stored in its record, and logged below.
                    log_failures="never",
                ) as jobs:
                    state.jobs = jobs
                    worker = Worker(state, queue)
                    async with open_supervisor(
                        f"worker {queue}", restart_period=None
                    ) as parts:
                        for part_name, body in (
                            ("flusher", flusher),
                            ("renewer", renewer),
                            ("cancel listener", cancel_listener),
                            ("heartbeat", heartbeat),
                            ("fetcher", fetcher),
                        ):
                            # A part that fails (Redis dropped) is restarted with
                            # backoff; the supervisor logs each restart (WARNING).
                            parts.submit_nowait(
                                body,
                                state,
                                name=part_name,
                                restart=Restart.PERMANENT,
                                backoff=PART_BACKOFF,
                            )
                        with anyio.CancelScope() as body_scope:
                            if signals:
                                parts.submit_nowait(
                                    _on_signals,
                                    signals,
                                    worker,
                                    body_scope,
                                    everything,
                                    listening := anyio.Event(),
                                    name="signals",
                                )
                                # The block runs with its signals handled.
                                await listening.wait()
                            yield worker
                        await _drain(state, jobs, drain_timeout)
                        parts.cancel()
                    await _leave(state, at_once=False)
            except BaseException:
                # Stopped at once (a second signal, an error, a cancelled scope
                # around the block): the jobs were cancelled where they stood.
                await _leave(state, at_once=True)
                raise


async def _announce(
    client: coredis.Redis[bytes],
    keys: QueueKeys,
    consumer: str,
    url: str,
    concurrency: int,
) -> None:
    """Say which queue it serves, and warn when no job was ever enqueued there."""
    logger.info(
        "worker %s serves queue %r at %s (concurrency %d)",
        consumer,
        keys.queue,
        redact(url),
        concurrency,
    )
    if await queue_is_new(client, keys):
        others = [q for q in await queue_names(client) if q != keys.queue]
        logger.warning(
            "worker %s: queue %r has never had a job on this Redis (a typo?); "
            "queues here: %s",
            consumer,
            keys.queue,
            ", ".join(map(repr, others[:10])) or "none",
        )


async def _check_name_is_free(
    client: coredis.Redis[bytes], keys: QueueKeys, consumer: str
) -> None:
    """Two live workers under one name would share leases: refuse the second."""
    expires = await client.zscore(keys.workers, consumer)
    if expires is None:
        return
    if expires > await server_ms(client):  # the server's clock, as the heartbeat's
        msg = f"name {consumer!r} is used by a live worker of queue {keys.queue!r}"
        raise ValueError(msg)


async def _drain(state: WorkerState, jobs: Supervisor, drain_timeout: float) -> None:
    state.draining.set()
    await jobs.shutdown(grace=drain_timeout)
    with anyio.move_on_after(STORE_BOUND):
        await state.inflight.wait_empty()


async def _leave(state: WorkerState, *, at_once: bool) -> None:
    """Store the outcomes left (after a drain: what the drain stored not; stopped
    at once: the hand-backs of the jobs cancelled where they stood, so that other
    workers take them now rather than when their leases expire), then leave the
    group. Stopped at once it is shielded, since the worker is being cancelled,
    and bounded by HAND_BACK_BOUND; else by STORE_BOUND. What it cannot store in
    time is reclaimed after the lease, as after a kill."""
    bound = HAND_BACK_BOUND if at_once else STORE_BOUND
    state.stopped_at_once = at_once
    # Shielded when stopped at once, since the worker is being cancelled; bounded
    # by HAND_BACK_BOUND then (the deadline below).
    with anyio.CancelScope(shield=at_once) as scope:
        scope.deadline = anyio.current_time() + bound
        try:
            await store_waiting(state)
            await state.scripts.call("leave", state.consumer)
        except Exception as exc:  # Redis is down: the leases expire instead
            logger.warning(
                "worker %s: could not hand jobs back and leave: %s", state.consumer, exc
            )
    left = len(state.inflight.jobs)
    logger.log(
        logging.WARNING if at_once or left else logging.INFO,
        "worker %s: %s: %d jobs handed back (no attempt counted), %d left to be "
        "reclaimed when their lease expires (%g s)",
        state.consumer,
        "stopped at once" if at_once else "drained",
        state.handed_back,
        left,
        state.lease_ms / 1000,
    )
