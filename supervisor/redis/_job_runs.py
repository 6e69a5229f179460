"""Running a delivered job as a supervised task, and carrying out the outcome
``_outcome.decide_outcome`` gives for how it ended: logging it and handing it to
the flusher to store (or, for a run whose lease was lost, letting it go)."""

from __future__ import annotations

import json
import logging
import traceback
from typing import TYPE_CHECKING, Any

from .._errors import SupervisorClosed, TaskTimeout
from .._logging import one_line
from .._metrics_hub import Histogram
from .._status import TaskStatus
from ._outcome import Ending, decide_outcome
from ._records import text
from ._worker_state import LocalJob

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .._status import TaskEvent
    from ._worker_state import WorkerState

logger = logging.getLogger("supervisor.redis")
_COMPLETED = TaskStatus.COMPLETED
_FAILED = TaskStatus.FAILED
_CANCELLED = TaskStatus.CANCELLED


async def _attempt(
    job: LocalJob, fn: Callable[..., Awaitable[Any]], args: list[Any]
) -> None:
    job.value = await fn(*args)


def start_job(
    state: WorkerState,
    entry: bytes,
    job_id: str,
    name: str,
    payload: bytes,
    attempt: int,
    trace: bytes = b"",
) -> None:
    """Run one job that the begin script handed to this worker. It is in flight
    from here until its outcome is stored. ``trace``: the W3C traceparent the job
    was enqueued with (b"" for none)."""
    job = LocalJob(entry, job_id, name, attempt)
    state.inflight.add(job)
    definition = state.registry.get(name)
    if definition is None:
        known = ", ".join(state.registry.names()) or "none"
        end_run(
            state,
            job,
            Ending.UNKNOWN_NAME,
            reason=f"no job named {name!r} in the worker's registry (it has: {known})",
        )
        return
    try:
        args = state.codec.decode(payload)
        if not isinstance(args, list):
            msg = f"expected a list of arguments, got {type(args).__name__}"
            raise ValueError(msg)  # noqa: TRY004, TRY301 - one path for every bad payload
    except (
        Exception
    ) as exc:  # any codec error means the payload is bad: DEAD, never a crash
        end_run(
            state,
            job,
            Ending.BAD_PAYLOAD,
            reason=f"its payload does not decode: {exc!r}",
        )
        return
    job.definition = definition
    tracing = state.tracing
    token = None
    if tracing is not None:
        # The job's task copies the current context: its "process" span is current
        # in it, a child of the "send" span of the process that enqueued it.
        job.span, token = tracing.process(state.keys.queue, job_id, name, trace)
    try:
        handle = state.jobs.submit_nowait(
            _attempt, job, definition.fn, args, name=name, timeout=definition.timeout
        )
    except SupervisorClosed:  # the worker began to drain while the job was begun
        end_run(state, job, Ending.NOT_STARTED)
        return
    finally:
        if tracing is not None:
            tracing.detach(token)
    job.handle = handle
    state.by_task[handle.id] = job
    state.started += 1


def _failure_event(state: WorkerState, job: LocalJob, exc: BaseException) -> str:
    kind = "timeout" if isinstance(exc, TaskTimeout) else "failed"
    return json.dumps(
        {
            "event": kind,
            "worker": state.consumer,
            "attempt": job.attempt,
            "error": one_line(exc),
            "traceback": "".join(traceback.format_exception(exc)),
        }
    )


def end_run(
    state: WorkerState,
    job: LocalJob,
    ending: Ending,
    *,
    result: bytes = b"",
    error: BaseException | None = None,
    reason: str = "",
) -> None:
    """Carry out what ``decide_outcome`` makes of ``job``'s run ending as
    ``ending``: ``result`` is the encoded value of a COMPLETED run, ``error`` what
    ended a FAILED one, ``reason`` why a job that never ran cannot run."""
    definition = job.definition
    outcome = decide_outcome(
        ending,
        attempt=job.attempt,
        max_attempts=1 if definition is None else definition.max_attempts,
        backoff=None if definition is None else definition.backoff,
        rng=state.rng,
        cancel_requested=job.cancel_requested,
        fenced=job.fenced,
        reason=reason,
    )
    kind = outcome.kind
    if kind == "drop":
        state.inflight.remove(job)
    elif kind == "ok":
        state.outcomes.put(job, "ok", result)
    elif kind == "dead":
        logger.error(
            "job %s (%s) is DEAD: %s",
            job.id,
            job.name,
            outcome.reason,
            extra=_extra(state, job),
        )
        state.outcomes.put(job, "dead", outcome.reason)
    elif kind in ("retry", "fail"):
        assert error is not None
        _log_failure(state, job, error, outcome.delay_ms if kind == "retry" else None)
        state.outcomes.put(
            job, kind, _failure_event(state, job, error), outcome.delay_ms
        )
    else:
        state.outcomes.put(job, kind)


