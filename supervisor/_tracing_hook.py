"""What the core calls around each attempt when ``supervisor.tracing`` is on: a
protocol, so that the core imports no OpenTelemetry."""

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
