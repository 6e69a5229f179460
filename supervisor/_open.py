"""Opening a supervisor: :func:`open_supervisor`, the ``async with`` block that owns
a :class:`Supervisor` and its nurseries, and what escapes it."""

from __future__ import annotations

import contextvars
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from . import _test_switches
from ._arguments import (
    LogFailures,
    Runners,
    check_log_failures,
    check_options,
    check_restart_options,
    check_runners,
    check_signals,
)
from ._backend import current_backend
from ._checks import check_count, check_seconds
from ._core import Core
from ._handle import current_handle, extra_of
from ._health import HealthRules
from ._shutdown import one_or_group
from ._spec import AutoShutdown, Strategy
from ._supervisor import Supervisor

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable

    from ._status import TaskEvent

_CURRENT_SUPERVISOR: contextvars.ContextVar[Supervisor | None] = contextvars.ContextVar(
    "supervisor.current", default=None
)


@asynccontextmanager
async def open_supervisor(
    name: str = "supervisor",
    *,
    max_concurrent: int | None = None,
    max_pending: int | None = None,
    strategy: Strategy = Strategy.ONE_FOR_ONE,
    max_restarts: int = 3,
    restart_period: float | None = 5.0,
    shutdown_grace: float | None = None,
    on_event: Callable[[TaskEvent], object] | None = None,
    seed: int | None = None,
    health_rules: HealthRules | None = None,
    auto_shutdown: AutoShutdown = AutoShutdown.NEVER,
    log_failures: LogFailures = "unretrieved",
    shutdown_on: Iterable[int] = (),
    runners: Runners = "task",
) -> AsyncIterator[Supervisor]:
    """Open a supervisor for the duration of an ``async with`` block.

    Args:
        name: shown in logs, errors and reprs.
        max_concurrent: at most this many tasks RUNNING at once (>= 1); None: no limit.
        max_pending: at most this many PENDING tasks waiting for capacity (>= 0);
            None: no limit.
        strategy: which children restart with a restarted one (:class:`Strategy`).
        max_restarts: restart intensity: more than this many restart decisions
            (>= 0) ...
        restart_period: ... within this many seconds (> 0) make the supervisor give
            up with :class:`RestartIntensityExceeded`; None: no limit.
        shutdown_grace: seconds a graceful shutdown lets work finish before
            cancelling it (>= 0); None: no limit.
        on_event: sync callback given every :class:`TaskEvent`; it must not block,
            and its exceptions are logged and ignored.
        seed: seeds the random generator of backoff jitter, for reproducible runs.
        health_rules: how :meth:`Supervisor.health` chooses its status.
        auto_shutdown: whether the end of significant children shuts the supervisor
            down (:class:`AutoShutdown`): the block's body is then cancelled and the
            block exits through a graceful shutdown, without an exception.
        log_failures: ``"unretrieved"`` logs a failure once at ERROR, when its
            handle is collected or the block exits, unless ``result()`` raised it,
            ``handle.exception`` was read or ``start_child`` raised it;
            ``"always"`` logs every failure when it happens; ``"never"`` leaves
            failures to events and handles.
        shutdown_on: signals (e.g. ``(signal.SIGINT, signal.SIGTERM)``) whose first
            delivery starts a graceful shutdown and cancels the block's body, and
            whose second cancels everything; the block then exits without an
            exception. Needs the main thread (RuntimeError otherwise).
        runners: ``"task"``: a trio task per attempt; ``"pooled"`` (needs
            ``max_concurrent``, faster): each slot's runner runs attempts one after
            another, with every guarantee kept, but ``current_task()`` is the
            runner's (use :func:`current_handle`).

    Leaving the block normally shuts down gracefully (see :meth:`Supervisor.shutdown`).
    Leaving it by an exception, or by cancellation of a scope around it, cancels
    every task at once. Either way, when the block exits every handle is terminal and
    no task is left running. Opened inside a supervised task, the supervisor shuts
    down gracefully (and cancels the body) when that task's stop is requested.

    Exception-group policy (what escapes the block):
      - the body raised E and no task raised a BaseException: E itself, bare;
      - a task raised a non-Exception BaseException K (KeyboardInterrupt,
        SystemExit) and the body did not raise: K itself, bare (task
        ``Exception`` s never escape: they make the task FAILED);
      - both, or several such: a ``BaseExceptionGroup`` of exactly those;
      - only ``Cancelled``: it propagates to the scope that cancelled.
    """
    check_options(name, on_event, health_rules)
    check_count("max_concurrent", max_concurrent, 1)
    check_count("max_pending", max_pending, 0)
    check_seconds("shutdown_grace", shutdown_grace, zero_ok=True)
    check_restart_options(strategy, max_restarts, restart_period, seed, auto_shutdown)
    check_log_failures(log_failures)
    check_runners(runners, max_concurrent)
    signals = check_signals(shutdown_on)
    if health_rules is None:
        health_rules = HealthRules()
    backend = current_backend()
    sup = Supervisor._create(
        Core(
            name=name,
            max_concurrent=max_concurrent,
            max_pending=max_pending,
            shutdown_grace=shutdown_grace,
            on_event=on_event,
            health_rules=health_rules,
            backend=backend,
            strategy=strategy,
            max_restarts=max_restarts,
            restart_period=restart_period,
            seed=seed,
            auto_shutdown=auto_shutdown,
            log_failures=log_failures,
            pooled=runners == "pooled" or _test_switches.pooled_runners,
        )
    )
    # Supervision trees share one actor registry: a supervisor opened inside a task
    # of another one (which inherits the submitter's context) joins its tree.
    parent = _CURRENT_SUPERVISOR.get()
    if parent is not None and not parent._core.done.is_set():
        # Traced and instrumented too, when the parent is.
        sup._nest(parent, current_handle())
    block = sup._block
    core = sup._core
    # A stop request of the task this block runs in stops the block gracefully.
    host_extra = None
    host_task = current_handle()
    if host_task is not None and not host_task.done():
        host_extra = extra_of(host_task)
        if host_extra.stop_hooks is None:
            host_extra.stop_hooks = []
        host_extra.stop_hooks.append(block.stop_from_inside)
    token = _CURRENT_SUPERVISOR.set(sup)
    raise_this: BaseException | None = None
    try:
        async with backend.open_nursery() as outer:
            block.opened(outer)
            await outer.start(block.host)
            if signals:
                await outer.start(block.on_signals, signals)
            try:
                with backend.CancelScope() as body:
                    block.body(body)
                    if host_extra is not None and host_extra.stop_requested:
                        block.stop_from_inside()
                    yield sup
                block.body(None)
                await block.drain(core.shutdown_grace)
                await block.wait_done()
            except BaseException:
                # Broad on purpose: the body raised, or a scope around the block was
                # cancelled: stop every task at once, then let it propagate.
                core.cancel_all()
                raise
    except BaseExceptionGroup as eg:
        raise_this = one_or_group(eg, backend.cancelled_exc)
        if raise_this is None:
            raise
    finally:
        _CURRENT_SUPERVISOR.reset(token)
        core.ledger.log_unretrieved()  # the block exits: what is left is logged
        if sup._metrics_hub is not None:
            sup._metrics_hub.detach(core.table)
        if parent is not None:
            parent._nested.discard(sup)
        if host_extra is not None and host_extra.stop_hooks is not None:
            host_extra.stop_hooks.remove(block.stop_from_inside)
    if raise_this is not None:
        # Raised outside the except block so that it keeps its own __context__.
        try:
            raise raise_this
        finally:
            del raise_this
