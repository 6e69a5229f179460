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

from typing import TYPE_CHECKING, Any, cast, final

from opentelemetry import context, trace
from opentelemetry.trace import Status, StatusCode

from ._status import TaskStatus
from ._supervisor import Supervisor
from ._util import fixup_module_metadata

if TYPE_CHECKING:
    from opentelemetry.trace import Span, TracerProvider

    from ._handle import TaskHandle

__all__ = ["instrument"]

_FAILED = TaskStatus.FAILED


@final
class _Tracing:
    __slots__ = ("_tracer",)

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def begin(self, h: TaskHandle[Any], /) -> object:
        sup = cast("Supervisor", h._sup)
        span = self._tracer.start_span(
            h._name,
            attributes={
                "trio_supervisor.supervisor": sup.name,
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


def instrument(sup: Supervisor, tracer_provider: TracerProvider | None = None) -> None:
    """Trace each attempt of ``sup``'s tasks, and of the supervisors opened inside
    them. Call it inside the block, before the tasks to trace start."""
    if not isinstance(cast("object", sup), Supervisor):
        msg = f"instrument() takes a Supervisor, got {sup!r}"
        raise TypeError(msg)
    if sup._tracing is not None:
        msg = f"supervisor {sup.name!r} is traced already (or nested in one that is)"
        raise ValueError(msg)
    sup._tracing = _Tracing(
        trace.get_tracer("supervisor", tracer_provider=tracer_provider)
    )


fixup_module_metadata(__name__, globals())
