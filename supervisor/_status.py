"""The task lifecycle: statuses, the legal transitions between them, and events."""

from __future__ import annotations

import enum

import attrs


class TaskStatus(enum.Enum):
    """Where a supervised task is in its life.

    Legal transitions, and no others::

        PENDING    -> RUNNING | CANCELLED
        RUNNING    -> COMPLETED | FAILED | CANCELLED | RESTARTING
        RESTARTING -> RUNNING | CANCELLED | FAILED
    """

    #: Submitted; its function has not been called. Either waiting in the queue for a
    #: capacity slot, or holding one and about to be scheduled. ``started_at`` is None.
    PENDING = "pending"
    #: Its function is executing, inside the task's own cancel scope, holding a slot.
    RUNNING = "running"
    #: An attempt ended and another will follow; holds no capacity slot meanwhile.
    RESTARTING = "restarting"
    #: Terminal: the function returned; ``handle.result()`` gives the value.
    COMPLETED = "completed"
    #: Terminal: the function raised an ``Exception`` (or timed out) and no restart
    #: follows; ``handle.exception`` holds it.
    FAILED = "failed"
    #: Terminal: cancelled before it started, or it ended by cancellation.
    CANCELLED = "cancelled"

    # The statuses this one may move to; set below from LEGAL_TRANSITIONS. A plain
    # attribute of the member: the supervisor checks it on every transition.
    _next: tuple[TaskStatus, ...]

    @property
    def is_terminal(self) -> bool:
        """True for COMPLETED, FAILED and CANCELLED: a status that is never left."""
        return self in _TERMINAL

    def __repr__(self) -> str:
        return f"TaskStatus.{self.name}"


_TERMINAL = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})

# The transition table. Tuples, not sets: membership then tests identity first and
# never calls Enum.__hash__ (a Python-level function) on the hot path.
LEGAL_TRANSITIONS: dict[TaskStatus, tuple[TaskStatus, ...]] = {
    TaskStatus.PENDING: (TaskStatus.RUNNING, TaskStatus.CANCELLED),
    TaskStatus.RUNNING: (
        TaskStatus.COMPLETED,
        TaskStatus.FAILED,
        TaskStatus.CANCELLED,
        TaskStatus.RESTARTING,
    ),
    TaskStatus.RESTARTING: (
        TaskStatus.RUNNING,
        TaskStatus.CANCELLED,
        TaskStatus.FAILED,
    ),
    TaskStatus.COMPLETED: (),
    TaskStatus.FAILED: (),
    TaskStatus.CANCELLED: (),
}


for _status, _targets in LEGAL_TRANSITIONS.items():
    _status._next = _targets
del _status, _targets


def is_legal_transition(old: TaskStatus | None, new: TaskStatus) -> bool:
    """Whether ``old -> new`` is allowed; ``old`` None means the task is being created."""
    if old is None:
        return new is TaskStatus.PENDING
    return new in LEGAL_TRANSITIONS[old]


class Decision(enum.Enum):
    """What the supervisor decided when an attempt ended, carried by the event."""

    #: The task goes RESTARTING: it will run again (after its backoff, if any).
    RESTART = "restart"
    #: No restart follows a failure (TEMPORARY, or ``max_attempts`` used up), or a
    #: PERMANENT task's last allowed attempt returned: the task ends.
    GIVE_UP = "give_up"
    #: Restart intensity exceeded: this task's end tipped it, or its pending restart
    #: is given up; the supervisor stops and raises RestartIntensityExceeded.
    ESCALATE = "escalate"
    #: Stopped because a sibling restarts (ONE_FOR_ALL / REST_FOR_ONE): RESTARTING
    #: with it, or CANCELLED for good (TEMPORARY, or attempts used up).
    SIBLING_RESTART = "sibling_restart"

    def __repr__(self) -> str:
        return f"Decision.{self.name}"


@attrs.frozen
class TaskEvent:
    """One status change of one task, as emitted to ``on_event`` and subscribers.

    ``old`` is None for the event that records a task's creation (``new`` PENDING).
    ``at`` is the supervisor clock's time of the change; ``attempt`` counts the times
    the task had become RUNNING by then; ``exception`` is set on a change to FAILED
    (and to RESTARTING after a failure); ``decision`` says what the supervisor
    decided when an attempt ended (None where no policy was involved).
    """

    task_id: int
    name: str
    old: TaskStatus | None
    new: TaskStatus
    at: float
    attempt: int
    exception: BaseException | None = None
    decision: Decision | None = None
