"""The task table: every live task of a supervisor, by place, and the one place a
status changes.

Plain bookkeeping: no event loop, no clock (the caller passes ``now``), no trio
task is started or cancelled here. Indexes that must move with a status move in
:meth:`TaskTable.transition` (RUNNING since, RESTARTING) and :meth:`TaskTable.end`
(counts, start order, the idle event); the slots and queues move in the
admission methods. The runtime (``_core``) decides and starts; this records.
"""

from __future__ import annotations

import functools
from collections import deque
from typing import TYPE_CHECKING, Any, Final

from ._handle import TaskHandle, start_key
from ._spec import Restart
from ._status import TaskEvent, TaskStatus

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ._backend import Event
    from ._handle import Extra, Owner
    from ._health import FailureWindow
    from ._ledger import Ledger
    from ._status import Decision

_PENDING = TaskStatus.PENDING
_RUNNING = TaskStatus.RUNNING
_RESTARTING = TaskStatus.RESTARTING
_COMPLETED = TaskStatus.COMPLETED
_FAILED = TaskStatus.FAILED
_PERMANENT = Restart.PERMANENT

#: Dead queue entries (cancelled while they waited) past which a queue is compacted.
_COMPACT_SLACK: Final = 64

# TaskHandle._create without the extra Python frame of the metaclass method: one
# handle is built per submission.
_new_handle: Callable[..., TaskHandle[Any]] = functools.partial(
    type.__call__, TaskHandle
)


