"""A trio web app (quart-trio) that owns a supervisor while it serves: endpoints
submit work and report health; stopping the server drains the work.

Run: pip install 'trio-supervisor[examples]', then
    hypercorn --worker-class trio examples.trio_web_app:app
    curl -X POST localhost:8000/reports/3 ; curl localhost:8000/health
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio
from quart import abort
from quart_trio import QuartTrio

from supervisor import QueueFull, Supervisor, open_supervisor

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

app = QuartTrio(__name__)


async def build_report(report_id: int) -> str:
    await trio.sleep(0.05)  # stands for the real work
    return f"report {report_id}"


@app.while_serving
async def supervised() -> AsyncGenerator[None, None]:
    async with open_supervisor(
        "reports", max_concurrent=4, max_pending=100, shutdown_grace=10
    ) as sup:
        app.config["SUPERVISOR"] = sup
        yield  # serving; leaving drains the supervisor


def _supervisor() -> Supervisor:
    sup: Supervisor = app.config["SUPERVISOR"]
    return sup


@app.post("/reports/<int:report_id>")
async def submit(report_id: int) -> tuple[dict[str, Any], int]:
    try:
        handle = _supervisor().submit_nowait(build_report, report_id, timeout=30)
    except QueueFull:
        abort(503)
    return {"task_id": handle.id, "status": handle.status.name}, 202


@app.get("/health")
async def health() -> dict[str, Any]:
    report = _supervisor().health()
    return {
        "status": report.status.value,
        "running": report.running,
        "pending": report.pending,
        "completed": report.completed,
        "submitted": report.submitted,
    }
