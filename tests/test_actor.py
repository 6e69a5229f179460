"""Actors: mailboxes, send/call, crashes and restarts, registry (trio, virtual time)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
import trio
import trio.testing

from supervisor import (
    Actor,
    ActorCrashed,
    ActorStopped,
    MailboxFull,
    Restart,
    Strategy,
    TaskFailed,
    TaskStatus,
    open_supervisor,
)

S = TaskStatus


class Counter(Actor[Any, Any]):
    """Adds numbers; "boom" crashes it; ("sleep", s) sleeps; "get" returns the total."""

    starts: list[float]  # shared across instances through the factory

    def __init__(self, log: list[Any]) -> None:
        self.total = 0
        self.log = log

    async def on_start(self) -> None:
        self.log.append(("start", trio.current_time()))

    async def handle(self, message: Any) -> Any:
        if message == "boom":
            raise ValueError("boom")
        if message == "get":
            return self.total
        if isinstance(message, tuple) and message[0] == "sleep":
            await trio.sleep(message[1])
            return "slept"
        self.total += message
        self.log.append(message)
        return self.total

    async def on_stop(self, reason: BaseException | None) -> None:
        self.log.append(("stop", type(reason).__name__ if reason else None))


pytestmark = pytest.mark.trio


async def test_messages_are_handled_in_order_and_call_returns_the_reply(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[Any] = []
    async with open_supervisor() as sup:
        ref = await sup.spawn_actor(Counter, log, name="counter")
        for n in (1, 2, 3):
            await ref.send(n)
        ref.send_nowait(4)
        assert await ref.call(5) == 15
        assert sup.whereis("counter") is ref
        (stats,) = sup.health().actors
        assert (stats.name, stats.processed, stats.failed, stats.mailbox_depth) == (
            "counter",
            5,
            0,
            0,
        )
    assert log == [("start", 0), 1, 2, 3, 4, 5, ("stop", "Cancelled")]
    assert ref.statistics().processed == 5


async def test_send_waits_for_room_and_send_nowait_raises_mailbox_full(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        ref = await sup.spawn_actor(Counter, [], name="c", mailbox_size=2)
        ref.send_nowait(("sleep", 5))  # being handled until t=5, still in the mailbox
        ref.send_nowait(1)
        with pytest.raises(
            MailboxFull, match=r"^actor 'c': mailbox full \(2 messages\)$"
        ):
            ref.send_nowait(2)
        await ref.send(3)  # waits for room
        assert trio.current_time() == 5
        assert await ref.call("get") == 4


async def test_handler_crash_tells_its_caller_and_a_fresh_instance_goes_on(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[Any] = []
    async with open_supervisor() as sup:
        ref = await sup.spawn_actor(Counter, log, name="c")
        await ref.send(10)
        ref.send_nowait(("sleep", 1))
        crash = ref.call("boom")
        with pytest.raises(ActorCrashed) as info:
            await crash
        assert isinstance(info.value.__cause__, ValueError)
        # queued behind the crash: handled, in order, by a new instance (total reset)
        assert await ref.call(1) == 1
        assert ref.handle.attempts == 2
        assert ref.statistics().failed == 1
    assert ("stop", "ValueError") in log


async def test_late_reply_after_caller_timeout_leaves_the_actor_healthy(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        ref = await sup.spawn_actor(Counter, [], name="c")
        with pytest.raises(TimeoutError, match=r"did not answer within 1 seconds"):
            await ref.call(("sleep", 5), timeout=1)
        assert trio.current_time() == 1
        assert await ref.call(2) == 2  # answered after the slow one finished, at t=5
        assert trio.current_time() == 5
        assert ref.handle.attempts == 1  # never crashed


async def test_on_start_failure_is_reported_with_its_real_exception(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class Broken(Actor[Any, Any]):
        async def on_start(self) -> None:
            raise ConnectionRefusedError("db down")

    async with open_supervisor() as sup:
        with pytest.raises(TaskFailed) as info:
            await sup.spawn_actor(Broken, name="broken", restart=Restart.TEMPORARY)
        assert isinstance(info.value.__cause__, ConnectionRefusedError)
        assert sup.whereis("broken") is None


async def test_shutdown_while_calls_are_pending_tells_every_caller(
    autojump_clock: trio.testing.MockClock,
) -> None:
    outcomes: list[str] = []
    async with trio.open_nursery() as callers:
        async with open_supervisor() as sup:
            ref = await sup.spawn_actor(Counter, [], name="c")
            ref.send_nowait(("sleep", 100))

            async def caller(n: int) -> None:
                try:
                    await ref.call(n)
                except ActorStopped:
                    outcomes.append("stopped")

            for n in range(3):
                callers.start_soon(caller, n)
            await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(ActorStopped):
            await ref.send(1)
    assert outcomes == ["stopped"] * 3
    assert ref.statistics().stopped


async def test_one_for_all_across_two_actors(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log_a: list[Any] = []
    log_b: list[Any] = []
    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as sup:
        a = await sup.spawn_actor(Counter, log_a, name="a")
        b = await sup.spawn_actor(Counter, log_b, name="b")
        await b.call(7)
        with pytest.raises(ActorCrashed):
            await a.call("boom")  # answered as the handler raises, before the restart
        await trio.testing.wait_all_tasks_blocked()  # the group restart happens
        assert await b.call("get") == 0  # b was restarted too: a fresh instance
        assert (a.handle.attempts, b.handle.attempts) == (2, 2)
        assert sup.whereis("b") is b  # refs stay valid across restarts


async def test_names_are_unique_among_live_actors(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        await sup.spawn_actor(Counter, [], name="x")
        with pytest.raises(
            ValueError,
            match=r"^an actor named 'x' already runs in this supervision tree$",
        ):
            await sup.spawn_actor(Counter, [], name="x")
        with pytest.raises(ValueError, match=r"^mailbox_size must be >= 1, got 0$"):
            await sup.spawn_actor(Counter, [], name="y", mailbox_size=0)


@pytest.mark.anyio
async def test_actor_call_on_both_backends() -> None:
    class Echo(Actor[str, str]):
        async def handle(self, message: str) -> str:
            await anyio.lowlevel.checkpoint()
            return message.upper()

    async with open_supervisor() as sup:
        ref = await sup.spawn_actor(Echo, name="echo")
        assert await ref.call("hi") == "HI"


async def test_registry_spans_the_supervision_tree(
    autojump_clock: trio.testing.MockClock,
) -> None:
    found: list[Any] = []

    async def child_tree(task_status: Any) -> None:
        async with open_supervisor("inner") as inner:
            await inner.spawn_actor(Counter, [], name="deep")
            with pytest.raises(
                ValueError, match=r"already runs in this supervision tree"
            ):
                await inner.spawn_actor(Counter, [], name="top")
            task_status.started()
            await trio.sleep_forever()

    async with open_supervisor("outer") as outer:
        top = await outer.spawn_actor(Counter, [], name="top")
        await outer.start_child(child_tree)
        found.append(outer.whereis("deep"))
        assert [a.name for a in outer.health().actors] == ["top"]  # its own only
    assert found[0] is not None
    assert found[0].name == "deep"
    assert top.statistics().stopped


async def test_on_stop_is_shielded_and_bounded(
    autojump_clock: trio.testing.MockClock,
) -> None:
    stopped: list[tuple[str | None, float]] = []

    class Slow(Actor[Any, Any]):
        async def on_stop(self, reason: BaseException | None) -> None:
            stopped.append(
                (type(reason).__name__ if reason else None, trio.current_time())
            )
            await trio.sleep_forever()  # a stuck cleanup: cut at stop_timeout

    async with open_supervisor() as sup:
        await sup.spawn_actor(Slow, name="slow", stop_timeout=2)
        await trio.sleep(1)
        sup.cancel()
    assert stopped == [("Cancelled", 1)]
    assert trio.current_time() == 3  # 1 + stop_timeout, though it was cancelled


async def test_a_factory_that_makes_no_actor_fails_the_spawn_naming_both(
    autojump_clock: trio.testing.MockClock,
) -> None:
    def not_a_factory() -> object:
        return "a string"

    async with open_supervisor() as sup:
        with pytest.raises(TaskFailed) as raised:
            await sup.spawn_actor(not_a_factory, name="bad", restart=Restart.TEMPORARY)  # type: ignore[arg-type]
    cause = raised.value.__cause__
    assert isinstance(cause, TypeError)
    assert str(cause) == (
        f"spawn_actor() factory {not_a_factory!r} must make an Actor, it made 'a string'"
    )