class TaskTable:
    """Where every live task of one supervisor is, and what became of the others."""

    __slots__ = (
        "__weakref__",  # the metrics hub keeps its tables weakly
        "active",
        "cancelled",
        "completed",
        "failed",
        "idle",
        "ledger",
        "max_concurrent",
        "max_pending",
        "n_live",
        "n_permanent_live",
        "n_queued",
        "n_significant_live",
        "n_slots",
        "next_id",
        "next_order",
        "permanent",
        "queue",
        "restart_queue",
        "restarting",
        "running_since",
        "started",
        "window",
    )

    def __init__(
        self,
        ledger: Ledger,
        window: FailureWindow,
        max_concurrent: int | None,
        max_pending: int | None,
        *,
        keep_start_order: bool,
    ) -> None:
        self.ledger = ledger
        #: The failure window that health() reads (its own module writes it).
        self.window = window
        self.max_concurrent = max_concurrent
        self.max_pending = max_pending
        self.next_id = 0  # also the count of submitted tasks
        # -- slots and queues --------------------------------------------------
        #: Tasks holding a capacity slot (RUNNING, or PENDING and scheduled to
        #: run), by id, in the order they got it. Queued tasks are in a queue only.
        self.active: dict[int, TaskHandle[Any]] = {}
        #: Slots taken: len(active) plus those still held by ending runners.
        self.n_slots = 0
        #: Tasks waiting for a slot, oldest first. A task cancelled while it waits
        #: leaves its entry behind (h._queued False) to be skipped.
        self.queue: deque[TaskHandle[Any]] = deque()
        self.n_queued = 0  # live entries of ``queue``
        #: RESTARTING tasks whose backoff is over, waiting for a slot: served
        #: before ``queue`` (they were admitted first). Dead entries as in ``queue``.
        self.restart_queue: deque[TaskHandle[Any]] = deque()
        # -- status indexes (moved by transition() only) ------------------------
        #: RUNNING tasks with the time their current attempt started, in that order.
        self.running_since: dict[int, float] = {}
        #: RESTARTING tasks.
        self.restarting: dict[int, TaskHandle[Any]] = {}
        # -- start order -------------------------------------------------------
        #: Live started tasks in start order, kept only when a strategy acts on
        #: siblings (ONE_FOR_ALL, REST_FOR_ONE).
        self.started: dict[int, TaskHandle[Any]] | None = (
            {} if keep_start_order else None
        )
        #: PERMANENT tasks that have started, in start order: shutdown stops them
        #: newest first.
        self.permanent: dict[int, TaskHandle[Any]] = {}
        self.next_order = 0
        # -- counts ------------------------------------------------------------
        self.n_live = 0  # not terminal
        self.n_permanent_live = 0
        self.n_significant_live = 0
        self.completed = 0
        self.failed = 0
        self.cancelled = 0
        #: Set by a graceful shutdown waiting for the one-shot work to end: set
        #: once only PERMANENT tasks are left, or what is left is stuck.
        self.idle: Event | None = None

    # -- new tasks -------------------------------------------------------------

    def new_task(
        self,
        owner: Owner,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        name: str,
        timeout: float | None,
        now: float,
    ) -> TaskHandle[Any]:
        """A new live task's handle (not placed yet: see ``place``)."""
        self.next_id += 1
        self.n_live += 1
        return _new_handle(owner, self.next_id, fn, args, name, timeout, now)

    def add_plain(
        self,
        owner: Owner,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        now: float,
    ) -> TaskHandle[Any] | None:
        """``has_room``, ``new_task`` and ``place`` in one, for a plain task (the hot
        path): its handle, holding a slot or queued (``h._queued``); None, and
        nothing added, if there is no room."""
        limit = self.max_concurrent
        slot = limit is None or self.n_slots < limit
        if (
            not slot
            and (max_pending := self.max_pending) is not None
            and self.n_queued >= max_pending
        ):
            return None
        self.next_id += 1
        self.n_live += 1
        task_id = self.next_id
        h = _new_handle(owner, task_id, fn, args, fn.__qualname__, None, now)
        if slot:
            self.n_slots += 1
            self.active[task_id] = h
        else:
            h._queued = True
            self.queue.append(h)
            self.n_queued += 1
        if self.ledger.emitting:
            self.ledger.emit(TaskEvent(task_id, h._name, None, _PENDING, now, 0))
        return h

    def count_policy(self, extra: Extra) -> None:
        """A new task with an Extra: count it by its options."""
        if extra.restart is _PERMANENT:
            self.n_permanent_live += 1
        if extra.significant:
            self.n_significant_live += 1

    def place(self, h: TaskHandle[Any], now: float) -> bool:
        """Give new ``h`` a slot (True: the caller starts it) or queue it (False)."""
        limit = self.max_concurrent
        if limit is None or self.n_slots < limit:
            self.n_slots += 1
            self.active[h._id] = h
            if self.ledger.emitting:
                self.ledger.emit(TaskEvent(h._id, h._name, None, _PENDING, now, 0))
            return True
        h._queued = True
        self.queue.append(h)
        self.n_queued += 1
        if self.ledger.emitting:
            self.ledger.emit(TaskEvent(h._id, h._name, None, _PENDING, now, 0))
        return False

    def has_room(self) -> bool:
        """Whether a new task may be accepted now (a free slot or queue room)."""
        limit = self.max_concurrent
        if limit is None or self.n_slots < limit:
            return True
        max_pending = self.max_pending
        return max_pending is None or self.n_queued < max_pending

    # -- slots -------------------------------------------------------------------

    def take_slot(self, h: TaskHandle[Any]) -> bool:
        """Give ``h`` a free slot, if any (its runner is started next)."""
        limit = self.max_concurrent
        if limit is None or self.n_slots < limit:
            self.n_slots += 1
            self.active[h._id] = h
            return True
        return False

    def keep_slot(self, h: TaskHandle[Any]) -> None:
        """``h``'s next attempt starts at once in the slot its last one held."""
        self.active[h._id] = h

    def next_waiting(self) -> TaskHandle[Any] | None:
        """The oldest task waiting for a slot (RESTARTING ones first), taken out
        of line and given the slot; None when none waits."""
        restart_queue = self.restart_queue
        while restart_queue:
            h = restart_queue.popleft()
            if h._queued:  # else cancelled while it waited
                h._queued = False
                self.active[h._id] = h
                return h
        queue = self.queue
        while queue:
            h = queue.popleft()
            if h._queued:
                h._queued = False
                self.n_queued -= 1
                while queue and not queue[0]._queued:  # (_drop_dead_front, inlined)
                    queue.popleft()
                self.active[h._id] = h
                return h
        return None

    def free_slot(self) -> None:
        self.n_slots -= 1

    def queue_restart(self, h: TaskHandle[Any]) -> None:
        """RESTARTING ``h`` waits for a slot, first in line."""
        h._queued = True
        self.restart_queue.append(h)

    def unqueue(self, h: TaskHandle[Any]) -> bool:
        """Take queued ``h`` out of line (its entry stays behind, to be skipped);
        True if it was PENDING (room in the queue)."""
        h._queued = False
        if h._status is not _PENDING:
            return False
        h._context = None
        self.n_queued -= 1
        queue = self.queue
        _drop_dead_front(queue)
        if len(queue) > 2 * self.n_queued + _COMPACT_SLACK:
            # Dead entries outnumber live ones: compact, so cancelled tasks never
            # make the queue grow without bound.
            self.queue = deque(q for q in queue if q._queued)
        return True

    def take_queued(self) -> list[TaskHandle[Any]]:
        """Empty both queues; return the tasks that were still waiting in them."""
        waiting = [h for h in (*self.restart_queue, *self.queue) if h._queued]
        self.queue = deque()
        self.restart_queue = deque()
        self.n_queued = 0
        for h in waiting:
            h._queued = False
            h._context = None
        return waiting

    def oldest_waiting(self) -> TaskHandle[Any] | None:
        """The task that has waited longest in the PENDING queue. O(1): the
        queue's front entry is never a dead one (``unqueue`` drops those)."""
        queue = self.queue
        return queue[0] if queue else None

    # -- status ------------------------------------------------------------------

    def transition(
        self,
        h: TaskHandle[Any],
        new: TaskStatus,
        now: float,
        exception: BaseException | None = None,
        decision: Decision | None = None,
    ) -> None:
        """A change to a live status (RUNNING, RESTARTING; an end is ``end``'s):
        checked against the lifecycle table, with the indexes that follow a
        status, then emitted. It and ``end`` are the only places a status
        changes (and the hot path's ``start_plain`` and ``complete_plain``)."""
        old = h._status
        if new not in old._next:
            raise _illegal(h, old, new)  # pragma: no cover - internal invariant
        task_id = h._id
        if old is _RUNNING:
            # The attempt ended: its task no longer holds its place in ``active``
            # (its runner holds the slot until it frees it or hands it on).
            del self.running_since[task_id]
            self.active.pop(task_id, None)
        elif old is _RESTARTING:
            del self.restarting[task_id]
        if new is _RUNNING:
            self.running_since[task_id] = now
        elif new is _RESTARTING:
            self.restarting[task_id] = h
        else:  # pragma: no cover - internal invariant
            msg = f"transition to {new.name}: an end is end()'s"
            raise AssertionError(msg)
        h._status = new
        ledger = self.ledger
        if ledger.emitting:
            ledger.emit(
                TaskEvent(
                    task_id, h._name, old, new, now, h._attempts, exception, decision
                )
            )

    def end(
        self,
        h: TaskHandle[Any],
        status: TaskStatus,
        now: float,
        exception: BaseException | None = None,
        decision: Decision | None = None,
    ) -> None:
        """Make ``h`` terminal: its status (checked against the lifecycle table),
        the indexes and counts, and what it no longer needs (so that a handle
        kept by a user keeps neither the function, its arguments nor the scope
        alive); wake whoever waits for its end. (The runtime's ``end`` wakes what
        a task with an Extra has waiting too.)"""
        h._completed_at = now
        h._exception = exception
        old = h._status
        if status not in old._next:
            raise _illegal(h, old, status)  # pragma: no cover - internal invariant
        task_id = h._id
        if old is _RUNNING:
            del self.running_since[task_id]
        elif old is _RESTARTING:
            del self.restarting[task_id]
        # Its slot, if it held one (a task ended before it ran held one if it
        # was scheduled), is its runner's to free or hand on.
        self.active.pop(task_id, None)
        h._status = status
        if self.ledger.emitting:
            self.ledger.emit(
                TaskEvent(
                    task_id, h._name, old, status, now, h._attempts, exception, decision
                )
            )
        h._fn = None
        h._args = ()
        h._scope = None
        h._context = None
        self.n_live -= 1
        extra = h._extra
        if extra is not None:
            if extra.restart is _PERMANENT:
                self.n_permanent_live -= 1
                self.permanent.pop(h._id, None)
            if extra.significant:
                self.n_significant_live -= 1
            if self.started is not None:
                self.started.pop(h._id, None)
        if status is _COMPLETED:
            self.completed += 1
            self.window.add(now, False)
        elif status is _FAILED:
            self.failed += 1
            self.window.add(now, True)
            self.ledger.failed(h, old, now, exception, decision)
        else:
            self.cancelled += 1
        event = h._done_event
        if event is not None:
            event.set()
        if self.idle is not None:
            self.check_idle()

    def start_plain(self, h: TaskHandle[Any], now: float) -> None:
        """``transition(h, RUNNING)`` for a plain task's only attempt, inlined for
        the hot path (``_attempt.run_plain``); its PENDING -> RUNNING is legal.
        test_the_plain_path_agrees_with_the_general_one checks both ways agree."""
        h._started_at = now
        h._attempts = 1
        self.running_since[h._id] = now
        h._status = _RUNNING
        if self.ledger.emitting:
            self.ledger.emit(TaskEvent(h._id, h._name, _PENDING, _RUNNING, now, 1))

    def complete_plain(
        self, h: TaskHandle[Any], value: object, now: float, runners: Any
    ) -> TaskHandle[Any] | None:
        """``end`` and the runtime's ``release_slot`` for a plain task whose only
        attempt completed, inlined for the hot path (``_attempt.run_plain``).

        Returns the task that now holds the slot (the caller starts it), or None:
        the slot is free. ``runners`` is the runners' cancel status, read after
        the end (an ``on_event`` hook may cancel them): once they are cancelled
        the slot is freed rather than handed on, as ``release_slot`` does. (Its
        other condition, not STOPPING, holds whenever a task waits: the queues
        are emptied as the phase becomes STOPPING.)
        test_the_plain_path_agrees_with_the_general_one checks both ways agree.
        """
        task_id = h._id
        del self.active[task_id]
        del self.running_since[task_id]
        h._result = value
        h._completed_at = now
        h._status = _COMPLETED
        if self.ledger.emitting:
            self.ledger.emit(TaskEvent(task_id, h._name, _RUNNING, _COMPLETED, now, 1))
        h._scope = None
        self.n_live -= 1
        self.completed += 1
        self.window.add(now, False)
        event = h._done_event
        if event is not None:
            event.set()
        if self.idle is not None and (
            self.n_live == self.n_permanent_live or self.max_concurrent is not None
        ):
            self.check_idle()
        queue = self.queue
        if (queue or self.restart_queue) and not runners.effectively_cancelled:
            if self.restart_queue:
                nxt = self.next_waiting()
                if nxt is not None:
                    return nxt
            # (next_waiting's PENDING half, inlined.)
            while queue:
                nxt = queue.popleft()
                if nxt._queued:
                    nxt._queued = False
                    self.n_queued -= 1
                    while queue and not queue[0]._queued:
                        queue.popleft()
                    self.active[nxt._id] = nxt
                    return nxt
        self.n_slots -= 1
        return None

    def first_start(self, h: TaskHandle[Any], extra: Extra) -> None:
        """``h`` runs for the first time: it takes its place in start order."""
        inherited = extra.order is not None  # restart_child keeps the child's place
        if not inherited:
            extra.order = self.next_order
            self.next_order += 1
        for in_order in (
            self.started,  # what strategies act on
            self.permanent if extra.restart is _PERMANENT else None,  # shutdown
        ):
            if in_order is not None:
                in_order[h._id] = h
                if inherited:
                    _sort_by_start(in_order)

    # -- the idle event (a graceful shutdown waits on it) -----------------------

    def watch_idle(self, event: Event) -> None:
        self.idle = event

    def check_idle(self) -> None:
        """Set the idle event once only PERMANENT tasks are left, or once the
        one-shot work left can never get a slot."""
        idle = self.idle
        if idle is not None and (
            self.n_live == self.n_permanent_live or self.one_shot_work_is_stuck()
        ):
            idle.set()

    def one_shot_work_is_stuck(self) -> bool:
        """Every slot is held by a PERMANENT task, so no waiting one-shot task can
        start before shutdown stops them, which it does only after the one-shot
        work drained: without this, a graceful shutdown with no grace would wait
        forever. Guarded by test_shutdown_does_not_wait_for_work_stuck_behind_permanent.
        """
        limit = self.max_concurrent
        # Every slot held by a task in active: a slot still being handed on by a
        # finishing runner may yet go to a waiting task.
        if limit is None or len(self.active) < limit:
            return False
        for h in self.active.values():
            extra = h._extra
            if extra is None or extra.restart is not _PERMANENT:
                return False
        return True

    def clear(self) -> list[TaskHandle[Any]]:
        """The block exited: forget every slot; return the tasks still held (none
        unless the run itself is being torn down)."""
        left = [
            h
            for h in (*self.active.values(), *self.restarting.values())
            if not h._status.is_terminal
        ]
        self.active.clear()
        self.n_slots = 0
        return left

    # -- reading -------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Tasks by status now and finished ones by outcome. Plain reads of ints
        and lengths: a metrics scrape calls this from another thread."""
        running = len(self.running_since)
        restarting = len(self.restarting)
        return {
            "pending": self.n_live - running - restarting,
            "running": running,
            "restarting": restarting,
            "completed": self.completed,
            "failed": self.failed,
            "cancelled": self.cancelled,
        }

    def live(self) -> list[TaskHandle[Any]]:
        """The tasks that are not terminal, in submission order."""
        live = {h._id: h for h in self.active.values()}
        live.update((h._id, h) for h in self.restarting.values())
        live.update((h._id, h) for h in self.queue if h._queued)
        return [live[i] for i in sorted(live)]


def _illegal(h: TaskHandle[Any], old: TaskStatus, new: TaskStatus) -> AssertionError:
    return AssertionError(f"illegal transition {old.name} -> {new.name} of {h!r}")


def _drop_dead_front(queue: deque[TaskHandle[Any]]) -> None:
    """Keep the front entry of ``queue`` a live one: health() reads it in O(1).
    Each dead entry is dropped once, by the call that made it or uncovered it."""
    while queue and not queue[0]._queued:
        queue.popleft()


def _sort_by_start(tasks: dict[int, TaskHandle[Any]]) -> None:
    ordered = sorted(tasks.values(), key=start_key)
    tasks.clear()
    tasks.update((t._id, t) for t in ordered)
