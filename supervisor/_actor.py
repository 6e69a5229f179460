"""Actors: supervised children that handle messages from a bounded mailbox.

An actor is a ``start_child`` child of a supervisor. Its function builds an
instance from the factory, runs ``on_start``, then handles one message at a time.
The mailbox belongs to the :class:`ActorRef`, not to the instance: when a handler
raises, the actor crashes and (by its restart policy) a fresh instance carries on
with the messages queued behind the crashing one, in order. The caller of the
crashing message gets :class:`ActorCrashed`; callers still queued when the actor
stops for good get :class:`ActorStopped`. No caller waits forever.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, Any, Generic, TypeVar, final

import attrs

from ._checks import check_name, check_seconds
from ._errors import ActorCrashed, ActorStopped, MailboxFull
from ._util import NoPublicConstructor
from ._waiters import Waiters

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._backend import Backend, Event
    from ._handle import TaskHandle

MsgT = TypeVar("MsgT")
ReplyT = TypeVar("ReplyT")


class Actor(Generic[MsgT, ReplyT]):
    """Base class of actors. Override :meth:`handle`; the other hooks are optional.

    One instance handles messages one at a time; a restart builds a new instance
    through the factory given to ``spawn_actor``, so state starts afresh.
    """

    async def on_start(self) -> None:
        """Runs before the first message. Raising here fails this start."""

    async def handle(self, message: MsgT) -> ReplyT:
        """Handle one message; the return value is the reply to ``call``."""
        raise NotImplementedError

    async def on_stop(self, reason: BaseException | None) -> None:
        """Runs on every stop (crash, cancellation, shutdown), shielded and bounded
        by ``stop_timeout``; ``reason`` is what stopped it: the handler's exception,
        or the cancellation of a stop."""


@final
class _Reply:
    """Where a ``call`` waits for its answer. An answer that comes after the caller
    gave up is set all the same, and never read."""

    __slots__ = ("error", "event", "value")

    def __init__(self, event: Event) -> None:
        self.event = event
        self.value: object = None
        self.error: BaseException | None = None

    def set(self, value: object) -> None:
        if not self.event.is_set():
            self.value = value
            self.event.set()

    def fail(self, error: BaseException) -> None:
        if not self.event.is_set():
            self.error = error
            self.event.set()


@attrs.frozen
class ActorStatistics:
    """A snapshot of one actor, from :meth:`ActorRef.statistics`."""

    name: str
    mailbox_depth: int
    mailbox_size: int
    processed: int
    failed: int
    restarts: int
    stopped: bool


@final
class ActorRef(Generic[MsgT, ReplyT], metaclass=NoPublicConstructor):
    """The address of an actor; valid across its restarts. Compared by identity."""

    __slots__ = (
        "_backend",
        "_closed",
        "_failed",
        "_handle",
        "_mailbox",
        "_name",
        "_processed",
        "_ready",
        "_room",
        "_size",
        "_wakeup",
    )

    def __init__(self, name: str, size: int, backend: Backend) -> None:
        self._name = name
        self._size = size
        self._backend = backend
        self._mailbox: deque[tuple[object, _Reply | None]] = deque()
        self._room = Waiters(backend)
        self._wakeup: Event | None = None
        self._closed = False
        self._processed = 0
        self._failed = 0
        self._handle: TaskHandle[Any] | None = None
        self._ready = False  # on_start succeeded once: health() reports it

    @property
    def name(self) -> str:
        return self._name

    @property
    def handle(self) -> TaskHandle[Any]:
        """The supervised task running this actor."""
        assert self._handle is not None
        return self._handle

    # -- the sending side ------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            msg = f"actor {self._name!r} has stopped"
            raise ActorStopped(msg)

    def _put(self, message: object, reply: _Reply | None) -> None:
        self._mailbox.append((message, reply))
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            wakeup.set()

    async def _wait_for_room(self) -> None:
        await self._backend.checkpoint_if_cancelled()
        while True:
            self._check_open()
            if len(self._mailbox) < self._size:
                return
            await self._room.wait()

    def send_nowait(self, message: MsgT) -> None:
        """Queue ``message`` without waiting.

        Raises:
            MailboxFull: ``mailbox_size`` messages already wait.
            ActorStopped: the actor has stopped for good.
        """
        self._check_open()
        if len(self._mailbox) >= self._size:
            msg = f"actor {self._name!r}: mailbox full ({self._size} messages)"
            raise MailboxFull(msg)
        self._put(message, None)

    async def send(self, message: MsgT) -> None:
        """Queue ``message``, waiting for room in the mailbox (FIFO with other
        senders). A checkpoint; if cancelled, nothing was sent.

        Raises:
            ActorStopped: the actor has stopped for good.
        """
        await self._wait_for_room()
        self._put(message, None)
        await self._backend.cancel_shielded_checkpoint()

    async def call(self, message: MsgT, *, timeout: float | None = None) -> ReplyT:  # noqa: ASYNC109 - documented per-call deadline, as trio.fail_after would give
        """Send ``message`` and wait for the handler's return value.

        Raises:
            ActorCrashed: the handler raised (``__cause__``: its exception); the
                actor restarts by its policy.
            ActorStopped: the actor stopped for good before answering.
            TimeoutError: no answer within ``timeout`` seconds; the late answer is
                dropped and the actor is unharmed.

        A checkpoint. If cancelled after sending, the message is still handled and
        its answer dropped.
        """
        check_seconds("timeout", timeout, zero_ok=False)
        deadline = (
            math.inf if timeout is None else self._backend.current_time() + timeout
        )
        with self._backend.CancelScope(deadline=deadline) as scope:
            await self._wait_for_room()
            reply = _Reply(self._backend.Event())
            self._put(message, reply)
            await reply.event.wait()
        if scope.cancelled_caught:
            msg = f"actor {self._name!r} did not answer within {timeout!r} seconds"
            raise TimeoutError(msg)
        if reply.error is not None:
            raise reply.error
        return reply.value  # type: ignore[return-value]  # the handler's ReplyT

    def statistics(self) -> ActorStatistics:
        handle = self._handle
        assert handle is not None  # set in the step that makes the ref
        return ActorStatistics(
            name=self._name,
            mailbox_depth=len(self._mailbox),
            mailbox_size=self._size,
            processed=self._processed,
            failed=self._failed,
            restarts=max(0, handle.attempts - 1),
            stopped=self._closed,
        )

    # -- the receiving side (the actor's own task) -------------------------------

    async def _receive(self) -> tuple[object, _Reply | None]:
        mailbox = self._mailbox
        while not mailbox:
            # Only the actor's task receives, so one event at a time is enough.
            wakeup = self._wakeup = self._backend.Event()
            await wakeup.wait()
        return mailbox[0]

    def _done_with_first(self) -> None:
        self._mailbox.popleft()
        self._room.wake_one()

    def _close(self) -> None:
        """The actor stopped for good: every caller still waiting is told."""
        self._closed = True
        while self._mailbox:
            _, reply = self._mailbox.popleft()
            if reply is not None:
                msg = f"actor {self._name!r} stopped before handling the message"
                reply.fail(ActorStopped(msg))
        self._room.wake_all()

    def __repr__(self) -> str:
        return f"<supervisor.ActorRef {self._name!r} {len(self._mailbox)}/{self._size}>"


async def actor_main(
    ref: ActorRef[Any, Any],
    factory: Callable[..., Actor[Any, Any]],
    args: tuple[Any, ...],
    stop_timeout: float,
    *,
    task_status: Any,
) -> None:
    """The supervised function of an actor: one instance, until it stops."""
    backend = ref._backend
    made: object = factory(*args)  # typed, but users' factories are not checked
    if not isinstance(made, Actor):
        # Before on_start: an instance that is no Actor has no on_stop to run.
        msg = f"spawn_actor() factory {factory!r} must make an Actor, it made {made!r}"
        raise TypeError(msg)
    instance: Actor[Any, Any] = made
    try:
        await instance.on_start()
        ref._ready = True
        task_status.started()
        while True:
            # An accepted message is always handled, even if its caller gave up
            # meanwhile (then only the answer is dropped).
            message, reply = await ref._receive()
            try:
                value = await instance.handle(message)
            except Exception as exc:
                ref._failed += 1
                ref._done_with_first()
                if reply is not None:
                    msg = f"actor {ref._name!r} crashed handling {message!r}"
                    error = ActorCrashed(msg)
                    error.__cause__ = exc
                    reply.fail(error)
                raise  # the actor crashes; its restart policy decides what follows
            ref._processed += 1
            ref._done_with_first()
            if reply is not None:
                reply.set(value)
    except BaseException as exc:
        # Broad on purpose: the loop above ends only by an exception, and on_stop
        # runs on every stop and learns why, whatever it was; re-raised right after.
        # Shielded so that on_stop runs even when the stop is a cancellation, and
        # bounded by stop_timeout so a stuck on_stop cannot hang shutdown.
        with backend.CancelScope(
            shield=True, deadline=backend.current_time() + stop_timeout
        ):
            await instance.on_stop(exc)
        raise


def check_actor_options(
    name: object, mailbox_size: object, factory: object, stop_timeout: object
) -> None:
    check_name("name", name, none_ok=False)
    if isinstance(mailbox_size, bool) or not isinstance(mailbox_size, int):
        msg = f"mailbox_size must be an int, got {mailbox_size!r}"
        raise TypeError(msg)
    if mailbox_size < 1:
        msg = f"mailbox_size must be >= 1, got {mailbox_size!r}"
        raise ValueError(msg)
    if not callable(factory):
        msg = f"factory must be callable, got {factory!r}"
        raise TypeError(msg)
    if isinstance(factory, type) and not issubclass(factory, Actor):
        msg = f"factory must make an Actor: {factory!r} is not an Actor subclass"
        raise TypeError(msg)
    check_seconds("stop_timeout", stop_timeout, zero_ok=True, none_ok=False)
