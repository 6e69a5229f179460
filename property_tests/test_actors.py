"""Random concurrent send / call / crash / timeout sequences against one actor.

Checks that every accepted message is handled exactly once (a crashing message is
handled once, and its caller is told with ActorCrashed), that each caller gets the
outcome its message calls for, and that no caller hangs.
"""

from __future__ import annotations

from typing import Any

import attrs
import trio
import trio.testing
from hypothesis import given, strategies as st

from supervisor import Actor, ActorCrashed, Backoff, open_supervisor
from supervisor.testing import hypothesis_scheduling

from .virtual_time import run_on_mock_clock


@attrs.frozen
class Op:
    kind: str  # "send" | "call" | "crash"
    duration: int  # seconds the handler takes
    timeout: int | None  # for calls
    gap: int  # seconds before this client starts


ops = st.builds(
    Op,
    kind=st.sampled_from(["send", "call", "crash"]),
    duration=st.integers(0, 2),
    timeout=st.none() | st.integers(1, 4),
    gap=st.integers(0, 2),
)


class Worker(Actor[tuple[int, Op], int]):
    def __init__(self, handled: list[int]) -> None:
        self.handled = handled

    async def handle(self, message: tuple[int, Op]) -> int:
        msg_id, op = message
        self.handled.append(msg_id)
        await trio.sleep(op.duration)
        if op.kind == "crash":
            raise ValueError(f"crash {msg_id}")
        return msg_id


@given(st.data())
def test_no_message_is_lost_or_handled_twice_and_no_caller_hangs(
    data: st.DataObject,
) -> None:
    plan = data.draw(st.lists(ops, max_size=10), label="ops")
    mailbox_size = data.draw(st.integers(1, 4), label="mailbox_size")
    backoff = data.draw(
        st.none() | st.just(Backoff(initial=1, jitter=0)), label="backoff"
    )
    handled: list[int] = []
    accepted: set[int] = set()
    outcomes: dict[int, str] = {}

    async def client(ref: Any, msg_id: int, op: Op) -> None:
        await trio.sleep(op.gap)
        if op.kind == "send":
            await ref.send((msg_id, op))
            accepted.add(msg_id)
            outcomes[msg_id] = "sent"
            return
        try:
            value = await ref.call((msg_id, op), timeout=op.timeout)
        except ActorCrashed:
            accepted.add(msg_id)
            outcomes[msg_id] = "crashed"
        except TimeoutError:
            # It may have timed out waiting for room (never accepted) or for the
            # answer (accepted: it must still be handled, exactly once).
            if msg_id in handled or any(m[0] == msg_id for m, _ in ref._mailbox):
                accepted.add(msg_id)
            outcomes[msg_id] = "timeout"
        else:
            accepted.add(msg_id)
            assert value == msg_id
            outcomes[msg_id] = "replied"

    async def main() -> None:
        async with open_supervisor(restart_period=None) as sup:
            ref = await sup.spawn_actor(
                Worker, handled, name="w", mailbox_size=mailbox_size, backoff=backoff
            )
            with trio.move_on_after(10_000) as net:
                async with trio.open_nursery() as clients:
                    for msg_id, op in enumerate(plan):
                        clients.start_soon(client, ref, msg_id, op)
                # everything accepted so far is handled before this returns (FIFO)
                assert await ref.call((len(plan), Op("call", 0, None, 0))) == len(plan)
            assert not net.cancelled_caught, "a caller hung"

    with hypothesis_scheduling(data):
        run_on_mock_clock(main)

    assert sorted(handled) == sorted(set(handled)), "a message was handled twice"
    assert set(handled) == accepted | {len(plan)}, "an accepted message was lost"
    for msg_id, op in enumerate(plan):
        outcome = outcomes[msg_id]
        if op.kind == "send":
            assert outcome == "sent"
        elif outcome == "timeout":
            assert op.timeout is not None
        elif op.kind == "crash":
            assert outcome == "crashed"
        else:
            assert outcome == "replied"
