"""The README's "Across processes and hosts" and the docs' "Scale out" how-to run as
written: their files are the ones in examples/distributed, the workers run the
docs' command line (with a 1 s lease, so that a reclaim is quick), and the steps (two
workers, the producer, a worker killed with kill -9, a SIGTERM) lose nothing."""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import sys

import pytest

from supervisor.redis import Queue, open_queue

from .fleet import ROOT, WorkerProcess
from .helpers import wait_until

pytestmark = pytest.mark.slow

README = (ROOT / "README.md").read_text()
EXAMPLE = ROOT / "examples" / "distributed"
SECTION = README[README.index("## Across processes and hosts") :]
SECTION = SECTION[: SECTION.index("\n## ", 1)]
BLOCKS = re.findall(r"```python\n(.*?)```", SECTION, flags=re.DOTALL)
HOWTO = (ROOT / "docs" / "howto" / "scaling-out.md").read_text()
#: The worker command of the how-to, as the shell would split it.
[DOCS_WORKER, DOCS_WORKER_AGAIN] = [
    shlex.split(line.removesuffix("&"))
    for line in re.findall(r"```sh\n(.*?)```", HOWTO, flags=re.DOTALL)[0].splitlines()
]


def test_the_readme_shows_the_example_files_as_they_are() -> None:
    assert (EXAMPLE / "jobs.py").read_text() == BLOCKS[0]
    assert (EXAMPLE / "producer.py").read_text() == BLOCKS[1]


def test_the_docs_start_the_same_worker_twice() -> None:
    assert DOCS_WORKER == DOCS_WORKER_AGAIN
    assert DOCS_WORKER[:5] == ["python", "-m", "supervisor", "worker", "jobs:registry"]


def _docs_command(url: str, queue: str) -> list[str]:
    """The how-to's worker command, on this test's server and queue."""
    command = [sys.executable, *DOCS_WORKER[1:]]
    command[command.index("--url") + 1] = url
    command[command.index("--queue") + 1] = queue
    return command


def _worker(url: str, queue: str, name: str) -> WorkerProcess:
    worker = WorkerProcess(
        subprocess.Popen(
            [*_docs_command(url, queue), "--lease", "1", "--name", name],
            cwd=EXAMPLE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
    )  # fmt: skip
    worker.wait_ready()
    return worker


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_two_workers_a_producer_and_a_kill_9_lose_nothing(url: str) -> None:
    producer_source = (EXAMPLE / "producer.py").read_text()
    assert 'queue="images"' in producer_source
    queue = "images"
    workers = [_worker(url, queue, "first"), _worker(url, queue, "second")]
    producer = subprocess.Popen(  # noqa: ASYNC220 - starting it does not block
        [sys.executable, "producer.py", url],
        cwd=EXAMPLE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert producer.stdout is not None
        assert producer.stdout.readline() == "enqueued 200 jobs\n"
        async with open_queue(url, queue) as q:  # the README's "sleep 1", exact:
            await wait_until(lambda: _holds(q, "first"))  # it holds jobs now
        workers[0].kill()
        out, err = producer.communicate(timeout=60)
        assert producer.returncode == 0, err
        lines = out.splitlines()
        assert lines[0] == "all 200 done, e.g. img0.png@640px"
        assert (
            lines[1]
            == "QueueStats(ready=0, delayed=0, in_flight=0, dead=0, workers=1, malformed=0, lost=0)"
        )
        workers[1].signal(signal.SIGTERM)
        assert workers[1].wait(30) == 0
    finally:
        producer.kill()
        producer.wait(timeout=30)
        for worker in workers:
            worker.kill()


async def _holds(q: Queue, consumer: str) -> bool:
    pending = await q.client.xpending(
        q.keys.stream, "workers", "-", "+", 1, consumer=consumer
    )
    return bool(pending)


def test_the_embedded_worker_program_runs(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = BLOCKS[2].replace('"redis://127.0.0.1:6379/0"', repr(url))
    monkeypatch.syspath_prepend(str(EXAMPLE))
    done = subprocess.run(
        [sys.executable, "-c", source],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "a.png@320px",
        "JobStatus.CANCELLED",
        "QueueStats(ready=0, delayed=0, in_flight=0, dead=0, workers=1, malformed=0, lost=0)",
    ]
