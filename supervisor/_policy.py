"""The supervisor's decisions, as plain code: no clock, no event loop, no tasks.

What to do is decided here; how (trio tasks, cancel scopes, slots) is done by the
modules that call these functions. Property tests drive them directly against a
model of OTP's rules (``property_tests/test_policy.py``).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, TypeVar

from ._spec import AutoShutdown, Restart, Strategy
from ._status import TaskStatus

if TYPE_CHECKING:
    from collections.abc import Sequence

C = TypeVar("C")


class Phase(enum.Enum):
    """Where a supervisor is in its life; it only moves forward."""

    #: Accepting work.
    OPEN = "open"
    #: Closed to new work; a graceful shutdown's first phase lets one-shot work finish.
    CLOSED = "closed"
    #: Nothing may start or restart: ``cancel()``, the second phase of a graceful
    #: shutdown (stopping PERMANENT tasks), or the block has exited.
    STOPPING = "stopping"


class Role(enum.Enum):
    """What the supervisor is doing with one child, beyond its status.

    Legal changes are in ``_ROLE_NEXT`` (checked by ``Extra.set_role``, as the
    lifecycle table checks statuses).
    """

    #: Nothing: it runs, waits or restarts by its own policy.
    NONE = "none"
    #: A group restart is stopping this attempt; it is restarted with the group.
    GROUP_STOP = "group_stop"
    #: RESTARTING, held by a group restart that starts it in its turn; no runner.
    GROUP_HELD = "group_held"
    #: RESTARTING, and a group restart of its own waits to run; no runner.
    RESTART_PENDING = "restart_pending"
    #: ``terminate_child`` is stopping it: no restart follows, its spec is kept.
    TERMINATING = "terminating"
    #: The second phase of a graceful shutdown is stopping it: no restart follows.
    SHUTTING_DOWN = "shutting_down"

    @property
    def held(self) -> bool:
        """A RESTARTING task that a group restart holds: it has no runner."""
        return self is Role.GROUP_HELD or self is Role.RESTART_PENDING

    @property
    def for_good(self) -> bool:
        """A stop after which no restart follows is under way."""
        return self in _FOR_GOOD

    def may_become(self, new: Role) -> bool:
        return new in _ROLE_NEXT[self]


_FOR_GOOD = frozenset({Role.TERMINATING, Role.SHUTTING_DOWN})
_STOPS = _FOR_GOOD | {Role.GROUP_STOP}
#: Every legal change of role. A stop on purpose may be asked of a running task
#: whatever stop is under way (the latest says what follows), except that a stop
#: for good (TERMINATING, SHUTTING_DOWN) is never turned into a group stop: the
#: task ends, and a group restart that meets it waits for that end (as OTP, which
#: handles a terminate_child before the next exit it hears of). A group restart
#: holds only a task it stopped (GROUP_HELD) or whose own failure leads it
#: (RESTART_PENDING); a held task is released (NONE) or ends kept (TERMINATING).
_ROLE_NEXT: dict[Role, frozenset[Role]] = {
    Role.NONE: _STOPS | {Role.NONE, Role.RESTART_PENDING},
    Role.GROUP_STOP: _STOPS | {Role.GROUP_HELD, Role.NONE},
    Role.GROUP_HELD: frozenset({Role.NONE, Role.TERMINATING}),
    Role.RESTART_PENDING: frozenset({Role.NONE, Role.TERMINATING}),
    Role.TERMINATING: _FOR_GOOD | {Role.NONE},
    Role.SHUTTING_DOWN: _FOR_GOOD | {Role.NONE},
}


class Next(enum.Enum):
    """What follows an attempt of a task with a policy (``after_attempt``)."""

    #: No restart: the task ends as its attempt did.
    END = "end"
    #: As END, and it was a significant child that ended by itself: the auto
    #: shutdown rule is asked (``auto_shutdown_fires``).
    END_SIGNIFICANT = "end_significant"
    #: Its own restart policy runs it again (counted; now or after a backoff).
    RESTART = "restart"
    #: As RESTART, under ONE_FOR_ALL / REST_FOR_ONE: its group restarts with it.
    RESTART_WITH_GROUP = "restart_with_group"
    #: A group restart stopped it and starts it again in its turn (held).
    REJOIN_GROUP = "rejoin_group"
    #: A group restart stopped it for good (TEMPORARY, attempts used up, cancelled
    #: or shutting down).
    STOPPED_BY_GROUP = "stopped_by_group"


def after_attempt(
    role: Role,
    *,
    stopping: bool,
    cancelled: bool,
    restart: Restart,
    ended: TaskStatus,
    attempts: int,
    max_attempts: int | None,
    grouped: bool,
    significant: bool,
) -> Next:
    """What follows an attempt that ended ``ended`` while the supervisor did
    ``role`` with its task; ``stopping``: nothing may restart any more;
    ``cancelled``: ``handle.cancel()`` was called (a cancelled task is never
    restarted); ``grouped``: a strategy acts on siblings."""
    if role is Role.GROUP_STOP:
        if stopping or cancelled or not rejoins_group(restart, attempts, max_attempts):
            return Next.STOPPED_BY_GROUP
        return Next.REJOIN_GROUP
    if (
        role is Role.NONE
        and not stopping
        and not cancelled
        and restart_follows(restart, ended, attempts, max_attempts)
    ):
        return Next.RESTART_WITH_GROUP if grouped else Next.RESTART
    if (
        significant
        and role is Role.NONE
        and not cancelled
        and ended is not TaskStatus.CANCELLED
    ):
        return Next.END_SIGNIFICANT
    return Next.END


def restart_follows(
    restart: Restart, ended: TaskStatus, attempts: int, max_attempts: int | None
) -> bool:
    """Whether an attempt that ended ``ended`` (on its own) is run again.

    TEMPORARY never; TRANSIENT after a failure; PERMANENT after a failure or a
    normal return; never after a cancellation, nor once ``max_attempts`` are used.
    """
    if restart is Restart.TEMPORARY:
        return False
    if ended is TaskStatus.COMPLETED:
        if restart is not Restart.PERMANENT:
            return False
    elif ended is not TaskStatus.FAILED:
        return False  # a cancelled task is never restarted
    return max_attempts is None or attempts < max_attempts


def rejoins_group(restart: Restart, attempts: int, max_attempts: int | None) -> bool:
    """Whether a sibling stopped for a group restart is restarted with the group.

    However its attempt ended: a TEMPORARY sibling, or one whose attempts are used
    up, is stopped for good (it ends CANCELLED), as OTP does.
    """
    if restart is Restart.TEMPORARY:
        return False
    return max_attempts is None or attempts < max_attempts


def group_of(strategy: Strategy, order: Sequence[C], leader: C) -> list[C]:
    """The children a restart of ``leader`` restarts, in start order.

    ``order`` holds the supervisor's children in start order, ``leader`` among
    them. ONE_FOR_ONE: the leader alone; ONE_FOR_ALL: every child; REST_FOR_ONE:
    the leader and the children started after it.
    """
    if strategy is Strategy.ONE_FOR_ONE:
        return [leader]
    if strategy is Strategy.ONE_FOR_ALL:
        return list(order)
    return list(order[order.index(leader) :])


def stop_order(group: Sequence[C], leader: C) -> list[C]:
    """The siblings a group restart stops, one at a time: newest first."""
    return [c for c in reversed(group) if c is not leader]


def check_significant(
    significant: bool, restart: Restart, auto_shutdown: AutoShutdown
) -> None:
    """ValueError for a significant child that OTP does not allow."""
    if not significant:
        return
    if restart is Restart.PERMANENT:
        msg = "significant=True needs a TRANSIENT or TEMPORARY child, got restart=Restart.PERMANENT"
        raise ValueError(msg)
    if auto_shutdown is AutoShutdown.NEVER:
        msg = (
            "significant=True needs a supervisor opened with auto_shutdown="
            "AutoShutdown.ANY_SIGNIFICANT or ALL_SIGNIFICANT, not NEVER"
        )
        raise ValueError(msg)


def auto_shutdown_fires(auto_shutdown: AutoShutdown, significant_left: int) -> bool:
    """Whether a significant child that ended by itself, with no restart to follow,
    shuts the supervisor down; ``significant_left`` counts the significant children
    still alive after it (not those ``terminate_child`` stopped)."""
    if auto_shutdown is AutoShutdown.ANY_SIGNIFICANT:
        return True
    if auto_shutdown is AutoShutdown.ALL_SIGNIFICANT:
        return significant_left == 0
    return False
