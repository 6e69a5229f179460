"""The runtime: the one object that starts and cancels a supervisor's trio tasks.

``Core`` composes the parts that keep the books and do no I/O: the task table
(``_table``: slots, queues, status indexes, counts), the ledger (``_ledger``:
events, failures, observers), the child records (``_child_records``) and the
restart budget (``_intensity``). It accepts tasks, starts attempts (the runner
bodies are in ``_attempt``), hands slots on, and carries out what ``_policy``
says follows an attempt: its end, a restart (now, after a backoff, or with its
group: ``_groups``), or giving up. Stopping on purpose is ``_stopping``; the
block's shutdown is ``_shutdown``; child management is ``_children``.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any, Final

from . import _attempt, _groups
from ._arguments import NO_WAIT, default_name
from ._backend import TRIO, current_clock
from ._child_records import ChildRecords
from ._errors import RestartIntensityExceeded, SupervisorClosed
from ._handle import Extra, TaskStarter
from ._health import FailureWindow
from ._intensity import RestartBudget
from ._ledger import Ledger
from ._logging import log_give_up, log_restart
from ._policy import Next, Phase, Role, after_attempt, auto_shutdown_fires
from ._spec import Restart, Strategy
from ._status import Decision, TaskStatus
from ._table import TaskTable
from ._waiters import Waiters

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ._backend import Backend, Nursery
    from ._handle import TaskHandle
    from ._health import HealthRules
    from ._spec import AutoShutdown, Backoff
    from ._status import TaskEvent

_PENDING = TaskStatus.PENDING
_RUNNING = TaskStatus.RUNNING
_COMPLETED = TaskStatus.COMPLETED
_FAILED = TaskStatus.FAILED
_CANCELLED = TaskStatus.CANCELLED
_RESTARTING = TaskStatus.RESTARTING
_TEMPORARY = Restart.TEMPORARY
_PERMANENT = Restart.PERMANENT
_OPEN = Phase.OPEN
_CLOSED = Phase.CLOSED
_STOPPING = Phase.STOPPING
_NO_ROLE = Role.NONE
_GIVE_UP = Decision.GIVE_UP
#: The trio task name of a pooled runner (it runs many tasks).
RUNNER_NAME: Final = "supervisor runner"


class Core:
    """Starts, stops and finishes the tasks of one supervisor."""

    __slots__ = (
        "CancelScope",
        "auto_shutdown",
        "backend",
        "clock",
        "done",
        "giving_up",
        "group_lock",
        "handoff",
        "handoff_open",
        "health_rules",
        "ledger",
        "name",
        "opened_at",
        "phase",
        "pooled",
        "records",
        "restarts",
        "room",
        "runners_cancel_status",
        "shutdown_grace",
        "stop_from_inside",
        "strategy",
        "table",
        "tasks",
        "token",
        "trio",
    )

    def __init__(
        self,
        *,
        name: str,
        max_concurrent: int | None,
        max_pending: int | None,
        shutdown_grace: float | None,
        on_event: Callable[[TaskEvent], object] | None,
        health_rules: HealthRules,
        backend: Backend,
        strategy: Strategy,
        max_restarts: int,
        restart_period: float | None,
        seed: int | None,
        auto_shutdown: AutoShutdown,
        log_failures: str = "unretrieved",
        pooled: bool = False,
    ) -> None:
        self.name = name
        self.backend = backend
        self.clock = current_clock()
        self.CancelScope = backend.CancelScope  # read once per task
        now = self.clock()
        self.opened_at = now
        self.token = backend.token()
        self.phase = _OPEN
        self.shutdown_grace = shutdown_grace
        self.health_rules = health_rules
        self.strategy = strategy
        self.auto_shutdown = auto_shutdown
        # -- the parts that keep the books ---------------------------------------
        self.ledger = Ledger(name, on_event, log_failures)
        self.table = TaskTable(
            self.ledger,
            FailureWindow(health_rules.failure_window, now),
            max_concurrent,
            max_pending,
            keep_start_order=strategy is not Strategy.ONE_FOR_ONE,
        )
        self.records = ChildRecords()
        self.restarts = RestartBudget(max_restarts, restart_period, seed)
        # -- running -------------------------------------------------------------
        #: Nursery M, where every attempt runs (set by the host task).
        self.tasks: Nursery | None = None
        #: trio's cancel status of the runners while they are in no scope of their
        #: own (None: ask the backend): _run_plain and release_slot read its flag.
        self.runners_cancel_status: Any = None
        # runners="pooled": a runner that finishes an attempt with its hand-off open
        # takes the next attempt given its slot (``handoff``) instead of a new trio
        # task being spawned for it.
        self.pooled = pooled
        self.trio = backend is TRIO  # the plain tasks' fast path is trio's
        self.handoff: TaskHandle[Any] | None = None
        self.handoff_open = False
        #: Submitters waiting for room (backpressure).
        self.room = Waiters(backend)
        self.group_lock = backend.Lock()  # group restarts run one at a time
        #: Set when nursery M has exited: every handle is terminal.
        self.done = backend.Event()
        self.giving_up: RestartIntensityExceeded | None = None
        #: How an auto shutdown starts a graceful shutdown from inside (set by
        #: the block, ``_shutdown``): a callback, so the runtime does not call up.
        self.stop_from_inside: Callable[[], None] | None = None

    def bind(self, tasks: Nursery, stop_from_inside: Callable[[], None] | None) -> None:
        """The host task opened nursery M: attempts run there from now on."""
        self.tasks = tasks
        self.runners_cancel_status = (
            getattr(tasks, "_cancel_status", None) if self.trio else None
        )
        self.stop_from_inside = stop_from_inside

    # -- the Owner a handle sees ------------------------------------------------

    def retrieved(self, task_id: int) -> None:
        self.ledger.retrieved(task_id)

    # -- phase -------------------------------------------------------------------

    def close(self) -> None:
        """Close to new work (blocked submitters raise SupervisorClosed)."""
        if self.phase is _OPEN:
            self.phase = _CLOSED
            self.room.wake_all()

    def stopping(self) -> None:
        """Nothing may start or restart from now on."""
        self.close()
        self.phase = _STOPPING

    def finished(self) -> None:
        """Nursery M has exited: every handle is terminal."""
        self.room.wake_all()
        self.done.set()
        self.ledger.end()

    def closed_error(self) -> SupervisorClosed:
        state = "has exited" if self.done.is_set() else "is shutting down"
        return SupervisorClosed(
            f"supervisor {self.name!r} {state}; no new tasks accepted"
        )

    # -- admission ---------------------------------------------------------------

    async def wait_for_room(self) -> None:
        """Backpressure: return once a new task may be accepted (FIFO with other
        waiters). Raises SupervisorClosed once closed. Cancellable; accepts nothing."""
        await self.backend.checkpoint_if_cancelled()
        while True:
            if self.phase is not _OPEN:
                raise self.closed_error()
            if self.table.has_room():
                return
            await self.room.wait()

    def accept(
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
        now = self.clock()
        table = self.table
        h = table.new_task(
            self, fn, args, default_name(fn) if name is None else name, timeout, now
        )
        if (
            restart is not _TEMPORARY
            or table.started is not None
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
            table.count_policy(extra)
        if not table.place(h, now):
            if h._context is None:
                h._context = contextvars.copy_context()  # it starts from there
            return h
        tasks = self.tasks
        assert tasks is not None
        if self.pooled:
            if h._context is None:
                h._context = contextvars.copy_context()
            tasks.start_soon(_attempt.pooled_runner, self, h, name=RUNNER_NAME)
        else:
            # Started from the submitter's task: trio copies the submitter's
            # context into the new task, as nursery.start_soon always does.
            tasks.start_soon(
                _attempt.run_attempt
                if h._extra is not None or not self.trio
                else _attempt.run_plain,
                self,
                h,
                name=h._name,
            )
        return h

    def accept_plain(
        self, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]
    ) -> TaskHandle[Any] | None:
        """``accept`` of a plain async function with every option left alone: the
        hot path of ``submit_nowait``, without the options' branches. Checks for
        room itself: None, and nothing accepted, if there is none."""
        table = self.table
        if table.started is not None or not self.trio:
            if table.max_concurrent is not None and not table.has_room():
                return None
            return self.accept(
                fn, args, None, None, _TEMPORARY, None, None, NO_WAIT, False
            )
        h = table.add_plain(self, fn, args, self.clock())
        if h is None:
            return None
        if h._queued:
            h._context = contextvars.copy_context()  # it starts from there
            return h
        tasks = self.tasks
        assert tasks is not None
        if self.pooled:
            h._context = contextvars.copy_context()  # its attempt runs in a copy
            tasks.start_soon(_attempt.pooled_runner, self, h, name=RUNNER_NAME)
        else:
            # trio copies the submitter's context into the new task, as
            # start_soon does.
            tasks.start_soon(_attempt.run_plain, self, h, name=h._name)
        return h

    def release_slot(self) -> None:
        """A runner is done with its slot: hand it to the oldest waiting task, or free it.

        Tasks waiting to restart go before PENDING ones: they were admitted first.
        """
        # A runner cancelled from outside (a scope around the block) frees its slot
        # instead of handing it on: the next task would only see the cancel at its
        # first step, and so on down the queue; the supervisor's own cancel ends
        # them all at once. Every caller is a runner out of its attempt's scope, so
        # its cancel status is the runners' (trio's flag, read without walking
        # every scope); on asyncio the backend asks.
        table = self.table
        status = self.runners_cancel_status
        if (
            (table.queue or table.restart_queue)
            and self.phase is not _STOPPING
            and not (
                status.effectively_cancelled
                if status is not None
                else self.backend.effectively_cancelled()
            )
        ):
            h = table.next_waiting()
            if h is not None:
                self.start_attempt(h)
                if h._status is _PENDING:  # room in the PENDING queue
                    self.room.wake_one()
                return
        table.free_slot()
        if self.room.events:
            # A free slot is room too (with max_pending=0 it is the only room).
            # Guarded by test_cancelled_submit_submits_nothing.
            self.room.wake_one()

    def restart_when_slot_free(self, h: TaskHandle[Any]) -> None:
        """Start ``h``'s next attempt now if a slot is free, else queue it first in
        line (ahead of PENDING tasks)."""
        if self.table.take_slot(h):
            self.start_attempt(h)
        else:
            self.table.queue_restart(h)

    def start_attempt(self, h: TaskHandle[Any]) -> None:
        """Spawn the runner of ``h``'s next attempt; ``h`` holds a slot."""
        table = self.table
        if table.idle is not None and h._extra is not None:
            # Draining: a slot given to a PERMANENT task may leave the rest stuck.
            table.check_idle()
        tasks = self.tasks
        assert tasks is not None
        if self.pooled:
            # The attempt runs in a copy of h._context that run_attempt takes.
            if self.handoff_open:  # a runner is finishing: it runs this one next
                self.handoff_open = False
                self.handoff = h
            else:
                tasks.start_soon(_attempt.pooled_runner, self, h, name=RUNNER_NAME)
            return
        context = h._context
        assert context is not None
        if h._extra is None or h._extra.restart is _TEMPORARY:
            h._context = None
        # Start it in the submitter's context (copied at submission); start_soon
        # copies it once more, so each attempt owns a fresh copy.
        plain = h._extra is None and self.trio
        context.run(
            tasks.start_soon,
            _attempt.run_plain if plain else _attempt.run_attempt,
            self,
            h,
            name=h._name,
        )

    def never_started(self, h: TaskHandle[Any]) -> None:
        """``h`` holds a slot but must not start: handle.cancel() already recorded
        it, the supervisor gave up on it, or a supervisor-wide stop is under way.
        Guarded by test_cancel_scheduled_task_never_runs."""
        status = h._status
        if status is _PENDING or status is _RESTARTING:
            self.end(h, _CANCELLED, self.clock())
        h._context = None
        self.handoff = None  # (read by a pooled runner right after, as for finish)
        self.handoff_open = self.pooled
        self.release_slot()
        self.handoff_open = False

    # -- ends ------------------------------------------------------------------------

    def end(
        self,
        h: TaskHandle[Any],
        status: TaskStatus,
        now: float,
        exception: BaseException | None = None,
        decision: Decision | None = None,
    ) -> None:
        """Make ``h`` terminal and wake whoever waits for it."""
        self.table.end(h, status, now, exception, decision)
        extra = h._extra
        if extra is not None:
            extra.wake_ready()  # a start_child call waits: it sees the end
            extra.wake_attempt_end()
            on_end = extra.on_end
            if on_end is not None:
                extra.on_end = None
                on_end()
            if extra.child is not None:
                self.records.after_end(h, keep=extra.role is Role.TERMINATING)

    def cancel_waiting(self, h: TaskHandle[Any], role: Role = _NO_ROLE) -> None:
        """handle.cancel() of a PENDING or RESTARTING task: it ends CANCELLED and no
        attempt of it starts again. ``role`` says why (``terminate_child``: its
        spec is kept)."""
        h._cancel_requested = True
        extra = h._extra
        held = extra is not None and extra.role.held
        if extra is not None:
            extra.set_role(role)
        table = self.table
        if held:
            pass  # held by a group restart: no runner, no slot, no queue entry
        elif h._queued:
            if table.unqueue(h):
                self.room.wake_one()
        elif h._id in table.active:
            # It holds a slot and its runner is scheduled; the runner sees the status
            # and frees the slot without calling the function.
            pass
        elif h._status is _RESTARTING:
            # Waiting out its backoff: wake that runner, which records the end.
            assert h._scope is not None
            h._scope.cancel()
            return
        self.end(h, _CANCELLED, self.clock())

    def cancel_queue(self) -> None:
        """End every task waiting for a slot CANCELLED (PENDING ones, and RESTARTING
        ones whose backoff is over); none of them starts."""
        now = self.clock()
        for h in self.table.take_queued():
            self.end(h, _CANCELLED, now)

    def cancel_all(self) -> None:
        """Stop everything at once; sync and idempotent (see Supervisor.cancel)."""
        self.stopping()  # every step below is idempotent too
        self.cancel_queue()
        if self.tasks is not None:
            self.tasks.cancel_scope.cancel()
        self.table.check_idle()

    # -- after an attempt ------------------------------------------------------------

    def finish(
        self,
        h: TaskHandle[Any],
        status: TaskStatus,
        value: object = None,
        exception: BaseException | None = None,
        handing_on: bool = False,
    ) -> float | None:
        """An attempt ended. Record it; returns the backoff delay if it restarts.

        ``handing_on``: a pooled runner ran it, and whatever gets its slot next is
        the runner's next attempt (``handoff``) instead of a new runner.
        """
        # (A pooled runner reads ``handoff`` right after this returns, with no
        # schedule point between: what it finds is what this call handed on.)
        self.handoff = None
        extra = h._extra
        if extra is None:
            # A plain one-shot task: the hot path (its end wakes no one else).
            h._result = value
            self.table.end(
                h,
                status,
                self.clock(),
                exception,
                _GIVE_UP if status is _FAILED else None,
            )
            self.handoff_open = handing_on
            self.release_slot()
            self.handoff_open = False
            return None
        self.handoff_open = handing_on
        try:
            return self._finish_extra(h, extra, status, value, exception)
        finally:
            self.handoff_open = False

    def _finish_extra(
        self,
        h: TaskHandle[Any],
        extra: Extra,
        status: TaskStatus,
        value: object,
        exception: BaseException | None,
    ) -> float | None:
        """``finish`` of an attempt of a task with an Extra: what ``_policy`` says
        follows, carried out."""
        table = self.table
        extra.wake_ready()  # start_child or a group restart waits on this attempt
        extra.wake_attempt_end()  # a stop by policy waits on it
        role = extra.role
        follows = after_attempt(
            role,
            stopping=self.phase is _STOPPING,
            cancelled=h._cancel_requested,
            restart=extra.restart,
            ended=status,
            attempts=h._attempts,
            max_attempts=extra.max_attempts,
            grouped=table.started is not None,
            significant=extra.significant,
        )
        if follows is Next.REJOIN_GROUP:
            # However it ended, not a cancellation for its policy: it waits for the
            # group restart.
            extra.set_role(Role.GROUP_HELD)
            h._exception = exception
            table.transition(
                h, _RESTARTING, self.clock(), exception, Decision.SIBLING_RESTART
            )
            self.release_slot()
            return None
        if follows is Next.STOPPED_BY_GROUP:
            # Stopped for good, as OTP does with temporary children: CANCELLED, or
            # as it ended by itself after the stop request (COMPLETED: its value
            # is its result). Guarded by
            # test_a_sibling_that_returns_when_its_group_stops_it_keeps_its_value.
            h._result = value
            self.end(h, status, self.clock(), exception, Decision.SIBLING_RESTART)
            self.release_slot()
            return None
        if follows is Next.RESTART or follows is Next.RESTART_WITH_GROUP:
            delay = self.begin_restart(h, extra, status, value, exception)
            if delay is not None and follows is Next.RESTART_WITH_GROUP:
                # ONE_FOR_ALL / REST_FOR_ONE: a coordinator stops the siblings and
                # restarts them all in start order.
                extra.set_role(Role.RESTART_PENDING)
                self.release_slot()
                assert self.tasks is not None
                self.tasks.start_soon(_groups.restart_group, self, h, delay)
                return None
            if delay == 0 and h._status is _RESTARTING and not h._cancel_requested:
                # No backoff: the restart is immediate and keeps the slot, so no
                # PENDING task slips in between two attempts. Guarded by
                # test_restart_waits_for_a_slot_ahead_of_pending_tasks.
                table.keep_slot(h)
                self.start_attempt(h)
                return None
            self.release_slot()
            return delay
        # No restart follows: it ended by itself, or was stopped on purpose
        # (terminate_child, a graceful shutdown), which no restart follows either.
        h._result = value
        decision = None
        if status is _FAILED or (status is _COMPLETED and extra.restart is _PERMANENT):
            decision = _GIVE_UP
        self.end(h, status, self.clock(), exception, decision)
        if follows is Next.END_SIGNIFICANT:
            self.significant_ended()
        self.release_slot()
        return None

    def begin_restart(
        self,
        h: TaskHandle[Any],
        extra: Extra,
        status: TaskStatus,
        value: object,
        exception: BaseException | None,
    ) -> float | None:
        """Take the restart decision: count it, then RESTARTING (or give up)."""
        now = self.clock()
        if self.restarts.exceeded(now, exception):
            # This decision tips the intensity: the task ends as its attempt did,
            # and the supervisor gives up on everything.
            h._result = value
            self.end(h, status, now, exception, Decision.ESCALATE)
            self.give_up(h)
            return None
        h._exception = exception
        self.table.transition(h, _RESTARTING, now, exception, Decision.RESTART)
        delay = self.restarts.delay(extra.backoff, h._attempts)
        log_restart(self.name, h._name, h._id, h._attempts, exception, delay)
        metrics = self.ledger.recorder
        if metrics is not None:
            metrics.restarts += 1
        return delay

    async def wait_to_restart(self, h: TaskHandle[Any], delay: float) -> None:
        """Wait out the backoff (holding no slot), then start the next attempt."""
        scope = self.CancelScope()
        h._scope = scope
        if not h._cancel_requested:  # an on_event hook may have cancelled it already
            try:
                with scope:
                    await self.backend.sleep(delay)
            except self.backend.cancelled_exc:
                # The task nursery or a scope around the block is cancelled. Swallowed
                # as in _attempt.classify: this is the trio task's last await; the
                # status is recorded below.
                pass
        if h._status is not _RESTARTING:
            return  # given up (FAILED) meanwhile
        if h._cancel_requested or self.phase is _STOPPING:
            self.end(h, _CANCELLED, self.clock())
            return
        self.restart_when_slot_free(h)

    def give_up(self, h: TaskHandle[Any]) -> None:
        """Restart intensity exceeded (at ``h``): fail what waits to restart, cancel
        everything, and make the block raise RestartIntensityExceeded."""
        restarts = self.restarts
        msg = (
            f"supervisor {self.name!r}: task {h._name!r} (id {h._id}) exceeded the "
            f"restart intensity: more than {restarts.max_restarts} restarts in "
            f"{restarts.period!r} seconds"
        )
        error = RestartIntensityExceeded(msg)
        error.__cause__ = restarts.last_failure
        log_give_up(self.name, h._name, h._id, h._attempts, msg, restarts.last_failure)
        self.giving_up = error
        now = self.clock()
        table = self.table
        for r in list(table.restarting.values()):
            extra = r._extra
            assert extra is not None  # every task that restarts has one
            extra.set_role(_NO_ROLE)  # no group restart may take it up again
            if r._queued:
                table.unqueue(r)
            # (Else holding a slot with its runner scheduled, or waiting out its
            # backoff: the runner sees the status and only frees what it holds.)
            # Its own last failure; after a normal return (PERMANENT) it has none,
            # and the supervisor giving up is what failed it.
            # Guarded by test_given_up_restart_after_a_return_fails_with_the_give_up.
            self.end(r, _FAILED, now, r._exception or error, Decision.ESCALATE)
        self.cancel_all()

    def significant_ended(self) -> None:
        """A significant child ended by itself, with no restart to follow."""
        if self.phase is not _OPEN:
            return  # shutting down already (it may have honoured the shutdown's advice)
        if auto_shutdown_fires(self.auto_shutdown, self.table.n_significant_live):
            stop = self.stop_from_inside
            if stop is not None:
                stop()
