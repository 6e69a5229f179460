"""The state of one supervisor, shared by the modules that each do one job with it.

A supervisor is one object: its class stacks the jobs, each in a module of its own,
from the bottom up (each module imports only the ones below it):

    _state       the fields, and the few calls that go up the stack
    _ledger      status changes, records, events, counts, health       (observation)
    _admission   slots, the PENDING and restart queues, backpressure    (admission)
    _running     one attempt: spawn it, run it (a trio task of its own, a plain
                 task's fast path, or a pooled runner's), classify how it ended
    _stopping    stop requests, stops by per-child shutdown, cancels of waiting tasks
    _groups      ONE_FOR_ALL / REST_FOR_ONE group restarts, in OTP's order
    _restarts    what follows an attempt: restart now, after a backoff, with the
                 group, or end; giving up when the intensity is exceeded
    _children    child ids, kept specs, terminate/restart/delete, which_children
    _shutdown    graceful and immediate shutdown, the host task, auto shutdown
    _supervisor  Supervisor: the public facade
    _open        open_supervisor(): the block that owns a Supervisor and its nurseries

What to decide is plain code with no clock and no event loop: ``_policy`` (restart,
strategy, stop order, auto shutdown) and ``_intensity``. Argument checks are in
``_arguments``/``_checks``; child records in ``_child_records``. Methods share one
object, so the hot path pays no extra hop for the split; an upward call is declared
here once and defined by the job that owns it.
"""

from __future__ import annotations

import random
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any

from ._backend import TRIO, current_clock
from ._health import FailureWindow
from ._intensity import RestartWindow
from ._logging import UnretrievedFailures
from ._policy import Phase
from ._spec import Strategy
from ._waiters import Waiters

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._actor import ActorRef
    from ._backend import Backend, Event, Nursery
    from ._child_records import Child
    from ._errors import RestartIntensityExceeded
    from ._events import EventSubscription
    from ._handle import Extra, TaskHandle
    from ._health import HealthRules
    from ._metrics_hub import MetricsHub, Recorder
    from ._spec import AutoShutdown
    from ._status import TaskEvent, TaskStatus
    from ._tracing_hook import AttemptTracing


