"""``python -m supervisor top``: against a real redis-server with a worker."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("rich")

from rich.console import Console

from supervisor.redis import Queue, open_queue, open_worker
from supervisor.redis._connection import connect, queue_names
from supervisor.redis._top import look, render

from . import jobs
from .fleet import ROOT
from .helpers import wait_until, workers_are

pytestmark = pytest.mark.anyio


def text_of(renderable: object) -> str:
    console = Console(record=True, width=160, color_system=None)
    console.print(renderable)
    return console.export_text()


async def test_the_view_shows_queues_workers_and_the_finish_rate(
    url: str, queue: str
) -> None:
    async with open_queue(url, queue) as q, connect(url) as client:
        await q.enqueue_many("add", [(1, 1)] * 5)
        await q.enqueue("add", 1, 1, delay=60)
        assert queue in await queue_names(client)
        before = await look(client, queue)
        async with open_worker(url, queue, jobs.registry, name="w-top", concurrency=4):
            await wait_until(lambda: workers_are(q, 1))
            # Every job finished, not merely taken: "ready 0" holds from the moment
            # the last job is fetched, while it may still be in flight.
            await wait_until(lambda: _settled(q))
            after = await look(client, queue)
            text = text_of(render([after], {queue: before}))
    assert after.finished - before.finished == 5
    rows = [cells(line) for line in text.splitlines() if line.startswith("│")]
    [row] = [r for r in rows if r[0] == queue and r[1].isdigit()]
    assert row[:8] == [queue, "0", "1", "0", "0", "1", "0", "0"]
    assert float(row[8].replace(",", "")) > 0  # done/s
    [worker] = [r for r in rows if len(r) == 7 and r[1] == "w-top"]
    assert worker[4] == "0/4"  # done: it holds nothing
    assert worker[6] == "running"


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("│").split("│")]


async def _settled(q: Queue) -> bool:
    stats = await q.stats()
    return stats.ready == 0 and stats.in_flight == 0


async def test_a_worker_row_counts_the_jobs_it_holds_now(url: str, queue: str) -> None:
    async with open_queue(url, queue) as q, connect(url) as client:
        await q.enqueue_many("hold", [(f"{queue}-{i}", 60) for i in range(3)])
        async with open_worker(  # drain_timeout=0: the held jobs go back at once
            url, queue, jobs.registry, name="w-held", concurrency=4, drain_timeout=0
        ) as w:
            await wait_until(lambda: w.holding == 3)
            view = await look(client, queue)
            [worker] = view.workers
            assert (worker.name, worker.running, worker.concurrency) == ("w-held", 3, 4)


async def test_the_top_command_prints_one_view(url: str, queue: str) -> None:
    async with open_queue(url, queue) as q:
        await q.enqueue("add", 1, 1)
        done = subprocess.run(  # noqa: ASYNC221 - a short command, bounded
            [
                sys.executable,
                "-m",
                "supervisor",
                "top",
                "--url",
                url,
                "--queue",
                queue,
                "--once",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert queue in done.stdout
    assert "ready" in done.stdout
