"""Admission: capacity slots, the PENDING and restart queues, and backpressure.

PENDING tasks waiting for capacity are entries of a deque, not trio tasks: when a
runner finishes it hands its slot straight to the next entry. Tasks waiting to
restart are served before PENDING ones: they were admitted first.
"""

from __future__ import annotations

import contextvars
import functools
from collections import deque
from typing import TYPE_CHECKING, Any, Final

from ._arguments import NO_WAIT, default_name
from ._errors import SupervisorClosed
from ._handle import Extra, TaskHandle, TaskStarter
from ._ledger import Ledger
from ._policy import Phase
from ._spec import Restart
from ._status import TaskEvent, TaskStatus

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ._spec import Backoff

_PENDING = TaskStatus.PENDING
_TEMPORARY = Restart.TEMPORARY
_PERMANENT = Restart.PERMANENT
_OPEN = Phase.OPEN
_CLOSED = Phase.CLOSED
_STOPPING = Phase.STOPPING
#: The trio task name of a pooled runner (it runs many tasks).
_RUNNER_NAME: Final = "supervisor runner"

# TaskHandle._create without the extra Python frame of the metaclass method: one
# handle is built per submission.
_new_handle: Callable[..., TaskHandle[Any]] = functools.partial(
    type.__call__, TaskHandle
)


