"""examples/fastapi_app.py (asyncio) and examples/trio_web_app.py (quart-trio), each
served in process: submit work over HTTP, read the health report, shut the app down
and find every task finished (the lifespan drained the supervisor)."""

from __future__ import annotations

import pytest

fastapi = pytest.importorskip(
    "fastapi", reason="pip install 'trio-supervisor[examples]'"
)
httpx = pytest.importorskip("httpx", reason="pip install 'trio-supervisor[examples]'")
quart_trio = pytest.importorskip(
    "quart_trio", reason="pip install 'trio-supervisor[examples]'"
)

from examples import fastapi_app, trio_web_app  # noqa: E402


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_fastapi_app_submits_reports_and_drains(anyio_backend: str) -> None:
    app = fastapi_app.app
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://app"
        ) as client:
            accepted = [
                (await client.post(f"/thumbnails/{i}")).json() for i in range(5)
            ]
            assert [a["task_id"] for a in accepted] == [1, 2, 3, 4, 5]
            health = (await client.get("/health")).json()
            assert health["submitted"] == 5
            assert health["status"] == "healthy"
        sup = app.state.supervisor
    assert sup.closed  # the lifespan's exit drained it: every task finished
    report = sup.health()
    assert (report.completed, report.failed, report.running, report.pending) == (
        5,
        0,
        0,
        0,
    )


@pytest.mark.trio
async def test_the_trio_web_app_submits_reports_and_drains() -> None:
    """Served twice in one process (as a test suite does): each serving owns a
    supervisor of its own, drained when it stops."""
    app = trio_web_app.app
    for _ in range(2):
        async with app.test_app() as test_app:
            client = test_app.test_client()
            for i in range(3):
                response = await client.post(f"/reports/{i}")
                assert response.status_code == 202
            health = await (await client.get("/health")).get_json()
            assert health["submitted"] == 3
            sup = app.config["SUPERVISOR"]
        assert sup.closed
        assert sup.health().completed == 3
