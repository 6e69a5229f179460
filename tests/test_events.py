"""The event stream: on_event and subscribe() (trio, virtual time)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio
import trio.testing

from supervisor import EventSubscription, TaskEvent, TaskStatus, open_supervisor

if TYPE_CHECKING:
    from .conftest import Recorder

pytestmark = pytest.mark.trio
S = TaskStatus


async def ok_after(seconds: float) -> str:
    await trio.sleep(seconds)
    return "ok"


async def test_subscriber_sees_the_whole_trace_then_iteration_ends(
    autojump_clock: trio.testing.MockClock,
) -> None:
    received: list[TaskEvent] = []

    async def consume(subscription: EventSubscription) -> None:
        async with subscription as events:
            async for event in events:
                received.append(event)

    async with trio.open_nursery() as nursery:
        async with open_supervisor(max_concurrent=1) as sup:
            nursery.start_soon(consume, sup.subscribe())  # delivers from this call on
            sup.submit_nowait(ok_after, 1, name="a")
            sup.submit_nowait(ok_after, 1, name="b")
        # consume() ends once the block exited and everything was delivered
    assert [(e.task_id, e.name, e.old, e.new, e.at, e.attempt) for e in received] == [
        (1, "a", None, S.PENDING, 0, 0),
        (2, "b", None, S.PENDING, 0, 0),
        (1, "a", S.PENDING, S.RUNNING, 0, 1),
        (1, "a", S.RUNNING, S.COMPLETED, 1, 1),
        (2, "b", S.PENDING, S.RUNNING, 1, 1),
        (2, "b", S.RUNNING, S.COMPLETED, 2, 1),
    ]


async def test_iteration_ends_when_the_supervisor_exits(
    autojump_clock: trio.testing.MockClock,
) -> None:
    received: list[S] = []
    async with trio.open_nursery() as nursery:
        async with open_supervisor() as sup:
            events_cm = sup.subscribe()

            async def consume() -> None:
                async with events_cm as events:
                    async for event in events:
                        received.append(event.new)
                received.append(S.CANCELLED)  # marker: the loop ended

            nursery.start_soon(consume)
            await trio.testing.wait_all_tasks_blocked()
            sup.submit_nowait(ok_after, 1)
    assert received == [S.PENDING, S.RUNNING, S.COMPLETED, S.CANCELLED]


async def test_slow_subscriber_loses_oldest_events_and_never_blocks(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        async with sup.subscribe(max_buffer=4) as events:
            handles = [sup.submit_nowait(ok_after, 1) for _ in range(10)]
            await trio.sleep(2)  # the supervisor ran on: 30 events, no reader
            assert all(h.status is S.COMPLETED for h in handles)
            assert events.lost == 26
            assert events.max_buffer == 4
            tail = [await events.__anext__() for _ in range(4)]
    assert [e.new for e in tail] == [S.COMPLETED] * 4
    assert repr(events) == "<supervisor.EventSubscription 0 buffered, 26 lost>"


async def test_subscribing_after_exit_ends_at_once() -> None:
    async with open_supervisor() as sup:
        pass
    async with sup.subscribe() as events:
        assert [e async for e in events] == []


async def test_leaving_the_subscription_stops_delivery(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        async with sup.subscribe() as events:
            pass
        sup.submit_nowait(ok_after, 1)
        assert not sup._core.ledger.emitting
    assert [e async for e in events] == []


async def test_subscribe_rejects_bad_buffer() -> None:
    async with open_supervisor() as sup:
        with pytest.raises(ValueError, match=r"^max_buffer must be >= 1, got 0$"):
            sup.subscribe(max_buffer=0)


async def test_no_event_objects_are_built_without_observers(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = 0
    real = TaskEvent

    def counting(*args: object, **kwargs: object) -> TaskEvent:
        nonlocal built
        built += 1
        return real(*args, **kwargs)  # type: ignore[arg-type]

    # Every module that builds events on the submit -> run -> finish path.
    monkeypatch.setattr("supervisor._table.TaskEvent", counting)
    monkeypatch.setattr("supervisor._ledger.TaskEvent", counting)
    async with open_supervisor() as sup:
        sup.submit_nowait(ok_after, 1)
    assert built == 0


async def test_on_event_and_subscriber_see_the_same_events(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    async with open_supervisor(on_event=recorder) as sup:
        async with sup.subscribe() as events:
            h = sup.submit_nowait(ok_after, 1)
            await h.wait()
            got = [await events.__anext__() for _ in range(3)]
    assert got == recorder.events


async def test_the_other_subscribers_go_on_when_one_leaves(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        async with sup.subscribe() as staying:
            async with sup.subscribe():
                pass
            h = sup.submit_nowait(ok_after, 1)
            await h.wait()
            got = [await staying.__anext__() for _ in range(3)]
    assert [e.new for e in got] == [S.PENDING, S.RUNNING, S.COMPLETED]
