"""``python -m supervisor top``: a live terminal view of queues and their workers
(extras ``redis`` and ``console``)."""

from __future__ import annotations

import contextlib
import math
import time
from typing import TYPE_CHECKING, Any

import anyio
import attrs
from coredis import PureToken
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from ._cli_options import (
    EXIT_OK,
    add_connection_options,
    configure_logging,
    positive_seconds,
    run_command,
)
from ._connection import open_client, queue_names, server_ms
from ._keys import GROUP, QueueKeys, check_queue_name
from ._records import QueueStats, int_or_none, queue_stats, text
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
    #: Seconds since its last heartbeat; NaN when unknown (a lost worker's
    #: heartbeat record expires).
    beat_age: float
    draining: bool
    #: No heartbeat within its lease, and it still holds jobs: they wait for
    #: their leases to expire, then live workers reclaim them.
    lost: bool = False
    #: A lost worker's: seconds until the first of its jobs can be reclaimed (0:
    #: now, once a live worker looks); NaN when no live worker says its lease.
    reclaim_in: float = math.nan


@attrs.frozen
class QueueView:
    name: str
    stats: QueueStats
    finished: int
    workers: tuple[WorkerView, ...]
    at: float


#: The width of --once's output when it does not go to a terminal.
_PIPE_WIDTH = 1000
#: Pending entries read per lost worker to find when its first job is reclaimed.
_LOST_SAMPLE = 100


async def look(client: coredis.Redis[bytes], queue: str) -> QueueView:
    keys = QueueKeys(queue)
    stats = queue_stats(await Scripts.register(client, keys).call("stats"))
    finished = int_or_none(await client.get(keys.prefix + "finished")) or 0
    now_ms = await server_ms(client)
    views = []
    # Held jobs per consumer, from the pending list itself: exact now, where the
    # worker's heartbeat would be up to a beat old.
    held: dict[str, int] = {}
    if stats.in_flight:
        summary = await client.xpending(keys.stream, GROUP)
        consumers = getattr(summary, "consumers", None) or {}
        held = {
            text(c) if isinstance(c, (bytes, str)) else str(c): int(n)
            for c, n in consumers.items()
        }
    live = await client.zrange(keys.workers, now_ms, "+inf", sortby=PureToken.BYSCORE)
    leases = []
    for consumer in live:
        name = text(consumer)
        fields: dict[bytes, Any] = await client.hgetall(keys.worker(name))
        # (a heartbeat is read as untrusted: what does not parse shows as unknown)
        beat = int_or_none(fields.get(b"beat"))
        lease = int_or_none(fields.get(b"lease"))
        if lease is not None and lease > 0:
            leases.append(lease)
        views.append(
            WorkerView(
                name=name,
                host=text(fields.get(b"host", b"?")),
                pid=text(fields.get(b"pid", b"?")),
                running=held.pop(name, 0),
                concurrency=int_or_none(fields.get(b"concurrency")) or 0,
                beat_age=math.nan if beat is None else max(0, now_ms - beat) / 1000,
                draining=fields.get(b"draining") == b"1",
            )
        )
    for name, count in held.items():  # what is left holds jobs without a heartbeat
        views.append(await _lost(client, keys, name, count, min(leases, default=None)))
    return QueueView(
        queue,
        stats,
        finished,
        tuple(sorted(views, key=lambda w: (w.lost, w.name))),
        time.monotonic(),
    )


async def _lost(
    client: coredis.Redis[bytes],
    keys: QueueKeys,
    name: str,
    count: int,
    lease_ms: int | None,
) -> WorkerView:
    """A worker that holds ``count`` jobs without a heartbeat; ``lease_ms``: the
    shortest lease among the live workers, which reclaim its jobs."""
    entries = await client.xpending(
        keys.stream, GROUP, start="-", end="+", count=_LOST_SAMPLE, consumer=name
    )
    idle = max((int(getattr(e, "idle", 0)) for e in entries), default=0)
    fields: dict[bytes, Any] = await client.hgetall(keys.worker(name))
    return WorkerView(
        name=name,
        host=text(fields.get(b"host", b"?")),
        pid=text(fields.get(b"pid", b"?")),
        running=count,
        concurrency=int_or_none(fields.get(b"concurrency")) or 0,
        beat_age=math.nan,
        draining=False,
        lost=True,
        reclaim_in=math.nan if lease_ms is None else max(0, lease_ms - idle) / 1000,
    )


