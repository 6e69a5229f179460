"""Exceptions raised by the supervisor.

The hierarchy::

    Exception
    ├── SupervisorError
    │   ├── SupervisorClosed          submit to a supervisor that is shutting down or done
    │   ├── QueueFull                 submit_nowait while max_pending tasks already wait
    │   ├── TaskFailed                handle.result() of a FAILED task (__cause__: its error)
    │   ├── TaskCancelled             handle.result() of a CANCELLED task
    │   ├── RestartIntensityExceeded  too many restarts in the window (raised out of the block)
    │   ├── ChildNotFound             no child with that id or handle (also a LookupError)
    │   ├── ChildRunning              restart_child/delete_child of a child that is not terminated
    │   ├── MailboxFull               ref.send_nowait() to a full mailbox
    │   ├── ActorCrashed              ref.call() whose handler raised (__cause__: its error)
    │   ├── ActorStopped              send/call to an actor that has stopped for good
    │   ├── JobFailed                 supervisor.redis: a job's last attempt failed
    │   ├── JobCancelled              supervisor.redis: a job was cancelled
    │   ├── JobDead                   supervisor.redis: a job could not be run
    │   ├── JobMalformed              supervisor.redis: a job's record cannot be read (also a ValueError)
    │   ├── JobNotFound               supervisor.redis: no such job (also a LookupError)
    │   └── RedisUnavailable          supervisor.redis: Redis cannot be reached (also a ConnectionError)
    └── TimeoutError
        └── TaskTimeout               recorded as handle.exception when an attempt's timeout expires

Misuse of the API (a sync function, a bad option value) raises the builtin
``TypeError`` / ``ValueError`` with a message naming the argument and the value.
"""

from __future__ import annotations


class SupervisorError(Exception):
    """Base class of the errors this package raises on purpose."""


class SupervisorClosed(SupervisorError):
    """The supervisor no longer accepts work: it is shutting down or has exited."""


class QueueFull(SupervisorError):
    """``submit_nowait`` found ``max_pending`` tasks already waiting for capacity."""


class TaskFailed(SupervisorError):
    """The task ended FAILED; ``__cause__`` is the exception that failed it."""


class TaskCancelled(SupervisorError):
    """The task ended CANCELLED, so it has no result."""


class RestartIntensityExceeded(SupervisorError):
    """More restarts than ``max_restarts`` happened within ``restart_period`` seconds."""


class ChildNotFound(SupervisorError, LookupError):
    """No child of this supervisor has that id (or it was forgotten), or the handle
    belongs to another supervisor."""


class ChildRunning(SupervisorError):
    """``restart_child``/``delete_child`` of a child that is running, restarting,
    or being started: terminate it first."""


class TaskTimeout(TimeoutError):
    """An attempt ran longer than its ``timeout``; recorded as the task's exception."""


class MailboxFull(SupervisorError):
    """``send_nowait`` found the actor's mailbox full."""


class ActorCrashed(SupervisorError):
    """The handler of this call raised; ``__cause__`` is its exception."""


class ActorStopped(SupervisorError):
    """The actor has stopped for good (or stopped before handling this message)."""


class JobFailed(SupervisorError):
    """A distributed job ended FAILED: its last attempt raised or timed out.

    The exception lived in another process, so it is described, not attached:
    ``error`` is its one-line form (``"ValueError: boom"``), ``traceback`` its text.
    """

    def __init__(self, job_id: str, error: str, traceback: str | None) -> None:
        super().__init__(f"job {job_id} failed: {error}")
        self.job_id = job_id
        self.error = error
        self.traceback = traceback


class JobCancelled(SupervisorError):
    """A distributed job ended CANCELLED, so it has no result."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} was cancelled")
        self.job_id = job_id


class JobDead(SupervisorError):
    """A distributed job ended DEAD (``reason`` says why); it is in the queue's
    dead-letter stream."""

    def __init__(self, job_id: str, reason: str) -> None:
        super().__init__(f"job {job_id} is dead: {reason}")
        self.job_id = job_id
        self.reason = reason


class JobMalformed(SupervisorError, ValueError):
    """A distributed job's record cannot be read (a field missing or of the wrong
    kind: written by hand, by a tool or by another version). ``reason`` says
    which; a worker that meets the job sets it DEAD with that reason."""

    def __init__(self, job_id: str, reason: str) -> None:
        super().__init__(f"job {job_id} has a malformed record: {reason}")
        self.job_id = job_id
        self.reason = reason


class RedisUnavailable(SupervisorError, ConnectionError):
    """``supervisor.redis`` could not reach Redis at ``url`` (its password
    hidden) within the time it was given to wait; the error from the client is
    chained (``__cause__``)."""

    def __init__(self, url: str, cause: str) -> None:
        super().__init__(f"cannot reach Redis at {url}: {cause}")
        self.url = url


class JobNotFound(SupervisorError, LookupError):
    """No job has that id in this queue (never enqueued, or its record expired
    after ``result_ttl``)."""
