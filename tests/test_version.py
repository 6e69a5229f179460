"""The version: one place (``supervisor.__version__``, which the build reads), shown
by ``--version`` of ``python -m supervisor`` and of the ``trio-supervisor`` command."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import supervisor
from supervisor.__main__ import main


def test_the_installed_version_is_the_packages() -> None:
    assert importlib.metadata.version("trio-supervisor") == supervisor.__version__


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"trio-supervisor {supervisor.__version__}\n"


def test_the_trio_supervisor_command_is_installed() -> None:
    """The console script next to this interpreter runs the same command line."""
    command = shutil.which("trio-supervisor", path=str(Path(sys.executable).parent))
    assert command is not None, "pip install -e . installs the trio-supervisor command"
    done = subprocess.run(
        [command, "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout) == (
        0,
        f"trio-supervisor {supervisor.__version__}\n",
    )
    usage = subprocess.run(
        [command], capture_output=True, text=True, timeout=60, check=False
    )
    assert usage.returncode == 2
    assert usage.stderr.startswith("usage: trio-supervisor")
