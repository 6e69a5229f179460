"""What ``supervisor.tracing`` implements, as protocols, so that neither the core
nor ``supervisor.redis`` imports OpenTelemetry: the core calls ``AttemptTracing``
around each attempt, ``supervisor.redis`` calls ``JobTracing`` around sending
and processing its jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ._handle import TaskHandle
    from ._status import TaskStatus


class AttemptTracing(Protocol):
    def begin(self, h: TaskHandle[Any], /) -> object:
        """An attempt of ``h`` starts, in the task's own context: start its span
        and make it current; return what ``end`` needs."""
        ...

    def end(
        self, span: object, ended: TaskStatus, exception: BaseException | None, /
    ) -> None:
        """The attempt ended (``ended``: COMPLETED, FAILED or CANCELLED)."""
        ...


class JobTracing(Protocol):
    def send(self, queue: str, job_id: str, count: int, /) -> tuple[object, str]:
        """Jobs are being enqueued: start the "send" span (current while they are);
        return it and the traceparent the jobs carry."""
        ...

    def sent(self, span: object, error: BaseException | None, /) -> None: ...

    def process(
        self, queue: str, job_id: str, name: str, trace: bytes, /
    ) -> tuple[object, object]:
        """A job starts on a worker: start its "process" span, a child of the
        context ``trace`` carries, and make it current; return it and a token
        for ``detach``."""
        ...

    def detach(self, token: object, /) -> None: ...

    def processed(
        self, span: object, outcome: str, error: BaseException | None, /
    ) -> None: ...
