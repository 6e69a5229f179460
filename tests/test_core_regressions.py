"""Regressions of the core, one test per bug, in exact virtual time.

Tests marked ``trio`` run on trio's MockClock; tests marked ``anyio`` run on both
backends, each in virtual time: trio with a MockClock, asyncio with an event loop
whose clock jumps to the next timer once every task waits (``VirtualTimeLoop``).
Every test holds under both runner modes (``SUPERVISOR_TEST_RUNNERS=pooled``).
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import selectors
import weakref
from typing import Any

import anyio
import pytest
import trio
import trio.testing

from supervisor import (
    Backoff,
    Restart,
    Strategy,
    TaskHandle,
    TaskStatus,
    TaskTimeout,
    current_handle,
    open_supervisor,
)

from .helpers import crash_at

S = TaskStatus


# -- virtual time on both backends -------------------------------------------------


class _JumpingSelector(selectors.DefaultSelector):
    """A selector that, instead of blocking until the next timer, jumps there."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:  # nothing will ever happen: a hang
            ready = super().select(10)
            if not ready:
                msg = "hung: every task waits and no timer is set"
                raise RuntimeError(msg)
            return ready
        self.now += timeout
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """asyncio's autojump clock: time starts at 0 and only passes while every task
    waits, jumping straight to the next timer."""

    def __init__(self) -> None:
        self._jumping = _JumpingSelector()
        super().__init__(self._jumping)

    def time(self) -> float:
        return self._jumping.now


