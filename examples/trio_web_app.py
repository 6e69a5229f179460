"""A trio web app (quart-trio) that owns a supervisor while it serves: endpoints
submit work and report health; stopping the server drains the work.

The supervisor's block runs in a task of the app's nursery, started before serving:
a ``while_serving`` generator would be made once per process (Quart calls it when it
is registered) and resumed by another task, and an ``async with`` that owns a
nursery must stay in one task.

Run: pip install 'trio-supervisor[examples]', then
    hypercorn --worker-class trio examples.trio_web_app:app
    curl -X POST localhost:8000/reports/3 ; curl localhost:8000/health
"""

from __future__ import annotations

from typing import Any

import trio
from quart import abort
from quart_trio import QuartTrio

from supervisor import QueueFull, Supervisor, open_supervisor

app = QuartTrio(__name__)
# Background tasks get this long to end at shutdown: more than the drain below.
app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"] = 15


async def build_report(report_id: int) -> str:
    await trio.sleep(0.05)  # stands for the real work
    return f"report {report_id}"


async def own_supervisor(stop: trio.Event, *, task_status: Any) -> None:
    """The supervisor lives in one task of the app's nursery, for as long as the app
    serves; leaving its block drains the work (``shutdown_grace``)."""
    async with open_supervisor(
        "reports", max_concurrent=4, max_pending=100, shutdown_grace=10
    ) as sup:
        app.config["SUPERVISOR"] = sup
        task_status.started()
        await stop.wait()


@app.before_serving
async def start_supervisor() -> None:
    app.config["STOP_SUPERVISOR"] = stop = trio.Event()
    await app.nursery.start(own_supervisor, stop)


@app.after_serving
async def stop_supervisor() -> None:
    app.config[
        "STOP_SUPERVISOR"
    ].set()  # the drain runs in its task, awaited by the app


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
