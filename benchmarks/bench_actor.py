"""Actor benchmarks: call round-trips and send throughput, against a bare trio
memory-channel request/reply pair measured in the same run.

Run: ``.venv/bin/python benchmarks/bench_actor.py``. Prints min / median / max over
5 runs and the ratio of medians; asserts nothing.
"""

from __future__ import annotations

import gc
import statistics
import time
from typing import Any

import trio

from supervisor import Actor, open_supervisor

N = 20_000


async def bare_calls(n: int) -> float:
    req_send, req_recv = trio.open_memory_channel[int](100)
    resp_send, resp_recv = trio.open_memory_channel[int](100)

    async def server() -> None:
        async for x in req_recv:
            await resp_send.send(x + 1)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(server)
        t0 = time.perf_counter()
        for i in range(n):
            await req_send.send(i)
            await resp_recv.receive()
        elapsed = time.perf_counter() - t0
        nursery.cancel_scope.cancel()
    return elapsed


async def bare_sends(n: int) -> float:
    send, recv = trio.open_memory_channel[int](100)
    done = trio.Event()

    async def server() -> None:
        count = 0
        async for _ in recv:
            count += 1
            if count == n:
                done.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(server)
        t0 = time.perf_counter()
        for i in range(n):
            await send.send(i)
        await done.wait()
        elapsed = time.perf_counter() - t0
        nursery.cancel_scope.cancel()
    return elapsed


class Inc(Actor[int, int]):
    def __init__(self, done: trio.Event | None = None, n: int = 0) -> None:
        self.count = 0
        self.done = done
        self.n = n

    async def handle(self, message: int) -> int:
        self.count += 1
        if self.done is not None and self.count == self.n:
            self.done.set()
        return message + 1


async def actor_calls(n: int) -> float:
    async with open_supervisor() as sup:
        ref = await sup.spawn_actor(Inc, name="inc", mailbox_size=100)
        t0 = time.perf_counter()
        for i in range(n):
            await ref.call(i)
        elapsed = time.perf_counter() - t0
        sup.cancel()
    return elapsed


async def actor_sends(n: int) -> float:
    done = trio.Event()
    async with open_supervisor() as sup:
        ref = await sup.spawn_actor(Inc, done, n, name="inc", mailbox_size=100)
        t0 = time.perf_counter()
        for i in range(n):
            await ref.send(i)
        await done.wait()
        elapsed = time.perf_counter() - t0
        sup.cancel()
    return elapsed


def measure(bench: Any, runs: int = 5) -> list[float]:
    values = []
    for _ in range(runs):
        gc.collect()
        values.append(trio.run(bench, N) / N * 1e6)
    return values


def main() -> None:
    print(
        f"trio {trio.__version__}, {N:,} messages, 5 runs; us per message: min / median / max"
    )
    for label, bare, actor in (
        ("call round-trip", bare_calls, actor_calls),
        ("send throughput", bare_sends, actor_sends),
    ):
        b, a = measure(bare), measure(actor)
        mb, ma = statistics.median(b), statistics.median(a)
        print(
            f"  bare channel pair, {label:<16} {min(b):6.2f} / {mb:6.2f} / {max(b):6.2f}"
        )
        print(
            f"  actor,             {label:<16} {min(a):6.2f} / {ma:6.2f} / {max(a):6.2f}   {ma / mb:.2f}x"
        )


if __name__ == "__main__":
    main()
