"""Live views of a supervision tree in the terminal (``pip install
'trio-supervisor[console]'``, built on rich).

::

    from supervisor.console import live, render

    rich.print(render(sup))        # the tree, once
    async with live(sup):          # kept drawn while the block runs
        ...

Each supervisor shows its health verdict and counts; under it, each task that is
not finished: name, id, status, attempt, age, restarts, and an actor's mailbox
depth; a supervisor opened inside a task is drawn under that task.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Final, cast

import anyio
from rich.live import Live
from rich.text import Text
from rich.tree import Tree

from ._checks import check_seconds
from ._health import Health
from ._status import TaskStatus
from ._supervisor import Supervisor
from ._util import fixup_module_metadata

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from rich.console import Console

    from ._handle import TaskHandle

__all__ = ["live", "render"]

_HEALTH_STYLE: Final = {
    Health.HEALTHY: "green",
    Health.DEGRADED: "yellow",
    Health.UNHEALTHY: "bold red",
}
_STATUS_STYLE: Final = {
    TaskStatus.PENDING: "dim",
    TaskStatus.RUNNING: "green",
    TaskStatus.RESTARTING: "yellow",
}


def _age(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    return f"{seconds // 3600:.0f}h{seconds % 3600 // 60:02.0f}m"


def _heading(sup: Supervisor) -> Text:
    report = sup.health()
    text = Text()
    text.append(sup.name, style="bold")
    text.append("  ")
    text.append(report.status.name, style=_HEALTH_STYLE[report.status])
    # Running and pending always; the other counts once they are not 0 (a
    # heading fits 80 columns).
    now = f"  running {report.running}  pending {report.pending}"
    if report.restarting:
        now += f"  restarting {report.restarting}"
    done = "  ".join(
        f"{label} {count}"
        for label, count in (
            ("completed", report.completed),
            ("failed", report.failed),
            ("cancelled", report.cancelled),
        )
        if count
    )
    text.append(now + (f"  |  {done}" if done else ""))
    if report.reasons:
        text.append(f"  ({'; '.join(report.reasons)})", style="yellow")
    return text


def _task_line(h: TaskHandle[Any], now: float, mailbox: tuple[int, int] | None) -> Text:
    text = Text()
    text.append(f"{h.name} ", style="bold")
    text.append(f"#{h.id} ", style="dim")
    text.append(h.status.name, style=_STATUS_STYLE.get(h.status, ""))
    since = h.started_at if h.started_at is not None else h.created_at
    text.append(f"  attempt {h.attempts}  age {_age(now - since)}")
    if h.attempts > 1:
        text.append(f"  restarts {h.attempts - 1}", style="yellow")
    if mailbox is not None:
        depth, size = mailbox
        text.append(f"  mailbox {depth}/{size}", style="cyan")
    return text


def render(sup: Supervisor) -> Tree:
    """The supervision tree of ``sup`` now, as a rich renderable. Not a
    checkpoint; O(tasks)."""
    if not isinstance(cast("object", sup), Supervisor):
        msg = f"render() takes a Supervisor, got {sup!r}"
        raise TypeError(msg)
    tree = Tree(_heading(sup))
    now = sup._core.clock()
    nested = {child._opened_in: child for child in list(sup._nested)}
    mailboxes = {}
    for ref in list(sup._core.records.actors.values()):
        stats = ref.statistics()
        if ref._handle is not None:
            mailboxes[ref._handle] = (stats.mailbox_depth, stats.mailbox_size)
    for h in sup.tasks():
        node = tree.add(_task_line(h, now, mailboxes.get(h)))
        child = nested.get(h)
        if child is not None and not child._core.done.is_set():
            node.add(render(child))
    return tree


@asynccontextmanager
async def live(
    sup: Supervisor, *, refresh: float = 0.5, console: Console | None = None
) -> AsyncIterator[Live]:
    """Keep ``sup``'s tree drawn on the terminal (redrawn every ``refresh``
    seconds) while the block runs; the last picture stays when it exits."""
    check_seconds("refresh", refresh, zero_ok=False, none_ok=False)
    with Live(render(sup), console=console, auto_refresh=False) as view:

        async def redraw() -> None:
            while True:
                await anyio.sleep(refresh)
                view.update(render(sup), refresh=True)

        async with anyio.create_task_group() as tg:
            tg.start_soon(redraw)
            try:
                yield view
            finally:
                tg.cancel_scope.cancel()
        view.update(render(sup), refresh=True)


fixup_module_metadata(__name__, globals())
