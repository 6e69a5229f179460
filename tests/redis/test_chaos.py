"""Chaos: worker processes killed with SIGKILL at moments Hypothesis chooses,
while a poison job kills its own workers. Nothing may be lost.

Each run: three workers (each replaced when it dies), 40-70 jobs that record
their start and end, maybe one poison job, one or two kills. Then, once every
job is terminal:

- every job ended once, in one final state (none lost, none left waiting);
- executions minus jobs <= the jobs in flight at the deaths of workers;
- no two executions of one job overlap unless the first one's worker died;
- the poison job is DEAD after max_deliveries; no other job is;
- the stream, the pending list and the delayed set are empty.

``SUPERVISOR_CHAOS_RUNS`` sets the number of runs (default 20), split over
four tests so that none runs long;
``SUPERVISOR_CHAOS_REPORT=<file>`` appends each run's figures to a file.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from supervisor.redis import JobHandle, JobStatus, Queue, QueueStats, open_queue

from .fleet import Fleet, WorkerProcess

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

RUNS = int(os.environ.get("SUPERVISOR_CHAOS_RUNS", "20"))
#: The runs are split over this many tests (each a few seconds per run), so
#: that one test stays well inside the suite's hang detector.
SHARDS = 4
WORKERS = 3
LEASE = 1.0
MAX_DELIVERIES = 3
#: The longest one run may take to settle (real seconds).
RUN_BOUND = 60.0

plans = st.fixed_dictionaries(
    {
        "durations": st.lists(
            st.sampled_from([0.01, 0.05, 0.1, 0.3]), min_size=40, max_size=70
        ),
        "concurrency": st.integers(2, 6),
        "poison": st.booleans(),
        # (after how many jobs ended, which worker among those holding jobs)
        "kills": st.lists(
            st.tuples(st.integers(0, 25), st.integers(0, WORKERS - 1)),
            min_size=1,
            max_size=2,
        ),
    }
)


@pytest.mark.parametrize("shard", range(SHARDS))
@settings(
    max_examples=max(1, -(-RUNS // SHARDS)),
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=plans)
def test_no_job_is_lost_when_workers_are_killed(
    url: str, tmp_path: Path, shard: int, plan: dict[str, Any]
) -> None:
    anyio.run(_run, url, tmp_path / f"{uuid.uuid4().hex}.log", plan, backend="trio")


@dataclass
class Execution:
    """One run of a job, from the lines it wrote (no end: cut short)."""

    pid: int
    start: float
    end: float | None = None


class Deaths:
    """Each dead worker and how many jobs it held when it died."""

    def __init__(self) -> None:
        self.pids: set[int] = set()
        self.in_flight = 0


async def _held(q: Queue, consumer: str) -> int:
    pending = await q.client.xpending(
        q.keys.stream, "workers", "-", "+", 10_000, consumer=consumer
    )
    return len(pending)


async def _bury(q: Queue, worker: WorkerProcess, deaths: Deaths) -> None:
    """A worker died: what it held stays pending until its lease expires (later
    than this read), so this is the number of jobs its death may repeat."""
    assert worker.name is not None
    deaths.pids.add(worker.pid)
    deaths.in_flight += await _held(q, worker.name)


async def _run(url: str, record: Path, plan: dict[str, Any]) -> None:
    queue = f"chaos-{uuid.uuid4().hex[:10]}"
    durations: list[float] = plan["durations"]
    kills: list[tuple[float, int]] = sorted(plan["kills"])
    concurrency: int = plan["concurrency"]
    deaths = Deaths()
    with Fleet(url, queue, env={"RECORD_FILE": str(record)}) as fleet:

        def start() -> WorkerProcess:
            return fleet.start(
                concurrency=concurrency,
                lease=LEASE,
                max_deliveries=MAX_DELIVERIES,
                name=f"w{len(fleet.workers)}-{uuid.uuid4().hex[:6]}",
                ready=False,
            )

        async with open_queue(url, queue) as q:
            handles = await q.enqueue_many(
                "record", [(f"j{i}", d) for i, d in enumerate(durations)]
            )
            poison = await q.enqueue("kill_my_process") if plan["poison"] else None
            for _ in range(WORKERS):
                start()
            with anyio.fail_after(RUN_BOUND):
                while not await _all_done(q, handles, poison):
                    if kills and _ended(record) >= kills[0][0]:
                        holding = [
                            w
                            for w in fleet.live()
                            if w.name and await _held(q, w.name) > 0
                        ]
                        if holding:
                            _, which = kills.pop(0)
                            holding[which % len(holding)].kill()
                    for worker in fleet.workers:
                        if not worker.alive() and worker.pid not in deaths.pids:
                            await _bury(q, worker, deaths)
                            start()
                    await anyio.sleep(0.005)
            assert not kills, "the run ended before every planned kill"
            await _check(q, record, handles, poison, deaths)


def _report(**figures: object) -> None:
    """With ``SUPERVISOR_CHAOS_REPORT=<file>``, one JSON line per run."""
    path = os.environ.get("SUPERVISOR_CHAOS_REPORT")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps(figures) + "\n")


def _ended(record: Path) -> int:
    """How many executions have ended (the record file's ``end`` lines)."""
    if not record.exists():
        return 0
    return record.read_text().count("end ")


async def _all_done(
    q: Queue, handles: list[JobHandle], poison: JobHandle | None
) -> bool:
    stats = await q.stats()
    if stats.ready or stats.delayed or stats.in_flight:
        return False
    for h in [*handles, *([poison] if poison else [])]:
        if not (await h.status()).is_terminal:
            return False
    return True


async def _check(
    q: Queue,
    record: Path,
    handles: list[JobHandle],
    poison: JobHandle | None,
    deaths: Deaths,
) -> None:
    for h in handles:
        info = await h.info()
        assert info.status is JobStatus.SUCCEEDED, info
        assert info.deliveries < MAX_DELIVERIES, info
    if poison is not None:
        info = await poison.info()
        assert info.status is JobStatus.DEAD, info
        assert info.deliveries == MAX_DELIVERIES, info
    runs: dict[str, list[Execution]] = defaultdict(list)
    lines = record.read_text().splitlines() if record.exists() else []  # noqa: ASYNC240 - a small local file, read once at the end
    for line in lines:
        kind, token, pid, at = line.split()
        if kind == "start":
            runs[token].append(Execution(int(pid), float(at)))
        else:
            [run] = [r for r in runs[token] if r.pid == int(pid) and r.end is None]
            run.end = float(at)
    executions = sum(len(r) for r in runs.values())
    _report(
        jobs=len(handles),
        poison=poison is not None,
        deaths=len(deaths.pids),
        in_flight_at_deaths=deaths.in_flight,
        executions=executions,
        repeated=executions - len(handles),
    )
    assert len(runs) == len(handles)
    assert executions - len(handles) <= deaths.in_flight, (executions, deaths.in_flight)
    for token, token_runs in runs.items():
        ordered = sorted(token_runs, key=lambda r: r.start)
        # Every run but the last was cut short or not acknowledged, so its worker
        # must have died (a run that returned is in flight until its outcome is
        # stored); and no run overlaps the next unless its worker died.
        for first, second in pairwise(ordered):
            assert first.pid in deaths.pids, (token, ordered)
            assert first.end is None or first.end <= second.start, (token, ordered)
        assert ordered[-1].end is not None, (token, ordered)
    assert await q.stats() == QueueStats(
        ready=0,
        delayed=0,
        in_flight=0,
        dead=1 if poison else 0,
        workers=(await q.stats()).workers,
    )
    assert await q.client.xlen(q.keys.stream) == 0
