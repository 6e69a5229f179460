"""examples/service.py gets SIGTERM, drains in order, and exits 0 (both backends)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[2] / "examples" / "service.py"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["trio", "asyncio"])
def test_the_service_gets_sigterm_drains_and_exits_0(backend: str) -> None:
    process = subprocess.Popen(
        [sys.executable, str(SERVICE), backend],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
        process.wait(timeout=30)
    assert process.returncode == 0, err
    # PERMANENT workers stop newest first, each cleaned up before the next
    assert out.splitlines() == ["worker 1 cleaned up", "worker 0 cleaned up", "drained"]
    assert "SIGTERM: shutting down gracefully" in err
