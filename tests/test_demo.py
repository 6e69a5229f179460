"""The README's demo runs and shows every outcome (trio, virtual time)."""

from __future__ import annotations

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
    restart_line = "cache      restarting  (ConnectionError: cache lost its connection)"
    assert text.count(restart_line) == 2
    assert (report.restarts_in_period, report.restarts_remaining) == (2, 1)
    assert report.status is Health.DEGRADED
    assert report.reasons == ("failure rate 0.222 >= 0.1",)
    assert (report.running, report.pending) == (0, 0)


def test_cli_requires_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "demo" in capsys.readouterr().err
