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


@pytest.mark.parametrize(
    ("command", "loader", "extra"),
    [("worker", "_load_worker", "redis"), ("top", "_load_top", "redis,console")],
)
def test_a_command_whose_extra_is_missing_says_how_to_install_it(
    command: str,
    loader: str,
    extra: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import supervisor.__main__ as cli

    def missing() -> object:
        raise ImportError("No module named 'coredis'")

    monkeypatch.setattr(cli, loader, missing)
    assert cli.main([command, "anything", "--url", "x"]) == 2
    err = capsys.readouterr().err
    assert f"pip install 'trio-supervisor[{extra}]'" in err
    assert "No module named 'coredis'" in err
