"""Stopping one task on purpose, by its shutdown policy.

A stop on purpose (``terminate_child``, a group restart, a graceful shutdown's
second phase) first sets the task's stop request, then cancels it at once
(``shutdown=0``), after ``shutdown`` seconds, or never (``shutdown=None``), and
returns once the attempt has ended, its cleanup done. Its role says why it was
stopped, which decides what follows (``_policy.after_attempt``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ._handle import extra_of
from ._logging import SHUTDOWN_REPORT_EVERY, log_shutdown_waiting
from ._policy import Role
from ._spec import Restart
from ._status import TaskStatus

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._backend import Backend, Event
    from ._handle import TaskHandle
    from ._table import TaskTable

_RUNNING = TaskStatus.RUNNING
_PERMANENT = Restart.PERMANENT


class Stopper(Protocol):
    """What a stop on purpose uses of the runtime (``_core.Core``)."""

    name: str
    backend: Backend
    clock: Callable[[], float]
    table: TaskTable


async def stop_attempt(core: Stopper, h: TaskHandle[Any], role: Role) -> None:
    """Stop RUNNING ``h`` by its shutdown policy, for the reason ``role``.

    Returns once the attempt has ended (its cleanup done). If the caller is
    cancelled meanwhile, ``h`` is cancelled at once and the cancel propagates.
    """
    extra = extra_of(h)
    if role is not Role.GROUP_STOP or not extra.role.for_good:
        extra.set_role(role)
    # (Else a stop for good is under way, and decides what follows: a group
    # restart waits for its end.)
    extra.request_stop()
    if h._status is not _RUNNING:
        return  # a stop hook (a nested supervisor) ended it already
    ended = extra.attempt_end
    if ended is None:
        ended = extra.attempt_end = core.backend.Event()
    scope = h._scope
    assert scope is not None
    shutdown = extra.shutdown
    report = role is Role.SHUTTING_DOWN  # a graceful shutdown says it waits
    try:
        if shutdown is None:
            await _wait_for(core, ended, report)
        elif shutdown > 0:
            with core.backend.CancelScope(deadline=core.clock() + shutdown):
                await _wait_for(core, ended, report)
        scope.cancel()  # a no-op once the attempt has ended
        await _wait_for(core, ended, report)
    except BaseException:
        # Broad on purpose: whoever stops it gave up waiting (cancelled): the
        # task is cancelled at once, its cleanup goes on in its own runner,
        # and the cancel propagates.
        scope.cancel()
        raise


async def _wait_for(core: Stopper, ended: Event, report: bool) -> None:
    """``ended.wait()``; with ``report`` (a graceful shutdown), saying what it
    waits for as it goes."""
    if report:
        await wait_reporting(core, ended, permanent=True)
    else:
        await ended.wait()


async def wait_reporting(core: Stopper, event: Event, *, permanent: bool) -> None:
    """``event.wait()`` for a graceful shutdown, logging every
    SHUTDOWN_REPORT_EVERY seconds the tasks it still waits for (the PERMANENT
    ones, or the others)."""
    while True:
        with core.backend.CancelScope(
            deadline=core.clock() + SHUTDOWN_REPORT_EVERY
        ) as scope:
            await event.wait()
        if not scope.cancelled_caught:
            return
        _report_waiting(core, permanent=permanent)


def _report_waiting(core: Stopper, *, permanent: bool) -> None:
    """A graceful shutdown still waits: say for what (the oldest few of the
    PERMANENT tasks, or of the others)."""
    waiting = []
    for h in core.table.live():
        extra = h._extra
        if (extra is not None and extra.restart is _PERMANENT) is permanent:
            since = h._started_at if h._started_at is not None else h._created_at
            waiting.append((since, h._name, h._id, h._status.name))
    log_shutdown_waiting(core.name, waiting, core.clock())
