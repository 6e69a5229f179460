"""``python -m supervisor demo``: a short live tour on the real clock (about 4 s)."""

from __future__ import annotations

import logging
import os
import random
import sys
from typing import TYPE_CHECKING, TextIO

import trio

from ._health import HealthRules
from ._open import open_supervisor
from ._spec import Backoff
from ._status import Decision, TaskStatus

if TYPE_CHECKING:
    from ._events import EventSubscription
    from ._health import HealthReport
    from ._supervisor import Supervisor

_MARKS = {
    TaskStatus.PENDING: "queued",
    TaskStatus.RUNNING: "running",
    TaskStatus.COMPLETED: "completed",
    TaskStatus.FAILED: "FAILED",
    TaskStatus.CANCELLED: "cancelled",
    TaskStatus.RESTARTING: "restarting",
}


async def fetch(seconds: float) -> str:
    await trio.sleep(seconds)
    return f"fetched in {seconds:.1f}s"


async def cache_service(crashes: list[int], *, task_status: object) -> None:
    """A long-lived child: ready quickly, then crashes on its first two attempts."""
    await trio.sleep(0.1)
    task_status.started("cache ready")  # type: ignore[attr-defined]
    if crashes[0] < 2:
        crashes[0] += 1
        await trio.sleep(0.4)
        msg = "cache lost its connection"
        raise ConnectionError(msg)
    await trio.sleep_forever()


async def flaky(seconds: float) -> None:
    await trio.sleep(seconds)
    msg = "upstream reset the connection"
    raise ConnectionError(msg)


#: The demo's lines fit a terminal of this width.
WIDTH = 80
#: ANSI colours of the statuses, on a terminal (and not with NO_COLOR set).
_COLOURS = {
    TaskStatus.COMPLETED: "32",  # green
    TaskStatus.FAILED: "1;31",  # bold red
    TaskStatus.CANCELLED: "2",  # dim
    TaskStatus.RESTARTING: "33",  # yellow
}


def _coloured(out: TextIO) -> bool:
    return out.isatty() and "NO_COLOR" not in os.environ


def _paint(status: TaskStatus, coloured: bool) -> str:
    """The status word, in its colour on a terminal (the colour codes take no
    columns, so lines are fitted before painting)."""
    word = _MARKS[status]
    code = _COLOURS.get(status)
    return f"\x1b[{code}m{word}\x1b[0m" if coloured and code else word


def _fit(line: str) -> str:
    return line if len(line) <= WIDTH else line[: WIDTH - 1] + "…"


class _OneLineFormatter(logging.Formatter):
    def formatException(self, ei: object) -> str:
        return ""  # the demo shows the message; real handlers get the traceback

    def format(self, record: logging.LogRecord) -> str:
        return _fit(super().format(record).rstrip())


async def _show_events(subscription: EventSubscription, out: TextIO, t0: float) -> None:
    coloured = _coloured(out)
    async with subscription as events:
        async for e in events:
            extra = (
                "  -> restart after backoff" if e.decision is Decision.RESTART else ""
            )
            if e.exception:
                extra += f"  ({type(e.exception).__name__}: {e.exception})"
            line = _fit(
                f"  {trio.current_time() - t0:5.2f}s  #{e.task_id:<2} {e.name:<10} "
                f"{_MARKS[e.new]}{extra}"
            )
            word = _MARKS[e.new]
            at = line.index(word, 24)  # after the time, id and name columns
            print(
                line[:at] + _paint(e.new, coloured) + line[at + len(word) :], file=out
            )


def _print_tree(sup: Supervisor, out: TextIO, at: float) -> None:
    """The live view's picture of the tree at this moment (with the console
    extra, rich; without it, nothing)."""
    try:
        from rich.console import Console

        from .console import render
    except ImportError:
        return
    print(f"  {at:5.2f}s  -> the tree now (supervisor.console.render):", file=out)
    Console(file=out, width=80, highlight=False).print(render(sup))


def _print_report(report: HealthReport, out: TextIO) -> None:
    print("\nHealth report", file=out)
    rows = [
        ("status", report.status.name),
        ("reasons", ", ".join(report.reasons) or "-"),
        ("submitted", report.submitted),
        (
            "completed / failed / cancelled",
            f"{report.completed} / {report.failed} / {report.cancelled}",
        ),
        ("running / pending now", f"{report.running} / {report.pending}"),
        (
            "limits (max_concurrent, max_pending)",
            f"{report.max_concurrent}, {report.max_pending}",
        ),
        ("failures in window", f"{report.recent_failed} of {report.recent_finished}"),
        (
            "restarts in period / remaining",
            f"{report.restarts_in_period} / {report.restarts_remaining}",
        ),
        (
            "last failure",
            f"#{report.last_failure.task_id} {report.last_failure.name}: "
            f"{type(report.last_failure.exception).__name__}"
            if report.last_failure
            else "-",
        ),
        ("uptime", f"{report.uptime:.2f}s"),
    ]
    for key, value in rows:
        print(f"  {key:<38} {value}", file=out)


async def demo(out: TextIO = sys.stdout, *, seed: int = 7) -> HealthReport:
    """Run the tour; returns the final health report."""
    rng = random.Random(seed)
    handler = logging.StreamHandler(out)
    handler.setFormatter(_OneLineFormatter("  log: %(message)s"))
    logger = logging.getLogger("supervisor")
    logger.addHandler(handler)
    t0 = trio.current_time()
    print(
        "Supervisor 'demo': max_concurrent=3, max_pending=10, shutdown_grace=1s,\n"
        "health DEGRADED from a 10% failure rate over 5+ finished tasks;\n"
        "'cache' is a PERMANENT child, restarted with backoff when it crashes\n",
        file=out,
    )
    try:
        async with trio.open_nursery() as nursery:
            async with open_supervisor(
                "demo",
                max_concurrent=3,
                max_pending=10,
                shutdown_grace=1.0,
                health_rules=HealthRules(min_finished=5),
            ) as sup:
                nursery.start_soon(_show_events, sup.subscribe(), out, t0)
                # A PERMANENT child, restarted with exponential backoff (0.3 s,
                # then 0.6 s) each time it crashes; stopped last at shutdown.
                await sup.start_child(
                    cache_service,
                    [0],
                    name="cache",
                    backoff=Backoff(initial=0.3, maximum=2.0, jitter=0),
                )
                for i in range(4):
                    await sup.submit(fetch, rng.uniform(0.3, 0.9), name=f"fetch-{i}")
                await sup.submit(flaky, 0.4, name="flaky")
                await sup.submit(fetch, 5.0, name="slow", timeout=1.2)
                doomed = await sup.submit(fetch, 5.0, name="doomed")
                for i in range(4, 7):
                    await sup.submit(fetch, rng.uniform(0.2, 0.6), name=f"fetch-{i}")
                await trio.sleep(1.0)
                _print_tree(sup, out, trio.current_time() - t0)
                await trio.sleep(0.6)
                print(
                    f"  {trio.current_time() - t0:5.2f}s  -> cancelling #{doomed.id} {doomed.name}",
                    file=out,
                )
                doomed.cancel()
                await sup.submit(fetch, 3.0, name="straggler")
                await trio.sleep(0.2)
                print(
                    f"  {trio.current_time() - t0:5.2f}s  -> leaving the block: "
                    "drain for up to 1s, then cancel",
                    file=out,
                )
        report = sup.health()
    finally:
        logger.removeHandler(handler)
    _print_report(report, out)
    return report
