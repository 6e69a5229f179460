"""What a worker's parts share: its options, the jobs it holds (in flight, so
counted against ``concurrency`` until their outcome is stored), and the outcomes
waiting to be stored."""

from __future__ import annotations

import random
from collections import Counter
from typing import TYPE_CHECKING, Any, Final

import anyio
import attrs
import coredis

from .._handle import TaskHandle
from .._metrics_hub import Histogram
from .._supervisor import Supervisor
from .._tracing_hook import JobTracing
from ._codec import Codec
from ._keys import QueueKeys
from ._registry import JobDefinition, JobRegistry
from ._scripts import Scripts

if TYPE_CHECKING:
    from ._outcome import StoredKind

#: Outcomes stored per script call.
OUTCOME_BATCH: Final = 500


@attrs.define(eq=False)
class LocalJob:
    """A job this worker holds: from its start until its outcome is stored."""

    entry: bytes
    id: str
    name: str
    #: The attempt number this run is (1 for the first).
    attempt: int
    definition: JobDefinition | None = None
    handle: TaskHandle[Any] | None = None
    value: Any = None
    #: cancel() was called on the job: its end is CANCELLED, not handed back.
    cancel_requested: bool = False
    #: Its lease was lost: another worker may run it; nothing is stored from here.
    fenced: bool = False
    #: Its "process" span, while it runs on a traced worker.
    span: object = None


class InFlight:
    """The jobs a worker holds, at most ``capacity``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.jobs: dict[str, LocalJob] = {}
        self._changed = anyio.Event()

    @property
    def free(self) -> int:
        return self.capacity - len(self.jobs)

    def add(self, job: LocalJob) -> None:
        self.jobs[job.id] = job

    def remove(self, job: LocalJob) -> None:
        if self.jobs.get(job.id) is job:
            del self.jobs[job.id]
            self._changed.set()
            self._changed = anyio.Event()

    async def wait_free(self) -> None:
        while self.free <= 0:
            await self._changed.wait()

    async def wait_empty(self) -> None:
        while self.jobs:
            await self._changed.wait()


class Outcomes:
    """Outcomes of finished jobs, waiting for the flusher to store them; and how
    many of each kind, by job name, since the worker started (for metrics)."""

    def __init__(self) -> None:
        self.waiting: list[tuple[LocalJob, StoredKind, bytes | str, int]] = []
        self._added = anyio.Event()
        self.counts: Counter[tuple[str, StoredKind]] = Counter()

    def put(
        self, job: LocalJob, kind: StoredKind, a: bytes | str = "", b: int = 0
    ) -> None:
        self.waiting.append((job, kind, a, b))
        self.counts[job.name, kind] += 1
        self._added.set()

    async def wait(self) -> None:
        while not self.waiting:
            self._added = anyio.Event()
            await self._added.wait()


@attrs.define(eq=False)
class WorkerState:
    """Everything the parts of one worker share."""

    client: coredis.Redis[bytes]
    keys: QueueKeys
    scripts: Scripts
    codec: Codec
    registry: JobRegistry
    consumer: str
    concurrency: int
    lease_ms: int
    max_deliveries: int
    result_ttl_ms: int
    rng: random.Random
    #: The supervisor of the jobs (set once it is open, before any job starts).
    jobs: Supervisor = attrs.field(init=False)
    inflight: InFlight = attrs.field(init=False)
    outcomes: Outcomes = attrs.field(factory=Outcomes, init=False)
    #: supervisor.tracing of jobs, when the worker is traced.
    tracing: JobTracing | None = attrs.field(default=None, init=False)
    #: Attempt durations by job name (for metrics).
    durations: dict[str, Histogram] = attrs.field(factory=dict, init=False)
    #: Task id -> job, for the jobs whose attempt runs now.
    by_task: dict[int, LocalJob] = attrs.field(factory=dict, init=False)
    #: While the fetcher waits for room: the flusher then fetches for the slots it
    #: frees, in the same round trip as the outcomes.
    refill: bool = attrs.field(default=False, init=False)
    #: Set once the worker drains: the fetcher takes no more jobs.
    draining: anyio.Event = attrs.field(factory=anyio.Event, init=False)
    #: Counters for statistics.
    started: int = attrs.field(default=0, init=False)
    reclaimed: int = attrs.field(default=0, init=False)
    fenced: int = attrs.field(default=0, init=False)
    #: Jobs handed back unrun or cut short, stored (no attempt counted).
    handed_back: int = attrs.field(default=0, init=False)
    #: Stopped at once (a second signal, an error, a cancelled scope).
    stopped_at_once: bool = attrs.field(default=False, init=False)

    def __attrs_post_init__(self) -> None:
        self.inflight = InFlight(self.concurrency)

    @property
    def solo(self) -> str:
        """Whether every job this worker runs runs alone (the begin scripts' flag)."""
        return "1" if self.concurrency == 1 else "0"
