"""submit_from_thread (trio)."""

from __future__ import annotations

import contextvars
from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing

from supervisor import SupervisorClosed, TaskStatus, open_supervisor

pytestmark = [pytest.mark.trio, pytest.mark.threads]

tag: contextvars.ContextVar[str] = contextvars.ContextVar("tag", default="none")


async def read_tag() -> str:
    await trio.lowlevel.checkpoint()
    return tag.get()


async def test_submit_from_thread_returns_an_accepted_handle() -> None:
    async with open_supervisor() as sup:

        def in_thread() -> object:
            tag.set("from thread")
            return sup.submit_from_thread(read_tag, name="t")

        h = await trio.to_thread.run_sync(in_thread)
        assert await h.result() == "from thread"  # type: ignore[attr-defined]
        assert h.name == "t"  # type: ignore[attr-defined]


async def test_submit_from_thread_waits_for_room(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor(max_concurrent=1, max_pending=0) as sup:
        sup.submit_nowait(trio.sleep, 5)
        h = await trio.to_thread.run_sync(lambda: sup.submit_from_thread(trio.sleep, 1))
        assert (h.created_at, h.started_at) == (5, 5)


async def test_submit_from_thread_after_shutdown_raises_closed() -> None:
    async with open_supervisor() as sup:
        await sup.shutdown()
        with pytest.raises(SupervisorClosed):
            await trio.to_thread.run_sync(lambda: sup.submit_from_thread(read_tag))
    with pytest.raises(SupervisorClosed, match=r"has exited"):
        await trio.to_thread.run_sync(lambda: sup.submit_from_thread(read_tag))


async def test_submit_from_thread_on_the_loop_thread_is_an_error() -> None:
    async with open_supervisor() as sup:
        with pytest.raises(RuntimeError):
            sup.submit_from_thread(read_tag)
        assert sup.tasks() == []


async def test_submit_from_thread_checks_its_arguments_in_the_thread() -> None:
    async with open_supervisor() as sup:

        def in_thread() -> None:
            sup.submit_from_thread(print)  # type: ignore[arg-type]  # the point of the test

        with pytest.raises(
            TypeError, match=r"^submit_from_thread\(\) takes an async function"
        ):
            await trio.to_thread.run_sync(in_thread)


async def test_cancel_from_thread_through_from_thread(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_supervisor() as sup:
        h = sup.submit_nowait(trio.sleep_forever)
        await trio.testing.wait_all_tasks_blocked()
        await trio.to_thread.run_sync(lambda: trio.from_thread.run_sync(h.cancel))
        await h.wait()
        assert h.status is TaskStatus.CANCELLED


async def test_submit_from_thread_takes_shutdown_and_significant() -> None:
    from supervisor import AutoShutdown

    async with open_supervisor(auto_shutdown=AutoShutdown.ALL_SIGNIFICANT) as sup:

        def from_thread() -> Any:
            with pytest.raises(ValueError, match="shutdown"):
                sup.submit_from_thread(trio.sleep, 1, shutdown=-1)
            return sup.submit_from_thread(
                trio.sleep_forever, shutdown=3, significant=True
            )

        h = await trio.to_thread.run_sync(from_thread)
        assert (h.shutdown, h.significant) == (3, True)
        sup.cancel()
