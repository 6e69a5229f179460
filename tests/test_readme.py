"""The README's Python examples run as written (on a mock clock, so instantly)."""

from __future__ import annotations

import contextlib
import functools
import io
import re
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
#: Programs that need Redis run in tests/redis/test_readme_distributed.py.
PROGRAMS = [b for b in BLOCKS if "def test_" not in b and "supervisor.redis" not in b]
TEST_FILES = [b for b in BLOCKS if "def test_" in b]


def test_readme_has_examples() -> None:
    assert len(PROGRAMS) >= 2
    assert len(TEST_FILES) >= 1


@pytest.mark.parametrize(
    "source", PROGRAMS, ids=[f"program{i}" for i in range(len(PROGRAMS))]
)
def test_readme_program_runs(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real_run = trio.run
    monkeypatch.setattr(
        trio,
        "run",
        functools.partial(real_run, clock=trio.testing.MockClock(autojump_threshold=0)),
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, str(README), "exec"), {"__name__": "__readme__"})
    assert out.getvalue()  # every example prints what it shows


@pytest.mark.parametrize(
    "source", TEST_FILES, ids=[f"tests{i}" for i in range(len(TEST_FILES))]
)
def test_readme_test_examples_pass_as_user_tests(source: str, pytester: Any) -> None:
    """A user's test file, with only the installed package and its pytest plugin."""
    pytester.makepyfile(test_from_readme=source)
    result = pytester.runpytest_subprocess("-q", "-p", "trio")
    result.assert_outcomes(passed=source.count("def test_"))