@pytest.fixture(params=["trio", "asyncio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Both backends, each with a fresh virtual clock starting at 0."""
    if request.param == "trio":
        return "trio", {"clock": trio.testing.MockClock(autojump_threshold=0)}
    return "asyncio", {"loop_factory": VirtualTimeLoop}


async def sleep_until(when: float) -> None:
    await anyio.sleep(when - anyio.current_time())


async def serve(*, task_status: Any) -> None:
    task_status.started()
    await anyio.sleep_forever()


def crashes_once_at(when: float, starts: list[float] | None = None) -> Any:
    """A child that crashes at ``when`` on its first attempt, then serves."""

    async def run(*, task_status: Any) -> None:
        if starts is not None:
            starts.append(anyio.current_time())
        task_status.started()
        h = current_handle()
        assert h is not None
        if h.attempts == 1:
            await sleep_until(when)
            raise ValueError(f"crash at {when}")
        await anyio.sleep_forever()

    return run


# -- the bugs ----------------------------------------------------------------------


@pytest.mark.trio
async def test_bug0_the_last_allowed_attempt_holds_no_reference_to_its_arguments(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Once no further attempt can start, the handle drops the function and args."""

    class Payload:
        pass

    payload = Payload()
    ref = weakref.ref(payload)

    async def job(p: Payload) -> None:
        del p  # done with it: only the supervisor could keep it alive now
        h = current_handle()
        assert h is not None
        if h.attempts == 1:
            await trio.sleep(1)
            raise ValueError("first attempt")
        await trio.sleep(10)

    async with open_supervisor() as sup:
        h = sup.submit_nowait(job, payload, restart=Restart.TRANSIENT, max_attempts=2)
        del payload
        await trio.sleep(2)
        gc.collect()
        assert (h.status, h.attempts) == (S.RUNNING, 2)
        assert ref() is None
        h.cancel()


@pytest.mark.trio
@pytest.mark.parametrize("inside", ["wait_stop_requested", "a_supervisor"])
async def test_bug1_a_plain_task_that_timed_out_fails_with_task_timeout(
    autojump_clock: trio.testing.MockClock, inside: str
) -> None:
    """Looking at its stop request (or opening a supervisor) does not turn a
    plain task's timeout into a cancellation."""

    async def job() -> None:
        if inside == "wait_stop_requested":
            h = current_handle()
            assert h is not None
            await h.wait_stop_requested()
        else:
            async with open_supervisor("inner"):
                await trio.sleep_forever()

    async with open_supervisor() as sup:
        h = sup.submit_nowait(job, timeout=5)
        await h.wait()
    assert (h.status, h.completed_at) == (S.FAILED, 5)
    assert isinstance(h.exception, TaskTimeout)


@pytest.mark.trio
async def test_bug1_a_plain_task_that_looked_at_its_stop_request_completes_cleanly(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The other way out of bug 1's scenario: it stops waiting and returns."""
    events: list[tuple[S | None, S]] = []

    async def job() -> str:
        h = current_handle()
        assert h is not None
        with trio.move_on_after(1):
            await h.wait_stop_requested()
        return "done"

    async with open_supervisor(on_event=lambda e: events.append((e.old, e.new))) as sup:
        h = sup.submit_nowait(job)
        assert await h.result() == "done"
    assert (h.status, h.exception, h.completed_at) == (S.COMPLETED, None, 1)
    assert events == [
        (None, S.PENDING),
        (S.PENDING, S.RUNNING),
        (S.RUNNING, S.COMPLETED),
    ]


@pytest.mark.anyio
async def test_bug2_deleting_a_kept_child_while_a_group_restart_waits_its_backoff() -> (
    None
):
    """The group restart skips a kept child deleted meanwhile (no KeyError)."""
    starts: list[float] = []
    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as sup:
        a = await sup.start_child(serve, name="a")
        b = await sup.start_child(
            crashes_once_at(1, starts), name="b", backoff=Backoff(initial=5, jitter=0)
        )
        await sup.terminate_child("a")  # kept
        await sleep_until(2)
        assert b.status is S.RESTARTING  # the group restart waits out the backoff
        sup.delete_child("a")
        await sleep_until(10)
        assert (b.status, b.attempts) == (S.RUNNING, 2)
        assert [c.id for c in sup.which_children()] == ["b"]
    assert starts == [0, 6]
    assert (a.status, a.completed_at) == (S.CANCELLED, 0)


_who: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="unset")


@pytest.mark.trio
async def test_bug3_a_kept_child_restarted_by_its_group_runs_in_its_own_context(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Every attempt runs in a fresh copy of its own submitter's context, also a
    kept child that a group restart starts again."""
    seen: list[str] = []

    async def a(*, task_status: Any) -> None:
        seen.append(_who.get())
        task_status.started()
        await trio.sleep_forever()

    async def b(*, task_status: Any) -> None:
        _who.set("set inside b")
        await crashes_once_at(1)(task_status=task_status)

    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as sup:
        _who.set("a's submitter")
        await sup.start_child(a, name="a")
        _who.set("b's submitter")
        await sup.start_child(b, name="b")
        await sup.terminate_child("a")  # kept: the group restart starts it again
        await trio.sleep(2)
        assert [c.handle.status for c in sup.which_children()] == [S.RUNNING] * 2
    assert seen == ["a's submitter", "a's submitter"]


@pytest.mark.trio
async def test_bug4_start_child_returns_once_the_first_attempt_called_started(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A child that raises right after started() (no checkpoint in between) was
    ready: start_child returns then, whatever the next attempt does."""

    async def child(*, task_status: Any) -> None:
        h = current_handle()
        assert h is not None
        await trio.sleep(1)
        task_status.started(h.attempts)
        raise ValueError(f"right after started(), attempt {h.attempts}")

    async with open_supervisor() as sup:
        h = await sup.start_child(child, max_attempts=3)
        assert (trio.current_time(), h.started_value) == (1, 1)
        await h.wait()
    assert (h.status, h.attempts, h.completed_at) == (S.FAILED, 3, 3)
    assert isinstance(h.exception, ValueError)


@pytest.mark.trio
@pytest.mark.parametrize("how", ["terminate_child", "cancel"])
async def test_bug5_a_leader_ended_during_its_group_restart_ends_all_it_held(
    autojump_clock: trio.testing.MockClock, how: str
) -> None:
    """The group restart of ``b`` held ``a`` and ``c``; ``b`` ends for good while it
    waits out its backoff: the restart stops there, and every sibling it held (not
    only those after ``b``) ends CANCELLED, its spec kept, as after terminate_child."""
    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as sup:
        a = await sup.start_child(serve, name="a")
        b = await sup.start_child(
            crashes_once_at(1), name="b", backoff=Backoff(initial=5, jitter=0)
        )
        c = await sup.start_child(serve, name="c")
        await trio.sleep(2)
        assert [h.status for h in (a, b, c)] == [S.RESTARTING] * 3
        if how == "terminate_child":
            await sup.terminate_child("b")
        else:
            b.cancel()
        assert (b.status, b.completed_at) == (S.CANCELLED, 2)
        await trio.sleep(10)
        assert [(h.status, h.completed_at) for h in (a, c)] == [(S.CANCELLED, 6)] * 2
        assert sup.health().restarting == 0
        kept = ["a", "b", "c"] if how == "terminate_child" else ["a", "c"]
        assert [i.id for i in sup.which_children()] == kept
        again = await sup.restart_child("a")
        assert (again.status, again.attempts) == (S.RUNNING, 1)
    assert a.attempts == c.attempts == 1


@pytest.mark.anyio
async def test_bug6_current_handle_is_none_once_the_attempt_ended() -> None:
    """A task the job started in a nursery outside the supervisor, which reads
    current_handle() after the job ended, gets None: never a finished handle."""
    seen: list[TaskHandle[Any] | None] = []
    job_ended = anyio.Event()

    async def late() -> None:
        await job_ended.wait()
        seen.append(current_handle())

    async with anyio.create_task_group() as outside:

        async def job() -> None:
            outside.start_soon(late)

        async with open_supervisor() as sup:
            h = sup.submit_nowait(job)
            await h.wait()
            assert h.status is S.COMPLETED
            job_ended.set()
    assert seen == [None]


@pytest.mark.anyio
async def test_bug7a_a_cancel_while_a_group_restart_stops_the_task_is_kept() -> None:
    """``a`` is cancelled while a group restart waits for it to stop: it ends
    CANCELLED and is not restarted with the group."""
    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as sup:
        a = await sup.start_child(serve, name="a", shutdown=2)
        b = await sup.start_child(crashes_once_at(1), name="b")
        await sleep_until(1.5)
        assert a.stop_requested  # the group restart waits for it
        a.cancel()
        await sleep_until(3)
        assert (a.status, a.attempts, a.completed_at) == (S.CANCELLED, 1, 1.5)
        assert (b.status, b.attempts) == (S.RUNNING, 2)
        assert [i.id for i in sup.which_children()] == ["b"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "strategy", [Strategy.ONE_FOR_ONE, Strategy.ONE_FOR_ALL, Strategy.REST_FOR_ONE]
)
async def test_bug7b_a_task_cancelled_as_its_body_raises_is_not_restarted(
    strategy: Strategy,
) -> None:
    """A child cancelled in the very step in which its body raises is never
    restarted, under any strategy, and that is no restart decision."""

    async def cancelled_as_it_raises(*, task_status: Any) -> None:
        task_status.started()
        await anyio.sleep(1)
        h = current_handle()
        assert h is not None
        h.cancel()
        raise ValueError("raised in the step it was cancelled")

    async with open_supervisor(strategy=strategy, max_restarts=0) as sup:
        x = await sup.start_child(cancelled_as_it_raises, name="x")
        other = await sup.start_child(serve, name="other")
        await sleep_until(3)
        assert (x.status, x.attempts, x.completed_at) == (S.FAILED, 1, 1)
        assert isinstance(x.exception, ValueError)
        assert (other.status, other.attempts) == (S.RUNNING, 1)
        assert sup.health().restarts_in_period == 0


@pytest.mark.anyio
async def test_a_child_being_terminated_when_its_group_restarts_ends_terminated() -> (
    None
):
    """Found by the children machine: ``terminate_child("a")`` waits out a's
    shutdown when b's crash restarts the group. The terminate decides: ``a``
    ends CANCELLED (kept), then restarts with the group as a new task, as a kept
    child does (OTP handles the terminate before the exit that follows it)."""
    ended: list[tuple[TaskStatus, int, float | None]] = []
    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as sup:
        a = await sup.start_child(
            serve, name="a", restart=Restart.TRANSIENT, shutdown=2
        )
        b = await sup.start_child(crashes_once_at(1), name="b")

        async def terminate_at_half() -> None:
            await sleep_until(0.5)
            await sup.terminate_child("a")
            ended.append((a.status, a.attempts, a.completed_at))

        async with anyio.create_task_group() as tg:
            tg.start_soon(terminate_at_half)
        assert ended == [(S.CANCELLED, 1, 2.5)]
        await sleep_until(3)
        children = {i.id: i.handle for i in sup.which_children()}
        assert children["a"] is not a  # a new task from the kept spec
        assert (children["a"].status, children["a"].attempts) == (S.RUNNING, 1)
        assert (b.status, b.attempts) == (S.RUNNING, 2)
        sup.cancel()


@pytest.mark.anyio
async def test_a_child_terminated_while_its_group_stops_it_stays_terminated() -> None:
    """The other order: a group restart is stopping ``a`` when
    ``terminate_child("a")`` comes. ``a`` ends CANCELLED, kept, and this group
    restart does not start it again (OTP would handle the terminate after the
    restart, and stop it again)."""
    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as sup:
        a = await sup.start_child(
            serve, name="a", restart=Restart.TRANSIENT, shutdown=2
        )
        b = await sup.start_child(crashes_once_at(1), name="b")
        await sleep_until(1.5)
        assert a.stop_requested  # the group restart waits for it
        await sup.terminate_child("a")
        assert (a.status, a.attempts, a.completed_at) == (S.CANCELLED, 1, 3)
        await sleep_until(4)
        children = {i.id: i.handle for i in sup.which_children()}
        assert children["a"] is a  # kept, not started again
        assert (b.status, b.attempts) == (S.RUNNING, 2)
        sup.cancel()


@pytest.mark.trio
async def test_a_sibling_that_returns_when_its_group_stops_it_keeps_its_value(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Found by the children machine: a TEMPORARY sibling that a group restart
    stops, and that returns by itself within its shutdown, ends COMPLETED: its
    result() is its value (it raised AttributeError)."""

    async def finishes_its_unit() -> str:
        h = current_handle()
        assert h is not None
        await h.wait_stop_requested()
        await trio.sleep(0.5)
        return "unit done"

    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as sup:
        sup.submit_nowait(crash_at, 1, restart=Restart.TRANSIENT, max_attempts=2)
        sibling = sup.submit_nowait(finishes_its_unit, shutdown=2)
        await trio.sleep(3)
        assert sibling.status is TaskStatus.COMPLETED
        assert sibling.completed_at == 1.5
        assert await sibling.result() == "unit done"
        sup.cancel()
