"""What a queue object and its job handles share: the connection and the queue's
names, scripts and codec."""

from __future__ import annotations

import attrs
import coredis
from anyio.abc import TaskGroup

from .._tracing_hook import JobTracing
from ._codec import Codec
from ._keys import QueueKeys
from ._result_waiters import ResultWaiters
from ._scripts import Scripts


@attrs.define(eq=False)
class QueueLink:
    name: str
    client: coredis.Redis[bytes]
    keys: QueueKeys
    scripts: Scripts
    codec: Codec
    result_ttl_ms: int
    waiters: ResultWaiters
    #: The queue's own task group (result waiters, metrics refresh).
    task_group: TaskGroup
    #: supervisor.tracing of the jobs enqueued here, when the queue is traced.
    tracing: JobTracing | None = None
    #: Set when the open_queue block exits: the connection is gone.
    closed: bool = False

    def check_open(self) -> None:
        if self.closed:
            msg = (
                f"queue {self.name!r} is closed: use its handles inside the open_queue "
                f"block, or q.job(id) of another open queue"
            )
            raise RuntimeError(msg)
