"""``python -m supervisor top``: a live terminal view of queues and their workers
(extras ``redis`` and ``console``)."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import anyio
import attrs
from coredis import PureToken
from rich.console import Group
from rich.live import Live
from rich.table import Table

from ._connection import connect
from ._keys import GROUP, QueueKeys
from ._records import QueueStats, int_or_none, text
from ._scripts import Scripts

if TYPE_CHECKING:
    import argparse

    import coredis
    from rich.console import RenderableType


@attrs.frozen
class WorkerView:
    name: str
    host: str
    pid: str
    running: int
    concurrency: int
    beat_age: float
    draining: bool


@attrs.frozen
class QueueView:
    name: str
    stats: QueueStats
    finished: int
    workers: tuple[WorkerView, ...]
    at: float


async def queue_names(client: coredis.Redis[bytes]) -> list[str]:
    """The queues that have a stream on this server."""
    names = set()
    async for key in client.scan_iter(match="sv:{*}:stream"):
        text = bytes(key).decode()
        names.add(text[len("sv:{") : -len("}:stream")])
    return sorted(names)


async def look(client: coredis.Redis[bytes], queue: str) -> QueueView:
    keys = QueueKeys(queue)
    ready, in_flight, delayed, dead, workers, malformed = await Scripts.register(
        client, keys
    ).call("stats")
    finished = int(await client.get(keys.prefix + "finished") or 0)
    now_ms = (await client.time()).timestamp() * 1000
    views = []
    # Held jobs per consumer, from the pending list itself: exact now, where the
    # worker's heartbeat would be up to a beat old.
    held: dict[str, int] = {}
    if in_flight:
        summary = await client.xpending(keys.stream, GROUP)
        consumers = getattr(summary, "consumers", None) or {}
        held = {
            text(c) if isinstance(c, (bytes, str)) else str(c): int(n)
            for c, n in consumers.items()
        }
    live = await client.zrange(keys.workers, now_ms, "+inf", sortby=PureToken.BYSCORE)
    for consumer in live:
        name = text(consumer)
        fields: dict[bytes, Any] = await client.hgetall(keys.worker(name))
        # (a heartbeat is read as untrusted: what does not parse shows as unknown)
        beat = int_or_none(fields.get(b"beat"))
        views.append(
            WorkerView(
                name=name,
                host=text(fields.get(b"host", b"?")),
                pid=text(fields.get(b"pid", b"?")),
                running=held.get(name, 0),
                concurrency=int_or_none(fields.get(b"concurrency")) or 0,
                beat_age=math.nan if beat is None else (now_ms - beat) / 1000,
                draining=fields.get(b"draining") == b"1",
            )
        )
    return QueueView(
        queue,
        QueueStats(ready, delayed, in_flight, dead, workers, malformed),
        finished,
        tuple(sorted(views, key=lambda w: w.name)),
        time.monotonic(),
    )


def render(views: list[QueueView], previous: dict[str, QueueView]) -> RenderableType:
    """Queues (with the finish rate since ``previous``) and their workers."""
    queues = Table(title="queues", title_justify="left")
    for column in (
        "queue",
        "ready",
        "delayed",
        "in flight",
        "dead",
        "workers",
        "done/s",
    ):
        queues.add_column(column, justify="left" if column == "queue" else "right")
    workers = Table(title="workers", title_justify="left")
    for column in (
        "queue",
        "worker",
        "host",
        "pid",
        "running",
        "heartbeat age",
        "state",
    ):
        workers.add_column(
            column, justify="left" if column in ("queue", "worker", "host") else "right"
        )
    for view in views:
        before = previous.get(view.name)
        rate = "-"
        if before is not None and view.at > before.at:
            rate = f"{(view.finished - before.finished) / (view.at - before.at):,.1f}"
        s = view.stats
        queues.add_row(
            view.name, str(s.ready), str(s.delayed), str(s.in_flight), str(s.dead),
            str(s.workers), rate,
        )  # fmt: skip
        for w in view.workers:
            workers.add_row(
                view.name, w.name, w.host, w.pid, f"{w.running}/{w.concurrency}",
                "?" if math.isnan(w.beat_age) else f"{w.beat_age:.1f}s",
                "draining" if w.draining else "running",
            )  # fmt: skip
    return Group(queues, workers)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "top", help="a live view of Redis queues and their workers (redis + console)"
    )
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--queue", action="append", help="a queue (default: all)")
    parser.add_argument("--interval", type=float, default=1.0, metavar="SECONDS")
    parser.add_argument("--once", action="store_true", help="print one view and exit")


async def top(args: argparse.Namespace) -> None:
    async with connect(args.url) as client:
        previous: dict[str, QueueView] = {}
        if args.once:
            views = [
                await look(client, q) for q in args.queue or await queue_names(client)
            ]
            Live(render(views, previous)).console.print(render(views, previous))
            return
        with Live(render([], previous), auto_refresh=False) as live:
            while True:
                names = args.queue or await queue_names(client)
                views = [await look(client, q) for q in names]
                live.update(render(views, previous), refresh=True)
                previous = {v.name: v for v in views}
                await anyio.sleep(args.interval)


def run(args: argparse.Namespace) -> int:
    try:
        anyio.run(top, args)
    except KeyboardInterrupt:
        return 0
    return 0
