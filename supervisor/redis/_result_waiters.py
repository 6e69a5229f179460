"""Waking the callers of ``JobHandle.result()`` when a job ends, from any process.

The outcome script publishes on the job's own channel (``...done:<id>``), so a
publish with no one waiting costs the server nothing. Messages can be lost while
the subscription reconnects, so a waiter also reads the job's status again every
``POLL`` seconds.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final

import anyio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import coredis
    from anyio.abc import TaskGroup
    from coredis.patterns.pubsub import PubSub

    from ._keys import QueueKeys

POLL: Final = 1.0


class ResultWaiters:
    """One subscription per queue object, started on first use, shared by every
    waiting ``result()`` call."""

    def __init__(
        self, client: coredis.Redis[bytes], keys: QueueKeys, task_group: TaskGroup
    ) -> None:
        self._client = client
        self._keys = keys
        self._task_group = task_group
        self._pubsub: PubSub[bytes] | None = None
        self._starting = anyio.Lock()
        self._events: dict[bytes, list[anyio.Event]] = {}

    async def _run(
        self,
        *,
        task_status: anyio.abc.TaskStatus[PubSub[bytes]] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        async with self._client.pubsub(ignore_subscribe_messages=True) as pubsub:
            task_status.started(pubsub)
            while True:  # not `async for`: it ends while nothing is subscribed
                message = await pubsub.get_message()
                if message is None or message["type"] != "message":
                    continue
                channel = message["channel"]
                if isinstance(channel, str):
                    channel = channel.encode()
                for event in self._events.get(channel, ()):
                    event.set()

    async def _subscription(self) -> PubSub[bytes]:
        async with self._starting:
            if self._pubsub is None:
                self._pubsub = await self._task_group.start(self._run)
        return self._pubsub

    @asynccontextmanager
    async def watch(self, job_id: str) -> AsyncIterator[anyio.Event]:
        """An event set when the job's end is published, from now on."""
        pubsub = await self._subscription()
        channel = self._keys.done_channel(job_id).encode()
        event = anyio.Event()
        waiting = self._events.setdefault(channel, [])
        waiting.append(event)
        try:
            if len(waiting) == 1:
                await pubsub.subscribe(channel)
            yield event
        finally:
            waiting.remove(event)
            if not waiting:
                del self._events[channel]
                # Bounded and shielded: an unsubscribe must not be skipped because
                # the waiter was cancelled, or the subscription would grow.
                with anyio.move_on_after(5, shield=True):
                    await pubsub.unsubscribe(channel)

    @staticmethod
    async def wait(event: anyio.Event) -> None:
        with anyio.move_on_after(POLL):
            await event.wait()
