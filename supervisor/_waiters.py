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

    __slots__ = ("_backend", "_events")

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._events: deque[Event] = deque()

    def __bool__(self) -> bool:
        return bool(self._events)

    async def wait(self) -> None:
        event = self._backend.Event()
        self._events.append(event)
        try:
            await event.wait()
        except BaseException:
            # Broad on purpose: cancellation (or anything else) of this waiter must
            # not swallow a wake-up meant for the queue; re-raised right below.
            if event.is_set():
                self.wake_one()
            else:
                self._events.remove(event)
            raise

    def wake_one(self) -> None:
        if self._events:
            self._events.popleft().set()

    def wake_all(self) -> None:
        events, self._events = self._events, deque()
        for event in events:
            event.set()
