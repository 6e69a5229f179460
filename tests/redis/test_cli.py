"""``python -m supervisor worker`` and ``top`` as an operator meets them: Redis
not up yet, typos, bad values, secrets in the URL. Every error is one line on
stderr with a documented exit code, never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from supervisor.redis import RedisUnavailable, open_queue

from .fleet import ROOT, Fleet, wait_for
from .server import RedisServer, free_port

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

SECRET = "s3cr3t-pw"


def _command(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "supervisor", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def _one_line(stderr: str) -> str:
    """The error: one line (log lines aside), and no traceback."""
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if " supervisor.redis " not in line]
    assert len(lines) == 1, stderr
    return lines[0]


def _closed_url() -> str:
    return f"redis://user:{SECRET}@127.0.0.1:{free_port()}/0"


def test_a_worker_started_before_its_redis_serves_every_job(tmp_path: Path) -> None:
    """The worker starts 5 s before redis-server (docker compose, systemd
    ordering): it waits, with WARNING lines and no traceback, then serves."""
    server = RedisServer(tmp_path)
    log = tmp_path / "worker.log"
    with Fleet(server.url, "early") as fleet:
        worker = fleet.start(ready=False, log=log)
        started = time.monotonic()
        wait_for(lambda: "not there yet" in log.read_text(), within=10)
        wait_for(lambda: time.monotonic() - started >= 5, within=10)
        assert worker.alive()
        server.start()
        try:
            worker.wait_ready()
            done = _command(
                "top",
                "--url",
                server.url,
                "--queue",
                "early",
                "--once",
                "--interval",
                "0.1",
            )
            assert done.returncode == 0, done.stderr
            import anyio

            async def enqueue_and_check() -> None:
                async with open_queue(server.url, "early") as q:
                    handles = await q.enqueue_many("add", [(i, 1) for i in range(20)])
                    assert [await h.result(timeout=20) for h in handles] == [
                        i + 1 for i in range(20)
                    ]

            anyio.run(enqueue_and_check, backend="trio")
            worker.signal(signal.SIGTERM)
            assert worker.wait() == 0
        finally:
            server.stop()
    text = log.read_text()
    assert "Traceback" not in text
    waits = [line for line in text.splitlines() if "not there yet" in line]
    assert 1 <= len(waits) <= 2  # one line per 30 s of waiting
    assert "WARNING" in waits[0]
    assert "is there after" in text


@pytest.mark.anyio
async def test_open_queue_raises_redis_unavailable_naming_the_url_not_its_password() -> (
    None
):
    url = _closed_url()
    with pytest.raises(RedisUnavailable) as raised:
        async with open_queue(url, "q"):
            pass  # pragma: no cover - never reached
    error = raised.value
    assert isinstance(error, ConnectionError)
    assert SECRET not in str(error)
    assert error.url == url.replace(SECRET, "***")
    assert str(error).startswith(f"cannot reach Redis at {error.url}: ")
    assert type(error.__cause__).__module__.startswith("coredis")


@pytest.mark.anyio
async def test_open_queue_waits_for_redis_as_long_as_it_is_told() -> None:
    start = time.monotonic()
    with pytest.raises(RedisUnavailable):
        async with open_queue(_closed_url(), "q", wait_for_redis=0.5):
            pass  # pragma: no cover - never reached
    assert 0.4 <= time.monotonic() - start < 5


@pytest.mark.parametrize("command", ["worker", "top"])
def test_redis_not_reachable_in_time_is_one_line_and_exit_1(command: str) -> None:
    args = ["tests.redis.jobs:registry", "--queue", "q"] if command == "worker" else []
    done = _command(command, *args, "--url", _closed_url(), "--wait-for-redis", "0.2")
    assert done.returncode == 1
    line = _one_line(done.stderr)
    assert line.startswith(f"python -m supervisor {command}: error: cannot reach Redis")
    assert "redis://user:***@127.0.0.1" in line
    assert SECRET not in done.stderr + done.stdout


@pytest.mark.parametrize("command", ["worker", "top"])
def test_a_bad_url_scheme_is_one_line_without_the_password(command: str) -> None:
    args = ["tests.redis.jobs:registry", "--queue", "q"] if command == "worker" else []
    done = _command(command, *args, "--url", f"http://u:{SECRET}@host/0")
    assert done.returncode == 1
    line = _one_line(done.stderr)
    assert "url must start with redis://" in line
    assert SECRET not in line


def test_the_url_can_come_from_the_environment(url: str) -> None:
    """SUPERVISOR_REDIS_URL keeps a password out of the process list."""
    done = _command(
        "top", "--once", "--interval", "0.01", env={"SUPERVISOR_REDIS_URL": url}
    )
    assert done.returncode == 0, done.stderr
    done = _command("top", "--once", env={"SUPERVISOR_REDIS_URL": _closed_url()})
    assert done.returncode == 1
    assert SECRET not in done.stderr


def test_top_of_a_queue_with_no_keys_says_so(url: str) -> None:
    done = _command("top", "--url", url, "--queue", "nosuch-queue", "--once")
    assert done.returncode == 1
    assert "queue 'nosuch-queue' has no keys on this Redis" in _one_line(done.stderr)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["worker", "r:r", "--queue", "q", "--concurrency", "0"], "--concurrency"),
        (["worker", "r:r", "--queue", "q", "--lease", "-1"], "--lease"),
        (
            ["worker", "r:r", "--queue", "q", "--wait-for-redis", "soon"],
            "--wait-for-redis",
        ),
        (["worker", "r:r"], "--queue"),
        (["top", "--interval", "0"], "--interval"),
        (["top", "--log-level", "LOUD"], "--log-level"),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    done = _command(*args)
    assert done.returncode == 2
    line = _one_line(done.stderr)
    assert message in line
    assert line.endswith("(see --help)")


@pytest.mark.parametrize("command", ["worker", "top"])
def test_help_shows_every_option_with_its_default(command: str) -> None:
    done = _command(command, "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    options = ["--url", "--wait-for-redis", "--log-level"]
    if command == "worker":
        options += ["--concurrency", "--lease", "--drain-timeout", "--max-deliveries",
                    "--name", "--backend"]  # fmt: skip
        assert "exit code 3" in text
    else:
        options += ["--interval", "--queue", "--once"]
    for option in options:
        assert option in text
    assert text.count("(default:") >= len(options) - 2  # (--queue, --once: flags)
    assert "SUPERVISOR_REDIS_URL" in text


def test_a_signal_while_waiting_for_redis_exits_0_at_once(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    with Fleet(_closed_url(), "q") as fleet:
        worker = fleet.start(ready=False, log=log)
        wait_for(lambda: "not there yet" in log.read_text(), within=10)
        worker.signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 0
    text = log.read_text()
    assert "SIGTERM before the worker started: exiting" in text
    assert "Traceback" not in text


def test_a_worker_says_which_queue_it_serves_and_warns_of_a_new_one(
    url: str, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    with Fleet(url, "never-used-queue") as fleet:
        worker = fleet.start(log=log)
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0
    text = log.read_text()
    assert "serves queue 'never-used-queue' at redis://127.0.0.1" in text
    [warning] = [line for line in text.splitlines() if "never had a job" in line]
    assert " WARNING " in warning
    assert "drained: 0 jobs handed back" in text


def test_a_worker_name_in_use_is_one_line_and_exit_1(url: str) -> None:
    with Fleet(url, "named") as fleet:
        fleet.start(name="w-named")
        done = _command(
            "worker", "tests.redis.jobs:registry", "--url", url, "--queue", "named",
            "--name", "w-named",
        )  # fmt: skip
    assert done.returncode == 1
    assert _one_line(done.stderr) == (
        "python -m supervisor worker: error: name 'w-named' is used by a live worker "
        "of queue 'named'"
    )
