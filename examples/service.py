"""A service that drains on SIGTERM (systemd, docker) or Ctrl-C, then exits 0.

Run: python examples/service.py [trio|asyncio], then `kill -TERM <pid>` or Ctrl-C.
Two PERMANENT workers start in order; the first signal stops them gracefully,
newest first, each cleaned up before the next; a second signal stops at once.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import anyio

from supervisor import open_supervisor


async def worker(n: int, *, task_status: Any) -> None:
    task_status.started()
    try:
        await anyio.sleep_forever()  # stands for the worker's loop
    finally:
        print(f"worker {n} cleaned up", flush=True)


async def main() -> None:
    async with open_supervisor(
        "service", shutdown_on=(signal.SIGINT, signal.SIGTERM), shutdown_grace=5
    ) as sup:
        for n in range(2):  # start_child: each started before the next
            await sup.start_child(worker, n, name=f"worker {n}")
        print("ready", flush=True)
        await anyio.sleep_forever()  # the service's life: a signal cancels it
    print("drained", flush=True)


if __name__ == "__main__":
    anyio.run(main, backend=sys.argv[1] if len(sys.argv) > 1 else "trio")
