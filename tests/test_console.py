"""supervisor.console: the tree drawn to a recording console (no terminal)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

pytest.importorskip("rich")

from rich.console import Console

from supervisor import Actor, Restart, open_supervisor
from supervisor.console import live, render

pytestmark = pytest.mark.trio


def text_of(renderable: object) -> str:
    console = Console(record=True, width=140, color_system=None)
    console.print(renderable)
    return console.export_text()


async def sleeper(seconds: float) -> None:
    await trio.sleep(seconds)


async def test_the_tree_shows_health_tasks_and_nested_supervisors(
    autojump_clock: trio.testing.MockClock,
) -> None:
    runs = 0

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise ValueError("not yet")
        await trio.sleep(100)

    async def batch() -> None:
        async with open_supervisor("batch") as inner:
            inner.submit_nowait(sleeper, 50, name="leaf")

    async with open_supervisor("api", max_concurrent=3) as sup:
        sup.submit_nowait(sleeper, 100, name="long")
        sup.submit_nowait(flaky, name="flaky", restart=Restart.TRANSIENT)
        sup.submit_nowait(batch, name="batch")
        sup.submit_nowait(sleeper, 1, name="waiting")
        await trio.sleep(12.5)
        text = text_of(render(sup))
        sup.cancel()
    lines = text.splitlines()
    assert lines[0] == "api  HEALTHY  running 3  pending 1"  # no zero counts
    assert any("long #1 RUNNING  attempt 1  age 12.5s" in line for line in lines)
    assert any(
        "flaky #2 RUNNING  attempt 3  age 12.5s  restarts 2" in line for line in lines
    )
    assert any("waiting #4 PENDING  attempt 0  age 12.5s" in line for line in lines)
    batch_line = next(i for i, line in enumerate(lines) if "batch #3 RUNNING" in line)
    assert lines[batch_line + 1].strip("│└─├ ").startswith("batch  HEALTHY  running 1")
    assert "leaf #1 RUNNING  attempt 1  age 12.5s" in lines[batch_line + 2]


async def test_an_actor_shows_its_mailbox_depth(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class Slow(Actor[int, None]):
        async def handle(self, message: int) -> None:
            await trio.sleep(10)

    async with open_supervisor("actors") as sup:
        ref = await sup.spawn_actor(Slow, name="slow", mailbox_size=8)
        for i in range(4):
            ref.send_nowait(i)
        await trio.sleep(1)  # the first message is being handled
        text = text_of(render(sup))
        depth = ref.statistics().mailbox_depth
        sup.cancel()
    assert depth >= 3
    assert f"mailbox {depth}/8" in text


async def test_live_keeps_the_tree_drawn(
    autojump_clock: trio.testing.MockClock,
) -> None:
    console = Console(record=True, width=100, color_system=None, force_terminal=False)
    async with open_supervisor("svc") as sup:
        async with live(sup, refresh=0.5, console=console) as view:
            assert "job" not in text_of(view.renderable)
            sup.submit_nowait(sleeper, 2, name="job")
            await trio.sleep(1.2)  # redrawn at 0.5 and 1.0
            assert "job #1 RUNNING  attempt 1  age 1.0s" in text_of(view.renderable)
        await trio.sleep(5)
    assert "job #1 RUNNING" in console.export_text()  # the last picture stays


async def test_render_checks_its_argument() -> None:
    with pytest.raises(TypeError, match="render\\(\\) takes a Supervisor"):
        render("api")  # type: ignore[arg-type]
