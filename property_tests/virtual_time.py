"""Running one example's ``trio.run`` on the autojump clock, with a hang guard."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio
import trio.testing

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

#: Virtual seconds after which an example counts as hung. On the autojump clock an
#: example whose tasks all wait for something that never comes (a lost wake-up)
#: jumps straight here and fails, instead of sleeping forever on the real clock.
HANG_AFTER = 1_000_000


class Hung(AssertionError):
    """Every task waited, with nothing left to wake them."""


def run_on_mock_clock(main: Callable[[], Awaitable[None]]) -> None:
    async def guarded() -> None:
        with trio.move_on_after(HANG_AFTER) as scope:
            await main()
        if scope.cancelled_caught:
            msg = f"hung: still waiting after {HANG_AFTER} virtual seconds"
            raise Hung(msg)

    trio.run(guarded, clock=trio.testing.MockClock(autojump_threshold=0))
