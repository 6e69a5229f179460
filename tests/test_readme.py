"""The README's Python examples run as written (on a mock clock, so instantly)."""

from __future__ import annotations

import contextlib
import functools
import io
import re
from pathlib import Path

import pytest
import trio
import trio.testing

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize(
    "source", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))]
)
def test_readme_example_runs(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
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
