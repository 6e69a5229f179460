"""What an operator sees of deaths and reclaims: ``q.stats()`` and ``top`` tell
a live worker from a lost one and say when a lost worker's jobs are reclaimed;
the reclaiming worker logs each reclaim; a DEAD job is logged at ERROR."""

from __future__ import annotations

import logging
import math
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from supervisor.redis import JobDead, JobStatus, open_queue, open_worker

from . import jobs
from .fleet import ROOT, Fleet
from .helpers import all_status, wait_until

if TYPE_CHECKING:
    from pathlib import Path

    from supervisor.redis import Queue

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

LEASE = 2.0


@pytest.fixture
def anyio_backend() -> str:
    return "trio"  # the producer's side; the workers are processes


async def _lost_is(q: Queue, lost: int, workers: int) -> bool:
    stats = await q.stats()
    return (stats.lost, stats.workers) == (lost, workers)


async def test_a_killed_worker_shows_as_lost_until_its_jobs_are_reclaimed(
    url: str, queue: str, tmp_path: Path
) -> None:
    pytest.importorskip("rich")
    from supervisor.redis._top import look

    async with open_queue(url, queue) as q:
        held = await q.enqueue_many("hold", [(f"{queue}-{i}", 60) for i in range(3)])
        with Fleet(url, queue) as fleet:
            victim = fleet.start(lease=LEASE, name="victim")
            await wait_until(lambda: all_status(held, JobStatus.RUNNING))
            victim.kill()
            # Lost once its heartbeat is three beats old (a beat: lease / 3).
            await wait_until(lambda: _lost_is(q, 1, 0), within=LEASE + 3)
            # The jobs are cut short so that, reclaimed, they end at once.
            for h in held:
                await q.client.hset(q.keys.job(h.id), {"args": f'["{h.id}", 0]'})
            # No live worker: nothing says when they will be reclaimed.
            view = await look(q.client, queue)
            (worker,) = view.workers
            assert (worker.name, worker.running, worker.lost) == ("victim", 3, True)
            assert math.isnan(worker.reclaim_in)
            assert math.isnan(worker.beat_age)
            log = tmp_path / "rescuer.log"
            fleet.start(lease=LEASE, name="rescuer", log=log)
            assert [await h.result(timeout=LEASE + 10) for h in held] == [
                h.id for h in held
            ]
            assert await _lost_is(q, 0, 1)
            text = log.read_text()
    reclaims = re.findall(
        r"WARNING worker rescuer: reclaimed job (\w+) \(hold\) from worker victim "
        r"after (\d+\.\d) s without a renewal \(lease 2 s\)",
        text,
    )
    assert sorted(job for job, _ in reclaims) == sorted(h.id for h in held)
    assert all(float(after) >= LEASE for _, after in reclaims)


async def test_top_shows_a_lost_worker_and_when_its_jobs_are_reclaimed(
    url: str, queue: str
) -> None:
    pytest.importorskip("rich")
    from supervisor.redis._top import look, render

    from .test_top import text_of

    async with open_queue(url, queue) as q:
        h = await q.enqueue("hold", queue, 60)
        with Fleet(url, queue) as fleet:
            victim = fleet.start(lease=30, name="victim")
            await wait_until(lambda: all_status([h], JobStatus.RUNNING))
            victim.kill()
            await wait_until(lambda: _lost_is(q, 1, 0), within=20)
            # A live worker with a long lease says how long the wait is.
            async with open_worker(url, queue, jobs.registry, name="live", lease=30):
                await wait_until(lambda: _lost_is(q, 1, 1))
                text = text_of(render([await look(q.client, queue)], {}))
                await h.cancel()
    assert re.search(
        r"victim .* 1/\d+ .* \? .* lost: its jobs are reclaimed in \d+\.\ds", text
    ), text
    assert re.search(r"live .* 0/32 .* running", text), text


async def test_a_dead_job_is_logged_at_error_with_its_reason(
    url: str, queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with open_queue(url, queue) as q:
        h = await q.enqueue("mystery", 1)
        async with open_worker(url, queue, jobs.registry):
            with pytest.raises(JobDead):
                await h.result(timeout=10)
    [line] = [r for r in caplog.records if "is DEAD" in r.getMessage()]
    assert line.levelno == logging.ERROR
    assert line.getMessage() == (
        f"job {h.id} (mystery) is DEAD: no job named 'mystery' in the worker's "
        f"registry (it has: {', '.join(jobs.registry.names())})"
    )


async def test_top_once_shows_a_rate_from_two_samples(url: str, queue: str) -> None:
    async with open_queue(url, queue):
        done = subprocess.run(  # noqa: ASYNC221 - a short command, bounded
            [sys.executable, "-m", "supervisor", "top", "--url", url, "--queue",
             queue, "--once", "--interval", "0.2"],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [row] = [line for line in done.stdout.splitlines() if line.startswith(f"│ {queue}")]
    assert row.strip("│ ").split("│")[-1].strip() == "0.0"  # done/s, not "-"
