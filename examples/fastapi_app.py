"""A FastAPI app (asyncio) whose lifespan owns a supervisor: endpoints submit work
and report health; shutting the app down drains the work (``shutdown_grace``).

Run: pip install 'trio-supervisor[examples]' uvicorn, then
    uvicorn examples.fastapi_app:app
    curl -X POST localhost:8000/thumbnails/7 ; curl localhost:8000/health
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
from fastapi import FastAPI, HTTPException, Request

from supervisor import QueueFull, Supervisor, open_supervisor

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


async def make_thumbnail(image_id: int) -> str:
    await anyio.sleep(0.05)  # stands for the real work
    return f"thumbnail-{image_id}.png"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with open_supervisor(
        "thumbnails", max_concurrent=8, max_pending=100, shutdown_grace=10
    ) as sup:
        app.state.supervisor = sup
        yield  # the app serves requests here; leaving drains the supervisor


app = FastAPI(lifespan=lifespan)


def _supervisor(request: Request) -> Supervisor:
    sup: Supervisor = request.app.state.supervisor
    return sup


@app.post("/thumbnails/{image_id}", status_code=202)
async def submit(image_id: int, request: Request) -> dict[str, Any]:
    try:
        handle = _supervisor(request).submit_nowait(
            make_thumbnail, image_id, name=f"thumbnail {image_id}", timeout=30
        )
    except QueueFull:
        raise HTTPException(status_code=503, detail="busy, try again later") from None
    return {"task_id": handle.id, "status": handle.status.name}


@app.get("/health")
async def health(request: Request) -> dict[str, Any]:
    report = _supervisor(request).health()
    return {
        "status": report.status.value,
        "running": report.running,
        "pending": report.pending,
        "completed": report.completed,
        "failed": report.failed,
        "submitted": report.submitted,
    }
