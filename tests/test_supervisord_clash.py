"""supervisord (PyPI 'supervisor') installed over us replaces supervisor/__init__.py:
the command line and the pytest plugin then say so, and what to do, instead of an
ImportError that names nothing. Simulated with a copy of the package whose
__init__.py is supervisord's (a comment), first on the path of a fresh interpreter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import supervisor

PACKAGE = Path(supervisor.__file__).resolve().parent
#: A mutation run's package is mutmut's rewrite, which needs mutmut's own setup to
#: import: a copy of it says nothing about the clash.
needs_real_package = pytest.mark.skipif(
    bool(os.environ.get("SUPERVISOR_MUTATION_RUN")), reason="a mutated copy"
)


@pytest.fixture
def overwritten(tmp_path: Path) -> Path:
    copy = tmp_path / "supervisor"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "__init__.py").write_text("# this is a package\n")  # supervisord's
    return tmp_path


def _run(where: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=where,  # first on sys.path for -m and -c
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@needs_real_package
@pytest.mark.slow
def test_the_command_line_names_the_clash(overwritten: Path) -> None:
    done = _run(overwritten, "-m", "supervisor", "--version")
    assert done.returncode == 2
    assert "not trio-supervisor's: supervisord" in done.stderr
    assert "pip uninstall supervisor" in done.stderr


@needs_real_package
@pytest.mark.slow
def test_the_pytest_plugin_names_the_clash(overwritten: Path) -> None:
    (overwritten / "test_nothing.py").write_text("def test_x():\n    pass\n")
    done = _run(
        overwritten,
        "-c",
        "import pytest, sys; sys.exit(pytest.main(['-q', 'test_nothing.py']))",
    )
    assert done.returncode != 0
    assert "not trio-supervisor's: supervisord" in done.stdout + done.stderr


def test_ours_is_ours() -> None:
    from supervisor._clash import clash

    assert clash() is None
