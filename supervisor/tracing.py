"""OpenTelemetry spans of supervised tasks (``pip install 'trio-supervisor[otel]'``).

::

    from supervisor.tracing import instrument

    async with open_supervisor("api") as sup:
        instrument(sup)            # the global tracer provider by default
        ...

A span per attempt, named after the task, a child of the span that was current
where the task was submitted (each task runs in a copy of its submitter's
context), and current while the attempt runs, so spans the task makes are its
children. Attributes: ``trio_supervisor.supervisor``, ``trio_supervisor.task.name``,
``trio_supervisor.task.id``, ``trio_supervisor.task.attempt`` and
``trio_supervisor.task.outcome`` (completed, failed, cancelled); a failure is
recorded as an exception event, with ``error.type`` and an ERROR status.
Supervisors opened inside its tasks are traced too.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Final, cast, final

from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ._status import TaskStatus
from ._supervisor import Supervisor
from ._util import fixup_module_metadata

if TYPE_CHECKING:
    from opentelemetry.trace import Span, TracerProvider

    from ._core import Core
    from ._handle import TaskHandle
    from .redis import Queue, Worker

__all__ = ["instrument"]

_FAILED = TaskStatus.FAILED
#: messaging.system of supervisor.redis spans (Redis Streams).
_SYSTEM: Final = "redis"
#: The consumer group of every queue (supervisor.redis._keys.GROUP).
GROUP: Final = "workers"


@final
class _Tracing:
    __slots__ = ("_tracer",)

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def begin(self, h: TaskHandle[Any], /) -> object:
        span = self._tracer.start_span(
            h._name,
            attributes={
                "trio_supervisor.supervisor": cast("Core", h._sup).name,
                "trio_supervisor.task.name": h._name,
                "trio_supervisor.task.id": h._id,
                "trio_supervisor.task.attempt": h._attempts,
            },
        )
        token = context.attach(trace.set_span_in_context(span))
        return span, token

    def end(
        self, started: object, ended: TaskStatus, exception: BaseException | None, /
    ) -> None:
        span, token = cast("tuple[Span, object]", started)
        context.detach(token)  # type: ignore[arg-type]
        span.set_attribute("trio_supervisor.task.outcome", ended.value)
        if ended is _FAILED and exception is not None:
            span.record_exception(exception)
            span.set_attribute("error.type", type(exception).__qualname__)
            span.set_status(Status(StatusCode.ERROR, str(exception)))
        span.end()


@final
class _JobTracing:
    """Spans of distributed jobs, by the messaging semantic conventions."""

    __slots__ = ("_tracer",)

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def send(self, queue: str, job_id: str, count: int, /) -> tuple[object, str]:
        attributes: dict[str, str | int] = {
            "messaging.system": _SYSTEM,
            "messaging.destination.name": queue,
            "messaging.operation.type": "send",
            "messaging.operation.name": "send",
        }
        if count == 1:
            attributes["messaging.message.id"] = job_id
        else:
            attributes["messaging.batch.message_count"] = count
        span = self._tracer.start_span(
            f"send {queue}", kind=SpanKind.PRODUCER, attributes=attributes
        )
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        return span, carrier.get("traceparent", "")

    def sent(self, span: object, error: BaseException | None, /) -> None:
        _end(cast("Span", span), error)

    def process(
        self, queue: str, job_id: str, name: str, trace_context: bytes, /
    ) -> tuple[object, object]:
        parent = (
            propagate.extract({"traceparent": trace_context.decode()})
            if trace_context
            else None
        )
        span = self._tracer.start_span(
            f"process {queue}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": _SYSTEM,
                "messaging.destination.name": queue,
                "messaging.message.id": job_id,
                "messaging.consumer.group.name": GROUP,
                "messaging.operation.type": "process",
                "messaging.operation.name": "process",
                "trio_supervisor.job.name": name,
            },
        )
        return span, context.attach(trace.set_span_in_context(span))

    def detach(self, token: object, /) -> None:
        context.detach(token)  # type: ignore[arg-type]

    def processed(
        self, span: object, outcome: str, error: BaseException | None, /
    ) -> None:
        cast("Span", span).set_attribute("trio_supervisor.job.outcome", outcome)
        _end(cast("Span", span), error)


def _end(span: Span, error: BaseException | None) -> None:
    if error is not None:
        span.record_exception(error)
        span.set_attribute("error.type", type(error).__qualname__)
        span.set_status(Status(StatusCode.ERROR, str(error)))
    span.end()


def instrument(
    target: Supervisor | Worker | Queue, tracer_provider: TracerProvider | None = None
) -> None:
    """Trace ``target``:

    - a ``Supervisor``: each attempt of its tasks, and of the supervisors opened
      inside them (call it inside the block, before the tasks to trace start);
    - a ``supervisor.redis`` queue: a ``send {queue}`` span (PRODUCER) per
      ``enqueue`` or ``enqueue_many``, whose context the jobs carry;
    - a ``supervisor.redis`` worker: a ``process {queue}`` span (CONSUMER) per job
      run, a child of its ``send`` span and current while the job runs.
    """
    tracer = trace.get_tracer("supervisor", tracer_provider=tracer_provider)
    redis = sys.modules.get("supervisor.redis")
    if redis is not None and isinstance(target, redis.Worker | redis.Queue):
        link = target._state if isinstance(target, redis.Worker) else target._link
        if link.tracing is not None:
            msg = f"{target!r} is traced already"
            raise ValueError(msg)
        link.tracing = _JobTracing(tracer)
        return
    sup = target
    if not isinstance(sup, Supervisor):
        msg = f"instrument() takes a Supervisor, a Worker or a Queue, got {sup!r}"
        raise TypeError(msg)
    if sup._core.ledger.attempt_tracing is not None:
        msg = f"supervisor {sup.name!r} is traced already (or nested in one that is)"
        raise ValueError(msg)
    sup._attach_tracing(_Tracing(tracer))


fixup_module_metadata(__name__, globals())
