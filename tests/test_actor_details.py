"""Actors: exact statistics, messages, defaults and edge values (trio, virtual time)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import trio
import trio.testing

from supervisor import (
    Actor,
    ActorCrashed,
    ActorStatistics,
    ActorStopped,
    MailboxFull,
    Restart,
    TaskStatus,
    open_supervisor,
)

pytestmark = pytest.mark.trio
S = TaskStatus


class Worker(Actor[Any, Any]):
    """ "crash" raises ValueError; ("sleep", s) sleeps; anything else is echoed."""

    def __init__(self, gate: trio.Event | None = None) -> None:
        self.gate = gate

    async def on_start(self) -> None:
        if self.gate is not None:
            await self.gate.wait()

    async def handle(self, message: Any) -> Any:
        if message == "crash":
            raise ValueError("crashed on purpose")
        if isinstance(message, tuple):
            await trio.sleep(message[1])
        return message


def stats(**fields: Any) -> ActorStatistics:
    base: dict[str, Any] = {
        "name": "w",
        "mailbox_depth": 0,
        "mailbox_size": 100,
        "processed": 0,
        "failed": 0,
        "restarts": 0,
        "stopped": False,
    }
    return ActorStatistics(**{**base, **fields})


async def test_statistics_count_every_field_exactly(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        ref = await sup.spawn_actor(Worker, name="w", mailbox_size=3)
        assert ref.statistics() == stats(mailbox_size=3)
        ref.send_nowait(("sleep", 1))
        ref.send_nowait("a")
        ref.send_nowait("crash")
        await trio.testing.wait_all_tasks_blocked()
        # The first is being handled: it stays in the mailbox until it is done.
        assert ref.statistics() == stats(mailbox_size=3, mailbox_depth=3)
        assert sup.health().actors == (ref.statistics(),)
        await trio.sleep(1)
        await trio.testing.wait_all_tasks_blocked()
        assert ref.statistics() == stats(
            mailbox_size=3, processed=2, failed=1, restarts=1
        )
        assert await ref.call("b") == "b"
        assert ref.statistics() == stats(
            mailbox_size=3, processed=3, failed=1, restarts=1
        )
        ref.send_nowait("crash")
        await trio.testing.wait_all_tasks_blocked()
        assert ref.statistics() == stats(
            mailbox_size=3, processed=3, failed=2, restarts=2
        )
    assert ref.statistics() == stats(
        mailbox_size=3, processed=3, failed=2, restarts=2, stopped=True
    )
    assert sup.health().actors == ()


async def test_actor_in_on_start_is_registered_but_not_reported(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gate = trio.Event()
    async with open_supervisor() as sup, trio.open_nursery() as nursery:
        nursery.start_soon(lambda: sup.spawn_actor(Worker, gate, name="w"))
        await trio.testing.wait_all_tasks_blocked()
        ref = sup.whereis("w")
        assert ref is not None
        assert ref.statistics() == stats()
        assert sup.health().actors == ()  # not started yet
        ref.send_nowait("early")  # queued; handled once on_start is done
        assert ref.statistics() == stats(mailbox_depth=1)
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert ref.statistics() == stats(processed=1)
        assert sup.health().actors == (stats(processed=1),)
        sup.cancel()


async def test_a_crash_on_a_sent_message_fails_the_actor_with_its_own_error(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        ref = await sup.spawn_actor(Worker, name="w", restart=Restart.TEMPORARY)
        ref.send_nowait("crash")
        await ref.handle.wait()
        assert ref.handle.status is S.FAILED
        error = ref.handle.exception
        assert type(error) is ValueError
        assert str(error) == "crashed on purpose"
        assert sup.whereis("w") is None  # stopped for good: the name is free
        with pytest.raises(ActorStopped, match=r"^actor 'w' has stopped$"):
            ref.send_nowait("x")
        with pytest.raises(ActorStopped, match=r"^actor 'w' has stopped$"):
            await ref.call("x")
        again = await sup.spawn_actor(Worker, name="w")
        assert sup.whereis("w") is again
        assert again is not ref


async def test_a_crashed_call_names_the_actor_and_the_message(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        ref = await sup.spawn_actor(Worker, name="w")
        with pytest.raises(
            ActorCrashed, match=r"^actor 'w' crashed handling 'crash'$"
        ) as info:
            await ref.call("crash")
        assert type(info.value.__cause__) is ValueError
        # The restarted actor's handle keeps the handler's own error.
        assert type(ref.handle.exception) is ValueError
        sup.cancel()


async def test_callers_queued_at_a_stop_for_good_are_told_why(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        ref = await sup.spawn_actor(Worker, name="w", restart=Restart.TEMPORARY)
        ref.send_nowait("crash")
        with pytest.raises(
            ActorStopped, match=r"^actor 'w' stopped before handling the message$"
        ):
            await ref.call("queued behind the crash")


async def test_whereis_forgets_an_actor_that_stopped_for_good(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        ref = await sup.spawn_actor(Worker, name="w")
        assert sup.whereis("w") is ref
        ref.handle.cancel()
        await ref.handle.wait()
        assert sup.whereis("w") is None
        assert sup.whereis("never") is None


@pytest.mark.parametrize("bad", [0, -1, math.nan])
async def test_call_rejects_a_timeout_that_is_not_positive(
    autojump_clock: trio.testing.MockClock, bad: float
) -> None:
    async with open_supervisor() as sup:
        ref = await sup.spawn_actor(Worker, name="w")
        with pytest.raises(ValueError, match=r"^timeout must (be > 0, got|not be NaN)"):
            await ref.call("x", timeout=bad)
        assert ref.statistics() == stats()  # nothing was sent
        sup.cancel()


async def test_call_times_out_with_a_message_naming_the_actor(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        ref = await sup.spawn_actor(Worker, name="w")
        with pytest.raises(
            TimeoutError, match=r"^actor 'w' did not answer within 0.5 seconds$"
        ):
            await ref.call(("sleep", 1), timeout=0.5)
        assert trio.current_time() == 0.5
        sup.cancel()


@pytest.mark.parametrize(
    ("size", "error", "message"),
    [
        (True, TypeError, r"^mailbox_size must be an int, got True$"),
        (2.5, TypeError, r"^mailbox_size must be an int, got 2.5$"),
        (0, ValueError, r"^mailbox_size must be >= 1, got 0$"),
    ],
)
async def test_bad_mailbox_sizes_are_rejected(
    size: Any, error: type[Exception], message: str
) -> None:
    async with open_supervisor() as sup:
        with pytest.raises(error, match=message):
            await sup.spawn_actor(Worker, name="w", mailbox_size=size)
        assert sup.whereis("w") is None
        assert sup.health().submitted == 0


async def test_bad_names_and_factories_are_rejected() -> None:
    async with open_supervisor() as sup:
        with pytest.raises(TypeError, match=r"^name must be a str, got 3$"):
            await sup.spawn_actor(Worker, name=3)  # type: ignore[arg-type]  # the point of the test
        with pytest.raises(TypeError, match=r"^factory must be callable, got 'w'$"):
            await sup.spawn_actor("w", name="w")  # type: ignore[arg-type]  # the point of the test
        assert sup.health().submitted == 0


async def test_mailbox_holds_100_messages_by_default(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        ref = await sup.spawn_actor(Worker, name="w")
        for n in range(100):  # no checkpoint in between: the actor handles none yet
            ref.send_nowait(n)
        with pytest.raises(
            MailboxFull, match=r"^actor 'w': mailbox full \(100 messages\)$"
        ):
            ref.send_nowait(100)
        sup.cancel()


async def test_on_stop_is_cut_after_five_seconds_by_default(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class StuckStop(Actor[Any, Any]):
        async def on_stop(self, reason: BaseException | None) -> None:
            await trio.sleep_forever()

    async with open_supervisor() as sup:
        ref = await sup.spawn_actor(StuckStop, name="s")
        ref.handle.cancel()
        await ref.handle.wait()
        assert trio.current_time() == 5


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (-10, ValueError, r"^stop_timeout must be >= 0, got -10$"),
        (math.nan, ValueError, r"^stop_timeout must not be NaN$"),
        ("5", TypeError, r"^stop_timeout must be a number of seconds, got '5'$"),
        (None, TypeError, r"^stop_timeout must be a number of seconds, got None$"),
    ],
)
async def test_bad_stop_timeouts_are_rejected(
    bad: Any, error: type[Exception], message: str
) -> None:
    async with open_supervisor() as sup:
        with pytest.raises(error, match=message):
            await sup.spawn_actor(Worker, name="w", stop_timeout=bad)
        assert sup.whereis("w") is None
        assert sup.health().submitted == 0


async def test_a_zero_stop_timeout_cuts_on_stop_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class SlowStop(Actor[Any, Any]):
        async def on_stop(self, reason: BaseException | None) -> None:
            await trio.sleep(1)

    async with open_supervisor() as sup:
        ref = await sup.spawn_actor(SlowStop, name="s", stop_timeout=0)
        ref.handle.cancel()
        await ref.handle.wait()
        assert trio.current_time() == 0
