"""Worker processes for the tests: ``python -m supervisor worker`` started for
real, stopped by signals, killed with SIGKILL, always reaped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from types import TracebackType

ROOT: Final = Path(__file__).resolve().parents[2]
#: The longest a worker process may take to start or to exit (real seconds).
PROCESS_BOUND: Final = 30.0


class WorkerProcess:
    def __init__(self, process: subprocess.Popen[str], name: str | None = None) -> None:
        self.process = process
        self.pid = process.pid
        self.name = name

    def wait_ready(self) -> None:
        """Until it printed its first line (its worker joined the group)."""
        assert self.process.stdout is not None
        os.set_blocking(self.process.stdout.fileno(), True)
        line = self.process.stdout.readline()
        if not line.startswith("worker "):
            self.kill()
            msg = f"worker {self.pid} did not start: {line!r}"
            raise RuntimeError(msg)

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL if it still runs; reap it and close its pipe."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.process.wait(timeout=PROCESS_BOUND)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def wait(self, timeout: float = PROCESS_BOUND) -> int:
        return self.process.wait(timeout=timeout)


class Fleet:
    """Starts workers of one queue and makes sure none outlives the test."""

    def __init__(
        self, url: str, queue: str, *, env: dict[str, str] | None = None
    ) -> None:
        self.url = url
        self.queue = queue
        self.env = {**os.environ, **(env or {})}
        self.workers: list[WorkerProcess] = []

    def start(
        self,
        *,
        concurrency: int = 4,
        lease: float = 1.0,
        drain_timeout: float = 5.0,
        max_deliveries: int = 3,
        backend: str = "trio",
        name: str | None = None,
        ready: bool = True,
        log: Path | None = None,
    ) -> WorkerProcess:
        """``log``: a file for the worker's stderr (its log), else discarded."""
        err = None if log is None else log.open("a")
        try:
            process = subprocess.Popen(
                [
                    sys.executable, "-m", "supervisor", "worker", "tests.redis.jobs:registry",
                    "--url", self.url,
                    "--queue", self.queue,
                    "--concurrency", str(concurrency),
                    "--lease", str(lease),
                    "--drain-timeout", str(drain_timeout),
                    "--max-deliveries", str(max_deliveries),
                    "--backend", backend,
                    *(["--name", name] if name else []),
                ],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL if err is None else err,
                text=True,
            )  # fmt: skip
        finally:
            if err is not None:
                err.close()  # (the worker has its own copy)
        worker = WorkerProcess(process, name)
        self.workers.append(worker)
        if ready:
            worker.wait_ready()
        return worker

    def live(self) -> list[WorkerProcess]:
        return [w for w in self.workers if w.alive()]

    def __enter__(self) -> Fleet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for worker in self.workers:
            worker.kill()


def wait_for(check: object, within: float) -> None:
    """A bounded wait of sync code on the real clock."""
    deadline = time.monotonic() + within
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            msg = f"still false after {within} s: {check!r}"
            raise TimeoutError(msg)
        time.sleep(0.01)
