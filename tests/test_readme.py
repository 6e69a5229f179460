"""The Python examples of the README and of the docs (docs/**/*.md) run as written
(on a mock clock, so instantly)."""

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

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]


def _blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.DOTALL)


BLOCKS = [(page, block) for page in PAGES for block in _blocks(page)]
#: Programs that need Redis run in tests/redis/test_readme_distributed.py.
PROGRAMS = [
    (page, b)
    for page, b in BLOCKS
    if "def test_" not in b and "supervisor.redis" not in b
]
TEST_FILES = [(page, b) for page, b in BLOCKS if "def test_" in b]


def _ids(blocks: list[tuple[Path, str]], kind: str) -> list[str]:
    return [f"{page.relative_to(ROOT)}:{kind}{i}" for i, (page, _) in enumerate(blocks)]


def test_readme_and_docs_have_examples() -> None:
    assert len([p for p, _ in PROGRAMS if p == README]) >= 2
    assert len([p for p, _ in PROGRAMS if p != README]) >= 4  # the tutorial's
    assert {p.name for p, _ in TEST_FILES} == {"README.md", "testing.md"}


@pytest.mark.parametrize(("page", "source"), PROGRAMS, ids=_ids(PROGRAMS, "program"))
def test_readme_program_runs(
    page: Path, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_run = trio.run
    monkeypatch.setattr(
        trio,
        "run",
        functools.partial(real_run, clock=trio.testing.MockClock(autojump_threshold=0)),
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, str(page), "exec"), {"__name__": "__readme__"})
    assert out.getvalue()  # every example prints what it shows


@pytest.mark.parametrize(("page", "source"), TEST_FILES, ids=_ids(TEST_FILES, "tests"))
def test_readme_test_examples_pass_as_user_tests(
    page: Path, source: str, pytester: Any
) -> None:
    """A user's test file, with only the installed package and its pytest plugin."""
    pytester.makepyfile(test_from_readme=source)
    result = pytester.runpytest_subprocess("-q", "-p", "trio")
    result.assert_outcomes(passed=source.count("def test_"))
