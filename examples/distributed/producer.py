"""Enqueue 200 jobs, then wait for every result: python producer.py [REDIS_URL]"""

import sys

import anyio

from supervisor.redis import open_queue


async def main(url: str) -> None:
    async with open_queue(url, queue="images") as q:
        images = [(f"img{i}.png", 640) for i in range(200)]
        handles = await q.enqueue_many("resize", images)
        print(f"enqueued {len(handles)} jobs", flush=True)
        results = [await h.result(timeout=120) for h in handles]
        print(f"all {len(results)} done, e.g. {results[0]}")
        print(await q.stats())


anyio.run(main, sys.argv[1] if len(sys.argv) > 1 else "redis://127.0.0.1:6379/0")