class Admission(Ledger):
    """Who may run now, who waits, and the submitters waiting for room."""

    __slots__ = ()

    def _close(self) -> None:
        """Close to new work (blocked submitters raise SupervisorClosed)."""
        if self._phase is _OPEN:
            self._phase = _CLOSED
            self._room.wake_all()

    def _closed_error(self) -> SupervisorClosed:
        state = "has exited" if self._done.is_set() else "is shutting down"
        return SupervisorClosed(
            f"supervisor {self._name!r} {state}; no new tasks accepted"
        )

    def _has_room(self) -> bool:
        limit = self._max_concurrent
        if limit is None or self._n_slots < limit:
            return True
        max_pending = self._max_pending
        return max_pending is None or self._n_queued < max_pending

    def _accept(
        self,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        name: str | None,
        timeout: float | None,
        restart: Restart,
        max_attempts: int | None,
        backoff: Backoff | None,
        shutdown: float | None,
        significant: bool,
        *,
        start: bool = False,
    ) -> TaskHandle[Any]:
        """Create the handle and start it or queue it; the caller checked for room."""
        now = self._clock()
        self._next_id += 1
        h = _new_handle(
            self,
            self._next_id,
            fn,
            args,
            default_name(fn) if name is None else name,
            timeout,
            now,
        )
        self._submitted += 1
        self._n_live += 1
        if (
            restart is not _TEMPORARY
            or self._children is not None
            or start
            or max_attempts is not None
            or backoff is not None
            or shutdown is not NO_WAIT
            or significant
        ):
            extra = h._extra = Extra(
                restart, max_attempts, backoff, shutdown, significant
            )
            if start:
                extra.starter = TaskStarter(h)  # marks a start_child child
            if restart is not _TEMPORARY:
                h._context = contextvars.copy_context()  # every attempt starts from it
                if restart is _PERMANENT:
                    self._n_permanent_live += 1
            if significant:
                self._n_significant_live += 1
        limit = self._max_concurrent
        if limit is None or self._n_slots < limit:
            self._n_slots += 1
            self._active[h._id] = h
            if self._emitting:
                self._emit(TaskEvent(h._id, h._name, None, _PENDING, now, 0))
            assert self._tasks is not None
            if self._pooled:
                if h._context is None:
                    h._context = contextvars.copy_context()
                self._tasks.start_soon(self._runner, h, name=_RUNNER_NAME)
            else:
                # Started from the submitter's task: trio copies the submitter's
                # context into the new task, as nursery.start_soon always does.
                self._tasks.start_soon(
                    self._run
                    if h._extra is not None or not self._trio
                    else self._run_plain,
                    h,
                    name=h._name,
                )
        else:
            self._enqueue(h, now)
        return h

    def _accept_plain(
        self, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]
    ) -> TaskHandle[Any]:
        """``_accept`` of a plain async function with every option left alone: the
        hot path of ``submit_nowait``, without the options' branches."""
        if self._children is not None or self._pooled or not self._trio:
            return self._accept(
                fn, args, None, None, _TEMPORARY, None, None, NO_WAIT, False
            )
        now = self._clock()
        self._next_id += 1
        task_id = self._next_id
        h = _new_handle(self, task_id, fn, args, fn.__qualname__, None, now)
        self._submitted += 1
        self._n_live += 1
        limit = self._max_concurrent
        if limit is not None and self._n_slots >= limit:
            self._enqueue(h, now)
            return h
        self._n_slots += 1
        self._active[task_id] = h
        if self._emitting:
            self._emit(TaskEvent(task_id, h._name, None, _PENDING, now, 0))
        assert self._tasks is not None
        # trio copies the submitter's context into the new task, as start_soon does.
        self._tasks.start_soon(self._run_plain, h, name=h._name)
        return h

    def _enqueue(self, h: TaskHandle[Any], now: float) -> None:
        """No slot is free: ``h`` waits in the queue, PENDING, with its context."""
        if h._context is None:
            h._context = contextvars.copy_context()
        h._queued = True
        self._queue.append(h)
        self._n_queued += 1
        if self._emitting:
            self._emit(TaskEvent(h._id, h._name, None, _PENDING, now, 0))

    async def _wait_for_room(self) -> None:
        """Backpressure: return once a new task may be accepted (FIFO with other
        waiters). Raises SupervisorClosed once closed. Cancellable; accepts nothing."""
        await self._backend.checkpoint_if_cancelled()
        while True:
            if self._phase is not _OPEN:
                raise self._closed_error()
            if self._has_room():
                return
            await self._room.wait()

    def _release_slot(self) -> None:
        """A runner is done with its slot: hand it to the oldest waiting task, or free it.

        Tasks waiting to restart go before PENDING ones: they were admitted first.
        """
        # A runner cancelled from outside (a scope around the block) frees its slot
        # instead of handing it on: the next task would only see the cancel at its
        # first step, and so on down the queue; the supervisor's own cancel ends
        # them all at once. Every caller is a runner out of its attempt's scope, so
        # its cancel status is the runners' (trio's flag, read without walking
        # every scope); on asyncio the backend asks.
        status = self._runners_cancel_status
        if (
            (self._queue or self._restart_queue)
            and self._phase is not _STOPPING
            and not (
                status.effectively_cancelled
                if status is not None
                else self._backend.effectively_cancelled()
            )
        ):
            restart_queue = self._restart_queue
            while restart_queue:
                h = restart_queue.popleft()
                if h._queued:  # else cancelled while it waited
                    h._queued = False
                    self._start_attempt(h)
                    return
            queue = self._queue
            while queue:
                h = queue.popleft()
                if h._queued:  # else cancelled while it waited
                    h._queued = False
                    self._n_queued -= 1
                    self._start_attempt(h)
                    self._room.wake_one()
                    return
        self._n_slots -= 1
        if self._room.events:
            # A free slot is room too (with max_pending=0 it is the only room).
            # Guarded by test_cancelled_submit_submits_nothing.
            self._room.wake_one()

    def _restart_when_slot_free(self, h: TaskHandle[Any]) -> None:
        """Start ``h``'s next attempt now if a slot is free, else queue it first in
        line (ahead of PENDING tasks)."""
        limit = self._max_concurrent
        if limit is None or self._n_slots < limit:
            self._n_slots += 1
            self._start_attempt(h)
        else:
            h._queued = True
            self._restart_queue.append(h)

    def _start_attempt(self, h: TaskHandle[Any]) -> None:
        """Spawn the runner of ``h``'s next attempt; ``h`` already holds a slot."""
        self._active[h._id] = h
        if self._idle is not None and h._extra is not None:
            # Draining: a slot given to a PERMANENT task may leave the rest stuck.
            self._check_idle()
        assert self._tasks is not None
        if self._pooled:
            # The attempt runs in a copy of h._context that _run takes.
            if self._handoff_open:  # a runner is finishing: it runs this one next
                self._handoff_open = False
                self._handoff = h
            else:
                self._tasks.start_soon(self._runner, h, name=_RUNNER_NAME)
            return
        context = h._context
        assert context is not None
        if h._extra is None or h._extra.restart is _TEMPORARY:
            h._context = None
        # Start it in the submitter's context (copied at submission); start_soon
        # copies it once more, so each attempt owns a fresh copy.
        plain = h._extra is None and self._trio
        context.run(
            self._tasks.start_soon,
            self._run_plain if plain else self._run,
            h,
            name=h._name,
        )

    def _unqueue(self, h: TaskHandle[Any]) -> None:
        """Take queued ``h`` out of line (its entry stays behind, to be skipped)."""
        h._queued = False
        if h._status is _PENDING:
            h._context = None
            self._n_queued -= 1
            queue = self._queue
            if len(queue) > 2 * self._n_queued + 64:
                # Dead entries outnumber live ones: compact, so cancelled tasks
                # never make the queue grow without bound.
                self._queue = deque(q for q in queue if q._queued)
            self._room.wake_one()

    def _take_queued(self) -> list[TaskHandle[Any]]:
        """Empty both queues; return the tasks that were still waiting in them."""
        waiting = [h for h in (*self._restart_queue, *self._queue) if h._queued]
        self._queue = deque()
        self._restart_queue = deque()
        self._n_queued = 0
        for h in waiting:
            h._queued = False
            h._context = None
        return waiting