class SupervisorState:
    """Every field of a supervisor; the job modules above add the methods."""

    __slots__ = (
        "_CancelScope",
        "__weakref__",  # supervisor.metrics keeps its supervisors weakly
        "_active",
        "_actors",
        "_auto_shutdown",
        "_backend",
        "_body_scope",
        "_cancelled_count",
        "_child_ids",
        "_children",
        "_clock",
        "_completed",
        "_done",
        "_emitting",
        "_entries",
        "_failed",
        "_giving_up",
        "_group_lock",
        "_handoff",
        "_handoff_open",
        "_handoff_yielded",
        "_health_rules",
        "_host_task_id",
        "_idle",
        "_intensity",
        "_last_failure",
        "_last_restart_failure",
        "_log_failures",
        "_max_concurrent",
        "_max_pending",
        "_metrics",
        "_metrics_hub",
        "_n_live",
        "_n_permanent_live",
        "_n_queued",
        "_n_significant_live",
        "_n_slots",
        "_name",
        "_nested",
        "_next_id",
        "_next_order",
        "_on_event",
        "_opened_at",
        "_opened_in",
        "_outer",
        "_permanent",
        "_phase",
        "_pooled",
        "_queue",
        "_restart_queue",
        "_restarting",
        "_rng",
        "_room",
        "_runners_cancel_status",
        "_running_since",
        "_shutdown_grace",
        "_signal_scope",
        "_stop",
        "_strategy",
        "_submitted",
        "_subscribers",
        "_tasks",
        "_token",
        "_tracing",
        "_trio",
        "_unretrieved",
        "_window",
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
        self._name = name
        self._max_concurrent = max_concurrent
        self._max_pending = max_pending
        self._shutdown_grace = shutdown_grace
        self._on_event = on_event
        self._health_rules = health_rules
        self._backend = backend
        self._clock = current_clock()
        self._CancelScope = backend.CancelScope  # read once per task
        now = self._clock()
        self._opened_at = now
        self._token = backend.token()
        self._phase = Phase.OPEN
        self._next_id = 0
        # -- admission --------------------------------------------------------
        # Tasks holding a capacity slot (RUNNING, or PENDING and scheduled to run),
        # by id, in the order they got it. Queued tasks are in _queue only.
        self._active: dict[int, TaskHandle[Any]] = {}
        self._n_slots = 0  # tasks holding a slot: len(_active) plus cancelled ones
        # runners="pooled": a runner that finishes an attempt with its hand-off open
        # takes the next attempt given its slot (_handoff) instead of a new trio
        # task being spawned for it; _handoff_yielded says whether the attempt it
        # just ran yielded to the scheduler (else it checkpoints, to be fair).
        self._pooled = pooled
        self._trio = backend is TRIO  # the plain tasks' fast path is trio's
        self._runners_cancel_status: Any = None
        self._handoff: TaskHandle[Any] | None = None
        self._handoff_open = False
        self._handoff_yielded = False
        # The RUNNING tasks, each with the time its current attempt started, in
        # that order: health() reads the oldest in O(1).
        self._running_since: dict[int, float] = {}
        # Tasks waiting for capacity, oldest first. Cancelling one leaves its entry
        # behind (h._queued False) to be skipped; _n_queued counts live entries.
        self._queue: deque[TaskHandle[Any]] = deque()
        self._n_queued = 0
        # RESTARTING tasks whose backoff is over, waiting for a slot: served before
        # the PENDING queue. Cancelled entries are skipped, as in _queue.
        self._restart_queue: deque[TaskHandle[Any]] = deque()
        self._room = Waiters(backend)
        # -- the block --------------------------------------------------------
        self._idle: Event | None = None  # set when nothing holds a slot or waits
        self._stop = backend.Event()  # lets nursery M close once drained
        self._done = backend.Event()  # nursery M has exited; every handle terminal
        self._outer: Nursery | None = None
        self._tasks: Nursery | None = None
        self._host_task_id: int | None = None
        # The scope around the block's body: auto shutdown and a stop request of
        # the task the block runs in cancel it.
        self._body_scope: Any = None
        # -- observation ------------------------------------------------------
        self._submitted = 0
        self._completed = 0
        self._failed = 0
        self._cancelled_count = 0
        self._last_failure: TaskEvent | None = None
        self._window = FailureWindow(health_rules.failure_window, now)
        self._subscribers: list[EventSubscription] = []
        self._emitting = on_event is not None
        # Non-terminal tasks; graceful shutdown's first phase waits until only
        # PERMANENT ones are left.
        self._n_live = 0
        self._n_permanent_live = 0
        # -- restarts ---------------------------------------------------------
        # Everything here is touched only by tasks that may restart.
        self._strategy = strategy
        self._intensity = (
            None
            if restart_period is None
            else RestartWindow(max_restarts, restart_period)
        )
        self._rng = random.Random(seed)
        self._restarting: dict[int, TaskHandle[Any]] = {}  # status RESTARTING
        self._last_restart_failure: BaseException | None = None
        self._giving_up: RestartIntensityExceeded | None = None
        # Live started tasks in start order, kept only when a strategy acts on
        # siblings (group restarts run one at a time).
        self._children: dict[int, TaskHandle[Any]] | None = (
            None if strategy is Strategy.ONE_FOR_ONE else {}
        )
        self._group_lock = backend.Lock()
        # PERMANENT tasks that have started, by id, in start order: the order in
        # which shutdown stops them (newest first).
        self._permanent: dict[int, TaskHandle[Any]] = {}
        # -- children ---------------------------------------------------------
        # start_child / spawn_actor children, live or kept, by the id of their
        # current handle; those with an id also by id.
        self._entries: dict[int, Child] = {}
        self._child_ids: dict[str, Child] = {}
        self._next_order = 0  # start order: given to each task when it first runs
        self._actors: dict[str, ActorRef[Any, Any]] = {}  # live actors by name
        self._auto_shutdown = auto_shutdown
        self._log_failures = log_failures
        # supervisor.metrics: what this supervisor records, and the hub it reports
        # to (its own instrument(), or that of the supervisor it is nested in).
        self._metrics: Recorder | None = None
        self._metrics_hub: MetricsHub | None = None
        # Supervisors opened inside this one's tasks (supervisor.console draws the
        # tree), and the task this one was opened in, if any.
        self._nested: weakref.WeakSet[Any] = weakref.WeakSet()
        self._opened_in: TaskHandle[Any] | None = None
        # supervisor.tracing: begins and ends a span around each attempt.
        self._tracing: AttemptTracing | None = None
        # The scope of the task that listens for shutdown_on signals, if any.
        self._signal_scope: Any = None
        # Failures waiting to be retrieved, or logged (log_failures="unretrieved").
        self._unretrieved = (
            UnretrievedFailures(name) if log_failures == "unretrieved" else None
        )
        self._n_significant_live = 0

    # -- the calls that go up the stack (defined by the job that owns them) ----

    async def _run(self, h: TaskHandle[Any]) -> None:
        """The runner of one attempt of ``h`` (``_running``)."""
        raise NotImplementedError

    async def _run_plain(self, h: TaskHandle[Any]) -> None:
        """``_run`` for a plain one-shot task on trio (``_running``)."""
        raise NotImplementedError

    async def _runner(self, h: TaskHandle[Any]) -> None:
        """A pooled runner: ``h``, then each attempt handed to it (``_running``)."""
        raise NotImplementedError

    def _finish_extra(
        self,
        h: TaskHandle[Any],
        extra: Extra,
        status: TaskStatus,
        value: object,
        exception: BaseException | None,
    ) -> float | None:
        """An attempt of a task with an Extra ended (``_restarts``)."""
        raise NotImplementedError

    async def _wait_to_restart(self, h: TaskHandle[Any], delay: float) -> None:
        """Wait out a backoff, then restart (``_restarts``)."""
        raise NotImplementedError

    async def _restart_group(self, h: TaskHandle[Any], delay: float) -> None:
        """Restart ``h`` with its group (``_groups``)."""
        raise NotImplementedError

    def _request_stop(self, h: TaskHandle[Any]) -> None:
        """Set ``h``'s stop request, as advice (``_stopping``)."""
        raise NotImplementedError

    def _cancel_waiting(self, h: TaskHandle[Any]) -> None:
        """handle.cancel() of a task that does not run (``_restarts``)."""
        raise NotImplementedError

    def _respawn_kept(self, h: TaskHandle[Any]) -> TaskHandle[Any] | None:
        """Start kept child ``h`` again, as a new task (``_children``)."""
        raise NotImplementedError

    def _after_end(self, h: TaskHandle[Any]) -> None:
        """A child with an entry became terminal (``_children``)."""
        raise NotImplementedError

    def _significant_ended(self) -> None:
        """A significant child ended by itself, no restart to follow (``_shutdown``)."""
        raise NotImplementedError

    def _cancel_all(self) -> None:
        """Stop everything at once (``_shutdown``)."""
        raise NotImplementedError