def _log_failure(
    state: WorkerState, job: LocalJob, exc: BaseException, delay_ms: int | None
) -> None:
    """A failed attempt: WARNING when it is retried (after ``delay_ms``), ERROR
    when the job failed for good (``delay_ms`` None)."""
    assert job.definition is not None
    attempt = (
        job.id,
        job.name,
        job.attempt,
        job.definition.max_attempts,
        one_line(exc),
    )
    if delay_ms is None:
        logger.error(
            "job %s (%s) failed for good on attempt %d of %d: %s",
            *attempt,
            exc_info=exc,
            extra=_extra(state, job),
        )
        return
    logger.warning(
        "job %s (%s) attempt %d of %d failed: %s; retrying in %.3g s",
        *attempt,
        delay_ms / 1000,
        extra=_extra(state, job),
    )


def _extra(state: WorkerState, job: LocalJob) -> dict[str, object]:
    return {
        "queue": state.keys.queue,
        "worker": state.consumer,
        "job_id": job.id,
        "job_name": job.name,
        "attempt": job.attempt,
    }


def on_job_event(state: WorkerState, event: TaskEvent) -> None:
    """The jobs supervisor's ``on_event``: an attempt that ended becomes an
    outcome to store."""
    if not event.new.is_terminal:
        return
    job = state.by_task.pop(event.task_id, None)
    if job is None:
        return
    handle, job.handle = job.handle, None
    if job.span is not None:
        assert state.tracing is not None
        state.tracing.processed(job.span, event.new.value, event.exception)
        job.span = None
    if handle is not None and event.new is not _CANCELLED:
        started = handle.started_at
        assert started is not None
        durations = state.durations.get(job.name)
        if durations is None:
            durations = state.durations[job.name] = Histogram()
        durations.observe(event.at - started)
    if event.new is _COMPLETED:
        try:
            result = state.codec.encode(job.value)
        except (TypeError, ValueError, OverflowError) as exc:
            error = TypeError(
                f"the result of job {job.name!r} cannot be encoded: {exc}"
            )
            end_run(state, job, Ending.FAILED, error=error)
        else:
            end_run(state, job, Ending.COMPLETED, result=result)
        job.value = None
    elif event.new is _FAILED:
        assert event.exception is not None
        end_run(state, job, Ending.FAILED, error=event.exception)
    else:
        end_run(state, job, Ending.CANCELLED)


def cancel_job(state: WorkerState, job: LocalJob, *, fenced: bool) -> None:
    """Stop this worker's copy of a job: cancel() was called on it, or its lease
    was lost (another worker may run it now, so nothing of this run is stored)."""
    if fenced:
        if not job.fenced:
            state.fenced += 1
        job.fenced = True
    else:
        job.cancel_requested = True
    if job.handle is not None:
        job.handle.cancel()
    elif fenced:
        state.inflight.remove(job)


#: Markers of the begin scripts' replies (``lua/common.lua``): in the place of
#: the attempt number, a job the script set DEAD, or an entry it set aside.
_DEAD_MARK = -1
_ASIDE_MARK = -2


def start_all(state: WorkerState, reply: list[Any]) -> None:
    """Start the jobs a fetch, reclaim or refill script began (six fields each),
    and log the ones it set DEAD or aside instead."""
    for i in range(0, len(reply), 6):
        entry, job_id, name, payload, attempt, trace = reply[i : i + 6]
        if attempt < 0:  # _DEAD_MARK or _ASIDE_MARK
            _log_refused(
                state, attempt, text(entry), text(job_id), text(name), text(payload)
            )
            continue
        # (the script passes only valid ids: printable ASCII)
        start_job(state, entry, job_id.decode(), text(name), payload, attempt, trace)


def _log_refused(
    state: WorkerState, mark: int, entry: str, job_id: str, name: str, reason: str
) -> None:
    extra = {"queue": state.keys.queue, "worker": state.consumer, "job_id": job_id}
    if mark == _DEAD_MARK:
        logger.error(
            "job %s (%s) is DEAD: %s", job_id, name or "no name", reason, extra=extra
        )
    else:
        logger.error(
            "queue %s: stream entry %s set aside (see q.malformed()): %s",
            state.keys.queue,
            entry,
            reason,
            extra=extra,
        )
