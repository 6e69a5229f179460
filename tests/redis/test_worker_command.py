"""``python -m supervisor worker``: its arguments."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .fleet import ROOT


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nocolon", "module:attribute"),
        ("no_such_module_xyz:registry", "cannot import 'no_such_module_xyz'"),
        ("tests.redis.jobs:add", "must be a JobRegistry"),
    ],
)
def test_the_worker_command_rejects_a_bad_registry(spec: str, message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "supervisor", "worker", spec, "--queue", "q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    assert message in done.stderr


def test_the_worker_command_shows_its_options() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "supervisor", "worker", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0
    for option in (
        "--url",
        "--queue",
        "--concurrency",
        "--lease",
        "--drain-timeout",
        "--max-deliveries",
    ):
        assert option in done.stdout
