"""shutdown_on: the first signal shuts down gracefully and cancels the body, a
second one cancels everything; the block exits without an exception. Real
signals, delivered to this process (SIGUSR1, whose default would kill it, so a
missing handler cannot pass unnoticed); real clock, bounded."""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path

import anyio
import pytest

from supervisor import Restart, TaskStatus, open_supervisor

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[1]


async def test_the_first_signal_drains_and_cancels_the_body() -> None:
    finished: list[str] = []

    async def short() -> None:
        await anyio.sleep(0.2)
        finished.append("short")

    async def forever() -> None:
        await anyio.sleep_forever()

    with anyio.fail_after(10):
        async with open_supervisor("s", shutdown_on=(signal.SIGUSR1,)) as sup:
            one_shot = sup.submit_nowait(short)
            permanent = sup.submit_nowait(forever, restart=Restart.PERMANENT)
            await anyio.sleep(0.05)
            os.kill(os.getpid(), signal.SIGUSR1)
            await anyio.sleep_forever()  # cancelled by the signal
    assert finished == ["short"]
    assert one_shot.status is TaskStatus.COMPLETED
    assert permanent.status is TaskStatus.CANCELLED


async def test_a_second_signal_cancels_everything_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each signal is logged, saying what it does."""
    caplog.set_level(logging.WARNING, logger="supervisor")

    async def stubborn() -> None:
        await anyio.sleep(60)

    with anyio.fail_after(10):
        async with open_supervisor("s", shutdown_on=(signal.SIGUSR1,)) as sup:
            h = sup.submit_nowait(stubborn)
            await anyio.sleep(0.05)
            os.kill(os.getpid(), signal.SIGUSR1)
            with anyio.CancelScope(shield=True):
                await anyio.sleep(0.1)  # the drain now waits for stubborn
                os.kill(os.getpid(), signal.SIGUSR1)
                await h.wait()
    assert h.status is TaskStatus.CANCELLED
    assert [
        (r.getMessage(), r.supervisor)  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "supervisor"
    ] == [
        ("supervisor 's': SIGUSR1: shutting down gracefully", "s"),
        ("supervisor 's': SIGUSR1: again: stopping everything now", "s"),
    ]


async def test_signals_are_no_longer_handled_after_the_block() -> None:
    """The handler is removed: after the block, SIGUSR1 is the process's again."""
    with anyio.fail_after(10):  # the listener ends with the block
        async with open_supervisor(shutdown_on=(signal.SIGUSR1,)):
            pass
    assert signal.getsignal(signal.SIGUSR1) in (signal.SIG_DFL, None)


@pytest.mark.parametrize(
    ("shutdown_on", "error", "match"),
    [
        (("TERM",), TypeError, "shutdown_on must hold signals"),
        ("SIGTERM", TypeError, "shutdown_on must be a tuple of signals"),
        ((99999,), ValueError, "not a signal of this platform"),
        ((True,), TypeError, "shutdown_on must hold signals"),
    ],
)
async def test_bad_signals(
    shutdown_on: object, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        async with open_supervisor(shutdown_on=shutdown_on):  # type: ignore[arg-type]
            pass


def test_outside_the_main_thread_it_is_a_runtime_error() -> None:
    caught: list[BaseException] = []

    async def main() -> None:
        async with open_supervisor(shutdown_on=(signal.SIGTERM,)):
            pass

    def run() -> None:
        try:
            anyio.run(main)
        except BaseException as exc:
            caught.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert len(caught) == 1
    assert isinstance(caught[0], RuntimeError)
    assert str(caught[0]) == (
        "shutdown_on needs the main thread (Python delivers signals there only)"
    )


# The service subprocess test runs examples/service.py: tests/examples/test_service.py
