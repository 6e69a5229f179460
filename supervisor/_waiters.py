"""A FIFO waiting room: backpressure for submitters and actor senders."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, final

if TYPE_CHECKING:
    from ._backend import Backend, Event


@final
class Waiters:
    """Tasks waiting, in arrival order, for room in the queue.

    ``wake_one`` wakes the oldest. A waiter that is cancelled after being woken
    passes the wake-up on, so no wake-up is ever lost.
    """

    __slots__ = ("_backend", "events")

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        # The waiters' events, oldest first (truthy when someone waits: a hot
        # path reads it directly).
        self.events: deque[Event] = deque()

    async def wait(self) -> None:
        event = self._backend.Event()
        self.events.append(event)
        try:
            await event.wait()
        except BaseException:
            # Broad on purpose: cancellation (or anything else) of this waiter must
            # not swallow a wake-up meant for the queue; re-raised right below.
            if event.is_set():
                self.wake_one()
            else:
                self.events.remove(event)
            raise

    def wake_one(self) -> None:
        if self.events:
            self.events.popleft().set()

    def wake_all(self) -> None:
        events, self.events = self.events, deque()
        for event in events:
            event.set()
