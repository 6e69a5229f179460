"""Subscriptions to a supervisor's stream of :class:`TaskEvent`."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, final

from ._util import NoPublicConstructor

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType
    from typing import Self

    from ._backend import Backend, Event
    from ._status import TaskEvent


@final
class EventSubscription(metaclass=NoPublicConstructor):
    """An async iterator of the :class:`TaskEvent` s emitted since it was opened.

    Made by ``async with sup.subscribe(max_buffer=...) as events``. The supervisor
    never waits for a subscriber: past ``max_buffer`` undelivered events, the oldest
    is dropped and counted in :attr:`lost`. Iteration ends once the supervisor's block
    has exited (every task terminal) and every buffered event was delivered.
    """

    __slots__ = ("_backend", "_buffer", "_ended", "_lost", "_unsubscribe", "_wakeup")

    def __init__(self, backend: Backend, max_buffer: int, *, ended: bool) -> None:
        self._backend = backend
        self._buffer: deque[TaskEvent] = deque(maxlen=max_buffer)
        self._lost = 0
        self._ended = ended
        self._wakeup: Event | None = None
        # Set by the supervisor while it delivers to this subscription.
        self._unsubscribe: Callable[[EventSubscription], None] | None = None

    @property
    def lost(self) -> int:
        """How many events were dropped because the buffer was full."""
        return self._lost

    @property
    def max_buffer(self) -> int:
        maxlen = self._buffer.maxlen
        assert maxlen is not None
        return maxlen

    # Called by the supervisor, synchronously, from whatever task changed a status.
    def _push(self, event: TaskEvent) -> None:
        buffer = self._buffer
        if len(buffer) == buffer.maxlen:
            self._lost += 1  # the append below drops the oldest
        buffer.append(event)
        self._wake()

    def _end(self) -> None:
        self._ended = True
        self._wake()

    def _wake(self) -> None:
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            wakeup.set()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> TaskEvent:
        """The next event; a checkpoint. Cancelling it loses no event."""
        buffer = self._buffer
        if buffer:
            await self._backend.checkpoint()
        while not buffer:
            if self._ended:
                raise StopAsyncIteration
            wakeup = self._wakeup
            if wakeup is None:
                wakeup = self._wakeup = self._backend.Event()
            await wakeup.wait()
        return buffer.popleft()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        unsubscribe = self._unsubscribe
        if unsubscribe is not None:
            unsubscribe(self)
        self._end()

    def __repr__(self) -> str:
        return (
            f"<supervisor.EventSubscription {len(self._buffer)} buffered, "
            f"{self._lost} lost>"
        )
