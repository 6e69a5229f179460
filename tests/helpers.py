"""Task functions that several test modules share."""

from __future__ import annotations

from typing import Any, NoReturn

import trio


async def sleep_then(seconds: float, value: object = None) -> object:
    await trio.sleep(seconds)
    return value


async def sleep_then_raise(seconds: float, exc: BaseException) -> NoReturn:
    await trio.sleep(seconds)
    raise exc


async def slow_cleanup() -> None:
    """Runs until cancelled, then takes 2 s (shielded) to clean up."""
    try:
        await trio.sleep_forever()
    finally:
        with trio.CancelScope(shield=True):
            await trio.sleep(2)


async def crash_at(when: float) -> NoReturn:
    await trio.sleep_until(when)
    raise ValueError(f"crash at {when}")


def crash_once_at(when: float) -> Any:
    """A task function that crashes at ``when`` on its first run only."""
    runs = 0

    async def run() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            await crash_at(when)
        await trio.sleep_forever()

    return run


async def running(*handles: Any) -> None:
    """Checkpoint until every handle is RUNNING, with no virtual time passing.

    Tasks submitted at the same instant start in an order trio may shuffle: a test
    that depends on start order submits each one after the previous is running.
    """
    from supervisor import TaskStatus

    for h in handles:
        while h.status is not TaskStatus.RUNNING:
            await trio.lowlevel.checkpoint()
