"""The README's demo runs and shows every outcome (trio, virtual time)."""

from __future__ import annotations

import importlib.util
import io
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import trio.testing

from supervisor import Health
from supervisor.__main__ import main
from supervisor._demo import demo


@pytest.mark.trio
async def test_demo_shows_every_outcome_and_a_report(
    autojump_clock: trio.testing.MockClock,
) -> None:
    out = io.StringIO()
    report = await demo(out)
    text = out.getvalue()
    for word in (
        "queued",
        "running",
        "completed",
        "FAILED  (ConnectionError",
        "TaskTimeout",
        "cancelled",
        "Health report",
    ):
        assert word in text, word
    counts = (report.submitted, report.completed, report.failed, report.cancelled)
    assert counts == (12, 7, 2, 3)
    restart_line = "cache      restarting  -> restart after backoff  (ConnectionError"
    assert text.count(restart_line) == 2
    assert all(len(line) <= 80 for line in text.splitlines())  # an 80-column terminal
    assert (report.restarts_in_period, report.restarts_remaining) == (2, 1)
    assert report.status is Health.DEGRADED
    if importlib.util.find_spec("rich") is None:
        return  # without the console extra, the demo shows no tree
    # The live view's picture of the tree, at 1.11 s
    tree = text[text.index("the tree now") :].splitlines()
    assert tree[1] == "demo  HEALTHY  running 3  pending 4  |  completed 3  failed 1"
    assert tree[2] == "├── cache #1 RUNNING  attempt 2  age 1.1s  restarts 1"
    assert report.reasons == ("failure rate 0.222 >= 0.1",)
    assert (report.running, report.pending) == (0, 0)


def test_cli_requires_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "demo" in capsys.readouterr().err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.trio
async def test_on_a_terminal_the_statuses_are_coloured(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    terminal = _Terminal()
    await demo(terminal)
    text = terminal.getvalue()
    assert "\x1b[32mcompleted\x1b[0m" in text
    assert "\x1b[1;31mFAILED\x1b[0m" in text
    monkeypatch.setenv("NO_COLOR", "1")
    plain = _Terminal()
    await demo(plain)
    assert "\x1b[" not in plain.getvalue().split("the tree now")[0]
