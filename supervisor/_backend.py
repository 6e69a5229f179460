"""The few primitives the supervisor needs, native to the running event loop.

On trio the supervisor uses trio's own nurseries, cancel scopes and clock: anyio's
wrappers cost 2-3x per task there, and the submit -> run -> finish path is the
product's hot path. On asyncio it uses anyio's, which are native there. Both
expose the same shapes (``start_soon``, ``cancel_scope``, ``CancelScope(deadline=)``,
``cancelled_caught``), so the supervisor is written once against this table.
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING, Any, Protocol, final

import anyio
import anyio.from_thread
import anyio.lowlevel
import trio

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from contextlib import AbstractAsyncContextManager
    from types import TracebackType


class Scope(Protocol):
    """What the supervisor uses of a cancel scope (trio's or anyio's)."""

    deadline: float

    def cancel(self) -> None: ...

    @property
    def cancelled_caught(self) -> bool: ...

    def __enter__(self) -> Any: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None: ...


class Event(Protocol):
    """What the supervisor uses of an event (trio's or anyio's)."""

    def set(self) -> None: ...

    def is_set(self) -> bool: ...

    async def wait(self) -> Any: ...


class Nursery(Protocol):
    """What the supervisor uses of a nursery or task group."""

    @property
    def cancel_scope(self) -> Any: ...

    def start_soon(self, func: Any, *args: Any, name: object = None) -> None: ...

    async def start(self, func: Any, *args: Any, name: object = None) -> Any: ...


@final
class Backend:
    """The primitives of one event loop; one instance per library, shared."""

    __slots__ = (
        "CancelScope",
        "Event",
        "Lock",
        "cancel_shielded_checkpoint",
        "cancelled_exc",
        "checkpoint",
        "checkpoint_if_cancelled",
        "current_time",
        "effectively_cancelled",
        "name",
        "open_nursery",
        "run_from_thread",
        "sleep",
        "token",
    )

    def __init__(
        self,
        *,
        name: str,
        open_nursery: Callable[[], AbstractAsyncContextManager[Any]],
        CancelScope: Callable[..., Scope],
        Event: Callable[[], Event],
        Lock: Callable[[], Any],
        current_time: Callable[[], float],
        effectively_cancelled: Callable[[], bool],
        checkpoint: Callable[[], Awaitable[None]],
        checkpoint_if_cancelled: Callable[[], Awaitable[None]],
        cancel_shielded_checkpoint: Callable[[], Awaitable[None]],
        cancelled_exc: type[BaseException],
        token: Callable[[], object],
        run_from_thread: Callable[[Callable[[], Awaitable[Any]], object], Any],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.name = name
        self.open_nursery = open_nursery
        self.CancelScope = CancelScope
        self.Event = Event
        self.Lock = Lock
        self.current_time = current_time
        self.effectively_cancelled = effectively_cancelled
        self.checkpoint = checkpoint
        self.checkpoint_if_cancelled = checkpoint_if_cancelled
        self.cancel_shielded_checkpoint = cancel_shielded_checkpoint
        self.cancelled_exc = cancelled_exc
        self.token = token
        self.run_from_thread = run_from_thread
        self.sleep = sleep


def _trio_from_thread(fn: Callable[[], Awaitable[Any]], token: object) -> Any:
    assert isinstance(token, trio.lowlevel.TrioToken)
    return trio.from_thread.run(fn, trio_token=token)


def _anyio_from_thread(fn: Callable[[], Awaitable[Any]], token: object) -> Any:
    assert isinstance(token, anyio.lowlevel.EventLoopToken)
    return anyio.from_thread.run(fn, token=token)  # type: ignore[arg-type]  # any awaitable-returning callable is fine here


def _effectively_cancelled() -> bool:
    """Whether the current task is cancelled (a checkpoint would raise). On trio
    the supervisor reads trio's own flag on its runners' cancel status instead (see
    ``Shutdown._host``); this is asyncio's way, and trio's if the flag moved."""
    return anyio.current_effective_deadline() == NEG_INF


NEG_INF = -math.inf

TRIO = Backend(
    name="trio",
    open_nursery=trio.open_nursery,
    CancelScope=trio.CancelScope,
    Event=trio.Event,
    Lock=trio.Lock,
    current_time=trio.current_time,
    effectively_cancelled=_effectively_cancelled,
    checkpoint=trio.lowlevel.checkpoint,
    checkpoint_if_cancelled=trio.lowlevel.checkpoint_if_cancelled,
    cancel_shielded_checkpoint=trio.lowlevel.cancel_shielded_checkpoint,
    cancelled_exc=trio.Cancelled,
    token=trio.lowlevel.current_trio_token,
    run_from_thread=_trio_from_thread,
    sleep=trio.sleep,
)

ASYNCIO = Backend(
    name="asyncio",
    open_nursery=anyio.create_task_group,
    CancelScope=anyio.CancelScope,
    Event=anyio.Event,
    Lock=anyio.Lock,
    current_time=anyio.current_time,
    effectively_cancelled=_effectively_cancelled,
    checkpoint=anyio.lowlevel.checkpoint,
    checkpoint_if_cancelled=anyio.lowlevel.checkpoint_if_cancelled,
    cancel_shielded_checkpoint=anyio.lowlevel.cancel_shielded_checkpoint,
    cancelled_exc=asyncio.CancelledError,
    token=anyio.lowlevel.current_token,
    run_from_thread=_anyio_from_thread,
    sleep=anyio.sleep,
)


def current_clock() -> Callable[[], float]:
    """The running loop's clock, as a function that is cheap to call.

    On trio, ``trio.current_time()`` goes through three Python frames to reach the
    run's clock; the clock is fixed for the whole run, so its bound method is
    returned instead (MockClock included).
    """
    if trio.lowlevel.in_trio_run():
        return trio.lowlevel.current_clock().current_time
    return anyio.current_time


def current_backend() -> Backend:
    """The backend of the running event loop; RuntimeError outside of one."""
    if trio.lowlevel.in_trio_run():
        return TRIO
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        msg = "open_supervisor() must run inside trio.run or an asyncio event loop"
        raise RuntimeError(msg) from None
    return ASYNCIO