def _state(w: WorkerView) -> str:
    if not w.lost:
        return "draining" if w.draining else "running"
    if math.isnan(w.reclaim_in):
        return "lost: its jobs wait for a live worker"
    return f"lost: its jobs are reclaimed in {w.reclaim_in:.1f}s"


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
        "aside",
        "lost",
        "done/s",
    ):
        queues.add_column(
            column, justify="left" if column == "queue" else "right", no_wrap=True
        )
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
            column,
            justify="left"
            if column in ("queue", "worker", "host", "state")
            else "right",
            no_wrap=column != "state",
        )
    for view in views:
        before = previous.get(view.name)
        rate = "-"
        if before is not None and view.at > before.at:
            rate = f"{(view.finished - before.finished) / (view.at - before.at):,.1f}"
        s = view.stats
        queues.add_row(
            view.name, str(s.ready), str(s.delayed), str(s.in_flight), str(s.dead),
            str(s.workers), str(s.malformed), str(s.lost), rate,
        )  # fmt: skip
        for w in view.workers:
            workers.add_row(
                view.name, w.name, w.host, w.pid, f"{w.running}/{w.concurrency}",
                "?" if math.isnan(w.beat_age) else f"{w.beat_age:.1f}s",
                _state(w),
            )  # fmt: skip
    return Group(queues, workers)


PROG = "python -m supervisor top"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "top",
        help="a live view of Redis queues and their workers (redis + console)",
        description=(
            "A live view of Redis queues (ready, delayed, in flight, dead, set "
            "aside, jobs done per second) and their workers (live, late or lost, "
            "with the jobs a lost one holds and when they are reclaimed). Exit "
            "codes: 0 done, 1 an error (Redis not reachable, no such queue), 2 a "
            "usage error."
        ),
    )
    parser.add_argument(
        "--queue",
        action="append",
        metavar="QUEUE",
        help="a queue to show; repeat for more (default: every queue on the server)",
    )
    add_connection_options(parser, wait="0", log_level="WARNING")
    parser.add_argument(
        "--interval",
        type=positive_seconds,
        default=1.0,
        metavar="SECONDS",
        help=(
            "between two views, and between the two samples of --once that give "
            "its rates (default: 1)"
        ),
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="print one view, its rates from two samples --interval apart, and exit",
    )


async def _check_queues(client: coredis.Redis[bytes], names: list[str]) -> None:
    for name in names:
        check_queue_name(name)
        if not await client.exists([QueueKeys(name).stream]):
            known = await queue_names(client)
            msg = (
                f"queue {name!r} has no keys on this Redis "
                f"(queues here: {', '.join(map(repr, known)) or 'none'})"
            )
            raise ValueError(msg)


async def top(args: argparse.Namespace) -> None:
    async with open_client(args.url, None, wait=args.wait_for_redis) as client:
        if args.queue:
            await _check_queues(client, args.queue)

        async def views() -> list[QueueView]:
            names = args.queue or await queue_names(client)
            return [await look(client, q) for q in names]

        if args.once:
            first = {v.name: v for v in await views()}
            await anyio.sleep(args.interval)
            view = render(await views(), first)
            console = Console()
            if not console.is_terminal:  # a pipe or a file: nothing cut short
                console = Console(width=_PIPE_WIDTH)
            console.print(view)
            return
        previous: dict[str, QueueView] = {}
        with Live(render([], previous), auto_refresh=False) as live:
            while True:
                now = await views()
                live.update(render(now, previous), refresh=True)
                previous = {v.name: v for v in now}
                await anyio.sleep(args.interval)


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        configure_logging(args.log_level)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the live view
            anyio.run(top, args)
        return EXIT_OK

    return run_command(PROG, body)
