"""The block and its shutdown: graceful (two phases) and immediate, the host task,
auto shutdown, signals.

Structure of one supervisor block::

    open_supervisor()                      # the async with
    └── nursery N ("outer")                # body of the block runs here, in its
        │                                  # own cancel scope
        ├── <body of the user's block>
        ├── host task (Block.host)         # owns nursery M for the whole block
        │   └── nursery M ("tasks")
        │       ├── runner(handle 1)       # one trio task per started attempt,
        │       ├── runner(handle 2)       # each in its own cancel scope
        │       └── group restarts
        └── shutdown drivers (shutdown() from a task of M, auto shutdown)

Cancelling M's scope stops every task without touching the user's body
(``sup.cancel()``, the runtime's ``cancel_all``). Cancelling the body's scope
(auto shutdown, a stop request of the task the block runs in) lets the block exit
through a graceful shutdown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio

from ._logging import log_signal
from ._policy import Phase, Role
from ._spec import Restart
from ._status import TaskStatus
from ._stopping import stop_attempt, wait_reporting

if TYPE_CHECKING:
    import signal

    from ._backend import Nursery
    from ._core import Core
    from ._handle import TaskHandle

_RUNNING = TaskStatus.RUNNING
_PERMANENT = Restart.PERMANENT
_STOPPING = Phase.STOPPING


def one_or_group(
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


class Block:
    """The ``async with`` block of one supervisor: its nurseries and scopes, and
    how it stops."""

    __slots__ = ("body_scope", "core", "host_task_id", "outer", "signal_scope", "stop")

    def __init__(self, core: Core) -> None:
        self.core = core
        self.outer: Nursery | None = None  # nursery N
        self.host_task_id: int | None = None
        #: The scope around the block's body: auto shutdown and a stop request of
        #: the task the block runs in cancel it.
        self.body_scope: Any = None
        self.stop = core.backend.Event()  # lets nursery M close once drained
        #: The scope of the task that listens for shutdown_on signals, if any.
        self.signal_scope: Any = None

    def opened(self, outer: Nursery) -> None:
        self.outer = outer

    def body(self, scope: Any) -> None:
        """The body runs in ``scope`` (None: it has ended)."""
        self.body_scope = scope

    # -- graceful --------------------------------------------------------------------

    async def drain(self, grace: float | None) -> None:
        """Graceful stop, in two phases.

        1. Close to new work and set the stop request of the running tasks that are
           not PERMANENT (advice only); let PENDING, RUNNING and RESTARTING tasks
           that are not PERMANENT finish, for at most ``grace`` seconds; then
           cancel them.
        2. Stop PERMANENT tasks one at a time, newest first (see _stop_permanent).

        Returns without waiting for the cleanup of tasks cancelled in phase 1.
        Cancelling a drain cancels the supervisor at once (``cancel_all``) and
        re-raises: a cancelled shutdown is an immediate one, never a hang.
        """
        core = self.core
        table = core.table
        core.close()
        try:
            for h in list(table.active.values()):
                extra = h._extra
                # (A plain task is asked by the phase: see _handle.extra_of.)
                if (
                    h._status is _RUNNING
                    and extra is not None
                    and extra.restart is not _PERMANENT
                ):
                    extra.request_stop()
            if grace is None:
                await self._wait_idle()
            else:
                with core.backend.CancelScope(deadline=core.clock() + grace):
                    await self._wait_idle()
            if table.n_live != table.n_permanent_live:
                # Grace expired, or what is left can never get a slot before the
                # PERMANENT tasks are stopped.
                self._cancel_one_shot()
            if core.phase is not _STOPPING:  # the first drain here runs phase 2
                await self._stop_permanent()
                self.stop.set()
        except BaseException:
            # Broad on purpose: whatever interrupts the drain (Cancelled from a scope
            # around it, KeyboardInterrupt) turns it into an immediate stop, then
            # propagates.
            core.cancel_all()
            raise

    async def _wait_idle(self) -> None:
        """Wait until only PERMANENT tasks are left (or the rest is stuck)."""
        core = self.core
        table = core.table
        if table.n_live == table.n_permanent_live or table.one_shot_work_is_stuck():
            return
        idle = table.idle
        if idle is None:
            idle = core.backend.Event()
            table.watch_idle(idle)
        await wait_reporting(core, idle, permanent=False)

    def _cancel_one_shot(self) -> None:
        """Shutdown grace expired: cancel every task that is not PERMANENT."""
        core = self.core
        core.cancel_queue()  # queued PERMANENT tasks never started: no order to keep
        table = core.table
        for h in [*table.active.values(), *table.restarting.values()]:
            if h.restart is not _PERMANENT:
                h.cancel()

    async def _stop_permanent(self) -> None:
        """Second phase of a graceful shutdown: stop PERMANENT tasks one at a time,
        newest first, each by its shutdown policy and fully stopped (cleanup done)
        before the next."""
        core = self.core
        core.stopping()
        core.cancel_queue()
        permanent = core.table.permanent
        while permanent:
            h = permanent[next(reversed(permanent))]
            if h._status is _RUNNING:
                await stop_attempt(core, h, Role.SHUTTING_DOWN)
            if not h._status.is_terminal:  # waiting to restart: it never will
                h.cancel()
                await h.wait()

    async def shutdown(self, grace: float | None) -> None:
        core = self.core
        if core.done.is_set():
            await core.backend.checkpoint()
            return
        if self._own_task():
            self._drain_soon(grace)
            await core.backend.checkpoint()
            return
        await self.drain(grace)
        await self.wait_done()

    def _own_task(self) -> bool:
        """Whether the calling task runs inside this supervisor's task nursery."""
        host = self.host_task_id
        assert host is not None  # set before open_supervisor() gives out the supervisor
        parents = {task.id: task.parent_id for task in anyio.get_running_tasks()}
        task_id: int | None = anyio.get_current_task().id
        while task_id is not None:
            task_id = parents.get(task_id)
            if task_id == host:
                return True
        return False

    def _drain_soon(self, grace: float | None) -> None:
        """Start a graceful shutdown in its own task (a task cannot wait for its
        own end)."""
        assert self.outer is not None
        self.core.close()
        self.outer.start_soon(self.drain, grace)

    async def wait_done(self) -> None:
        core = self.core
        try:
            await core.done.wait()
        except BaseException:
            # Broad on purpose: giving up on the wait (cancelled) must still leave no
            # task running unnoticed; the tasks' cleanup goes on under the block.
            core.cancel_all()
            raise

    # -- shutting down from inside ----------------------------------------------------

    def stop_from_inside(self) -> None:
        """Start a graceful shutdown and cancel the block's body: the block exits
        without an exception (auto shutdown; a stop request of the task that the
        block runs in)."""
        core = self.core
        if core.done.is_set():
            return
        if self.outer is None:
            core.close()  # not open yet: the block starts by stopping
        elif core.phase is not _STOPPING:
            self._drain_soon(core.shutdown_grace)
        scope = self.body_scope
        if scope is not None:
            scope.cancel()

    # -- the host task -------------------------------------------------------------------

    async def host(self, *, task_status: Any) -> None:
        """Own nursery M, where every task runs, until the supervisor stops.

        Exception-group policy: runners re-raise only non-Exception BaseExceptions
        (KeyboardInterrupt, SystemExit); M's group of those (minus Cancelled) escapes
        as one bare exception when there is one, else as a group of them.
        """
        core = self.core
        raise_this: BaseException | None = None
        try:
            async with core.backend.open_nursery() as tasks:
                core.bind(tasks, self.stop_from_inside)
                self.host_task_id = anyio.get_current_task().id
                task_status.started()
                await self.stop.wait()
        except core.backend.cancelled_exc:
            if core.giving_up is None:
                raise
            # Swallowed on purpose: this task is cancelled (the block's body raised,
            # or a scope around the block was cancelled) just as the supervisor gave
            # up, and the RestartIntensityExceeded raised below must not be lost
            # with the Cancelled. Bounded: this task ends right here.
        except BaseExceptionGroup as eg:
            raise_this = one_or_group(eg, core.backend.cancelled_exc)
            if raise_this is None and core.giving_up is None:
                raise
        finally:
            self._finalize()
        if raise_this is not None:
            raise raise_this  # outside the except: keeps the exception's own context
        if core.giving_up is not None:
            raise core.giving_up

    async def on_signals(
        self, signals: tuple[signal.Signals, ...], *, task_status: Any
    ) -> None:
        """shutdown_on: the first signal shuts down gracefully and cancels the
        block's body; a second one cancels everything. Ends with the supervisor."""
        core = self.core
        with core.backend.CancelScope() as scope:
            self.signal_scope = scope
            with anyio.open_signal_receiver(*signals) as received:
                task_status.started()
                count = 0
                async for sig in received:
                    count += 1
                    log_signal(core.name, sig.name, count == 1)
                    if count == 1:
                        self.stop_from_inside()
                    else:
                        core.cancel_all()
                        return

    def _finalize(self) -> None:
        """Nursery M has exited: every runner is done. Record whatever is left."""
        if self.signal_scope is not None:
            self.signal_scope.cancel()  # signals no longer stop anything
        core = self.core
        core.stopping()
        core.cancel_queue()
        now = core.clock()
        # Runners always record their task before exiting; nothing remains here
        # unless M never ran them (the run itself is being torn down).
        left: list[TaskHandle[Any]] = core.table.clear()
        for h in left:
            if not h._status.is_terminal:
                core.end(h, TaskStatus.CANCELLED, now)
        core.finished()
        idle = core.table.idle
        if idle is not None:
            idle.set()
