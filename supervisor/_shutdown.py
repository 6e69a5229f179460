"""Shutdown: graceful (two phases) and immediate, the host task, auto shutdown.

Structure of one supervisor block::

    open_supervisor()                      # the async with
    └── nursery N ("outer")                # body of the block runs here, in its
        │                                  # own cancel scope
        ├── <body of the user's block>
        ├── host task (_host)              # owns nursery M for the whole block
        │   └── nursery M ("tasks")
        │       ├── runner(handle 1)       # one trio task per started attempt,
        │       ├── runner(handle 2)       # each in its own cancel scope
        │       └── group restarts
        └── shutdown drivers (shutdown() from a task of M, auto shutdown)

Cancelling M's scope stops every task without touching the user's body
(``sup.cancel()``). Cancelling the body's scope (auto shutdown, a stop request of
the task the block runs in) lets the block exit through a graceful shutdown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio

from ._children import Children
from ._logging import log_signal
from ._policy import Phase, Role, auto_shutdown_fires
from ._spec import Restart
from ._status import TaskStatus

if TYPE_CHECKING:
    import signal

    from ._handle import TaskHandle

_RUNNING = TaskStatus.RUNNING
_PENDING = TaskStatus.PENDING
_CANCELLED = TaskStatus.CANCELLED
_PERMANENT = Restart.PERMANENT
_STOPPING = Phase.STOPPING


def _one_or_group(
    eg: BaseExceptionGroup[BaseException], cancelled: type[BaseException]
) -> BaseException | None:
    """What should escape instead of a nursery's group ``eg``, or None to keep it.

    ``Cancelled`` is dropped (the cancel scope that asked for it catches it anyway);
    a single remaining exception escapes bare; several escape as a group of them.
    None means the group held only ``Cancelled``: re-raise it as it is.
    """
    _, rest = eg.split(cancelled)
    if rest is None:
        return None
    if len(rest.exceptions) == 1:
        return rest.exceptions[0]
    return rest


class Shutdown(Children):
    """How a supervisor stops, and the task that owns its tasks' nursery."""

    __slots__ = ()

    # -- immediate ------------------------------------------------------------------

    def _cancel_all(self) -> None:
        """Stop everything at once; sync and idempotent (see Supervisor.cancel)."""
        self._close()  # every step below is idempotent too
        self._phase = _STOPPING
        self._cancel_queue()
        if self._tasks is not None:
            self._tasks.cancel_scope.cancel()
        self._check_idle()

    def _cancel_queue(self) -> None:
        """End every task waiting for a slot CANCELLED (PENDING ones, and RESTARTING
        ones whose backoff is over); none of them starts."""
        now = self._clock()
        for h in self._take_queued():
            if h._status is not _PENDING:
                del self._restarting[h._id]
            self._record_end(h, _CANCELLED, now)

    # -- graceful --------------------------------------------------------------------

    def _cancel_one_shot(self) -> None:
        """Shutdown grace expired: cancel every task that is not PERMANENT."""
        self._cancel_queue()  # queued PERMANENT tasks never started: no order to keep
        for h in [*self._active.values(), *self._restarting.values()]:
            if h.restart is not _PERMANENT:
                h.cancel()

    async def _stop_permanent(self) -> None:
        """Second phase of a graceful shutdown: stop PERMANENT tasks one at a time,
        newest first, each by its shutdown policy and fully stopped (cleanup done)
        before the next."""
        self._phase = _STOPPING
        self._cancel_queue()
        permanent = self._permanent
        while permanent:
            h = permanent[next(reversed(permanent))]
            if h._status is _RUNNING:
                await self._stop_attempt(h, Role.SHUTTING_DOWN)
            if not h._status.is_terminal:  # waiting to restart: it never will
                h.cancel()
                await h.wait()

    async def _wait_idle(self) -> None:
        """Wait until only PERMANENT tasks are left (or the rest is stuck)."""
        if self._n_live == self._n_permanent_live or self._one_shot_work_is_stuck():
            return
        idle = self._idle
        if idle is None:
            idle = self._idle = self._backend.Event()
        await self._wait_reporting(idle, permanent=False)

    async def _drain(self, grace: float | None) -> None:
        """Graceful stop, in two phases.

        1. Close to new work and set the stop request of the running tasks that are
           not PERMANENT (advice only); let PENDING, RUNNING and RESTARTING tasks
           that are not PERMANENT finish, for at most ``grace`` seconds; then
           cancel them.
        2. Stop PERMANENT tasks one at a time, newest first (see _stop_permanent).

        Returns without waiting for the cleanup of tasks cancelled in phase 1.
        Cancelling a drain cancels the supervisor at once (``self._cancel_all()``) and
        re-raises: a cancelled shutdown is an immediate one, never a hang.
        """
        self._close()
        try:
            for h in list(self._active.values()):
                extra = h._extra
                # (A plain task is asked by the phase: see _handle.extra_of.)
                if (
                    h._status is _RUNNING
                    and extra is not None
                    and extra.restart is not _PERMANENT
                ):
                    self._request_stop(h)
            if grace is None:
                await self._wait_idle()
            else:
                with self._backend.CancelScope(deadline=self._clock() + grace):
                    await self._wait_idle()
            if self._n_live != self._n_permanent_live:
                # Grace expired, or what is left can never get a slot before the
                # PERMANENT tasks are stopped.
                self._cancel_one_shot()
            if self._phase is not _STOPPING:  # the first drain here runs phase 2
                await self._stop_permanent()
                self._stop.set()
        except BaseException:
            # Broad on purpose: whatever interrupts the drain (Cancelled from a scope
            # around it, KeyboardInterrupt) turns it into an immediate stop, then
            # propagates.
            self._cancel_all()
            raise

    def _own_task(self) -> bool:
        """Whether the calling task runs inside this supervisor's task nursery."""
        host = self._host_task_id
        assert host is not None  # set before open_supervisor() gives out the supervisor
        parents = {task.id: task.parent_id for task in anyio.get_running_tasks()}
        task_id: int | None = anyio.get_current_task().id
        while task_id is not None:
            task_id = parents.get(task_id)
            if task_id == host:
                return True
        return False

    async def _shutdown(self, grace: float | None) -> None:
        if self._done.is_set():
            await self._backend.checkpoint()
            return
        if self._own_task():
            self._drain_soon(grace)
            await self._backend.checkpoint()
            return
        await self._drain(grace)
        await self._wait_done()

    def _drain_soon(self, grace: float | None) -> None:
        """Start a graceful shutdown in its own task (a task cannot wait for its
        own end)."""
        assert self._outer is not None
        self._close()
        self._outer.start_soon(self._drain, grace)

    async def _wait_done(self) -> None:
        try:
            await self._done.wait()
        except BaseException:
            # Broad on purpose: giving up on the wait (cancelled) must still leave no
            # task running unnoticed; the tasks' cleanup goes on under the block.
            self._cancel_all()
            raise

    # -- shutting down from inside ----------------------------------------------------

    def _significant_ended(self) -> None:
        if self._phase is not Phase.OPEN:
            return  # shutting down already (it may have honoured the shutdown's advice)
        if auto_shutdown_fires(self._auto_shutdown, self._n_significant_live):
            self._stop_from_inside()

    def _stop_from_inside(self) -> None:
        """Start a graceful shutdown and cancel the block's body: the block exits
        without an exception (auto shutdown; a stop request of the task that the
        block runs in)."""
        if self._done.is_set():
            return
        if self._outer is None:
            self._close()  # not open yet: the block starts by stopping
        elif self._phase is not _STOPPING:
            self._drain_soon(self._shutdown_grace)
        scope = self._body_scope
        if scope is not None:
            scope.cancel()

    # -- the host task -------------------------------------------------------------------

    async def _host(self, *, task_status: Any) -> None:
        """Own nursery M, where every task runs, until the supervisor stops.

        Exception-group policy: runners re-raise only non-Exception BaseExceptions
        (KeyboardInterrupt, SystemExit); M's group of those (minus Cancelled) escapes
        as one bare exception when there is one, else as a group of them.
        """
        raise_this: BaseException | None = None
        try:
            async with self._backend.open_nursery() as tasks:
                self._tasks = tasks
                # trio's cancel status of the runners while they are in no scope of
                # their own: _run_plain and _release_slot read its flag (None: ask
                # the backend).
                self._runners_cancel_status = (
                    getattr(tasks, "_cancel_status", None) if self._trio else None
                )
                self._host_task_id = anyio.get_current_task().id
                task_status.started()
                await self._stop.wait()
        except self._backend.cancelled_exc:
            if self._giving_up is None:
                raise
            # Swallowed on purpose: this task is cancelled (the block's body raised,
            # or a scope around the block was cancelled) just as the supervisor gave
            # up, and the RestartIntensityExceeded raised below must not be lost
            # with the Cancelled. Bounded: this task ends right here.
        except BaseExceptionGroup as eg:
            raise_this = _one_or_group(eg, self._backend.cancelled_exc)
            if raise_this is None and self._giving_up is None:
                raise
        finally:
            self._finalize()
        if raise_this is not None:
            raise raise_this  # outside the except: keeps the exception's own context
        if self._giving_up is not None:
            raise self._giving_up

    async def _on_signals(
        self, signals: tuple[signal.Signals, ...], *, task_status: Any
    ) -> None:
        """shutdown_on: the first signal shuts down gracefully and cancels the
        block's body; a second one cancels everything. Ends with the supervisor."""
        with self._backend.CancelScope() as scope:
            self._signal_scope = scope
            with anyio.open_signal_receiver(*signals) as received:
                task_status.started()
                count = 0
                async for sig in received:
                    count += 1
                    log_signal(self._name, sig.name, count == 1)
                    if count == 1:
                        self._stop_from_inside()
                    else:
                        self._cancel_all()
                        return

    def _finalize(self) -> None:
        """Nursery M has exited: every runner is done. Record whatever is left."""
        if self._signal_scope is not None:
            self._signal_scope.cancel()  # signals no longer stop anything
        self._close()
        self._phase = _STOPPING
        self._cancel_queue()
        now = self._clock()
        # Runners always record their task before exiting; nothing remains here
        # unless M never ran them (the run itself is being torn down).
        left: list[TaskHandle[Any]] = [
            *self._active.values(),
            *self._restarting.values(),
        ]
        for h in left:
            if not h._status.is_terminal:
                self._active.pop(h._id, None)
                self._restarting.pop(h._id, None)
                self._record_end(h, _CANCELLED, now)
        self._active.clear()
        self._restarting.clear()
        self._n_slots = 0
        self._room.wake_all()
        self._done.set()
        for subscriber in self._subscribers:
            subscriber._end()
        if self._idle is not None:
            self._idle.set()
