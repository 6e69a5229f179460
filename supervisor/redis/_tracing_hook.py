"""What ``supervisor.redis`` calls when ``supervisor.tracing`` traces its jobs: a
protocol, so that it imports no OpenTelemetry."""

from __future__ import annotations

from typing import Protocol


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
