"""runners="pooled": what differs from a trio task per attempt, and what must not.

The whole suite also runs with every supervisor pooled
(``SUPERVISOR_TEST_RUNNERS=pooled``, as ``.ci/run`` does); these tests pin what is
specific to the runners themselves.
"""

from __future__ import annotations

import contextvars
import sys
from typing import TYPE_CHECKING

import anyio
import pytest
import trio
import trio.testing

from supervisor import Backoff, Restart, TaskStatus, current_handle, open_supervisor

if TYPE_CHECKING:
    import types

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


@pytest.mark.trio
async def test_pooled_needs_max_concurrent_and_runners_is_one_of_two() -> None:
    with pytest.raises(ValueError, match="runners='pooled' needs max_concurrent"):
        async with open_supervisor(runners="pooled"):
            pass  # pragma: no cover
    with pytest.raises(ValueError, match="runners must be 'task' or 'pooled'"):
        async with open_supervisor(max_concurrent=1, runners="thread"):  # type: ignore[arg-type]
            pass  # pragma: no cover


@pytest.mark.trio
async def test_a_runner_runs_job_after_job_and_current_handle_finds_each() -> None:
    seen: list[tuple[object, object, object]] = []

    async def job() -> None:
        seen.append((trio.lowlevel.current_task(), current_handle(), VAR.get()))
        await trio.lowlevel.checkpoint()

    async with open_supervisor(max_concurrent=2, runners="pooled") as sup:
        handles = [sup.submit_nowait(job) for _ in range(20)]
    assert [h.status for h in handles] == [TaskStatus.COMPLETED] * 20
    runners = {task for task, _, _ in seen}
    assert len(runners) == 2  # two slots: two trio tasks ran all twenty
    assert {task.name for task in runners} == {"supervisor runner"}  # type: ignore[attr-defined]
    assert sorted((h for _, h, _ in seen), key=id) == sorted(handles, key=id)


@pytest.mark.anyio
async def test_each_job_runs_in_its_own_copy_of_its_submitters_context() -> None:
    """A job sees what its submitter set when it submitted; what a job sets reaches
    neither the next job of its runner nor the submitter."""
    seen: list[str] = []

    async def job(tag: str) -> None:
        seen.append(VAR.get())
        VAR.set(f"set by {tag}")
        await anyio.lowlevel.checkpoint()
        seen.append(VAR.get())

    async with open_supervisor(max_concurrent=1, runners="pooled") as sup:
        for tag in ("a", "b", "c"):
            VAR.set(f"submitted {tag}")
            sup.submit_nowait(job, tag)
        VAR.set("submitter")
    assert seen == [
        "submitted a",
        "set by a",
        "submitted b",
        "set by b",
        "submitted c",
        "set by c",
    ]
    assert VAR.get() == "submitter"


@pytest.mark.anyio
async def test_each_attempt_of_a_restarted_task_starts_from_a_fresh_copy() -> None:
    seen: list[str] = []

    async def flaky() -> None:
        seen.append(VAR.get())
        VAR.set("left by an attempt")
        await anyio.lowlevel.checkpoint()
        if len(seen) < 3:
            raise ValueError("again")

    VAR.set("submitted")
    async with open_supervisor(max_concurrent=1, runners="pooled") as sup:
        h = sup.submit_nowait(flaky, restart=Restart.TRANSIENT)
    assert (h.status, h.attempts) == (TaskStatus.COMPLETED, 3)
    assert seen == ["submitted"] * 3


@pytest.mark.trio
async def test_jobs_that_never_yield_do_not_starve_other_tasks() -> None:
    """A runner checkpoints between attempts that never yielded: meanwhile a task
    outside the supervisor keeps getting its turns."""
    steps = 0
    done = 0

    async def instant() -> None:
        nonlocal done
        done += 1

    async def other() -> None:
        nonlocal steps
        while True:
            steps += 1
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(other)
        await trio.lowlevel.checkpoint()
        async with open_supervisor(max_concurrent=1, runners="pooled") as sup:
            for _ in range(1000):
                sup.submit_nowait(instant)
            before = steps
        nursery.cancel_scope.cancel()
    assert done == 1000
    # One turn of the other task per attempt, give or take the first and last.
    assert steps - before >= 990


@pytest.mark.trio
async def test_cancel_and_timeout_reach_only_their_job(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def sleep(seconds: float) -> float:
        await trio.sleep(seconds)
        return trio.current_time()

    async with open_supervisor(max_concurrent=1, runners="pooled") as sup:
        cancelled = sup.submit_nowait(sleep, 10)
        timed_out = sup.submit_nowait(sleep, 10, timeout=2)
        after = sup.submit_nowait(sleep, 1)
        await trio.sleep(1)
        cancelled.cancel()
    assert (cancelled.status, cancelled.completed_at) == (TaskStatus.CANCELLED, 1)
    assert (timed_out.status, timed_out.completed_at) == (TaskStatus.FAILED, 3)
    assert (after.status, after.started_at, await after.result()) == (
        TaskStatus.COMPLETED,
        3,
        4,
    )


@pytest.mark.parametrize(("outer", "inner"), [("task", "pooled"), ("pooled", "task")])
@pytest.mark.trio
async def test_current_handle_in_supervisors_nested_across_modes(
    outer: str, inner: str
) -> None:
    """Each task sees its own handle, whichever mode runs it and the one around
    it; so do the tasks it starts in its own nursery."""
    seen: dict[str, object] = {}

    async def leaf() -> None:
        seen["leaf"] = current_handle()

        async def child() -> None:
            seen["leaf's child"] = current_handle()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(child)

    async def branch() -> None:
        seen["branch"] = current_handle()
        async with open_supervisor(max_concurrent=1, runners=inner) as sup:  # type: ignore[arg-type]
            seen["leaf handle"] = sup.submit_nowait(leaf)
        seen["branch after"] = current_handle()

    async with open_supervisor(max_concurrent=1, runners=outer) as sup:  # type: ignore[arg-type]
        h = sup.submit_nowait(branch)
        await h.wait()  # (not draining: a drain would stop the nested one at once)
    assert h.status is TaskStatus.COMPLETED
    assert seen["branch"] is seen["branch after"] is h
    assert seen["leaf"] is seen["leaf's child"] is seen["leaf handle"]


@pytest.mark.parametrize("runners", ["task", "pooled"])
@pytest.mark.trio
async def test_no_runner_stays_registered_once_its_tasks_ended(
    autojump_clock: trio.testing.MockClock, runners: str
) -> None:
    """current_handle()'s map of trio runner tasks holds only live runners: after
    completions, failures, timeouts, cancels, restarts and an outer cancel, none."""
    from supervisor._handle import TRIO_RUNNERS

    async def fail() -> None:
        raise ValueError("x")

    with trio.move_on_after(50):
        async with open_supervisor(max_concurrent=3, runners=runners) as sup:  # type: ignore[arg-type]
            sup.submit_nowait(trio.sleep, 1)
            sup.submit_nowait(fail)
            sup.submit_nowait(trio.sleep, 10, timeout=2)
            sup.submit_nowait(fail, restart=Restart.TRANSIENT, max_attempts=3)
            sup.submit_nowait(trio.sleep, 5).cancel()
            sup.submit_nowait(trio.sleep_forever)
            await trio.sleep(20)
            assert len(TRIO_RUNNERS) == 1  # the one still running
            await trio.sleep_forever()  # the outer cancel at 50 ends it
    assert TRIO_RUNNERS == {}


def _innermost_runner() -> str:
    """The runner body nearest the caller's caller on the stack: ``run_plain``
    that went the general way shows as ``run_attempt``. Names are matched by part:
    under mutmut each body runs inside a trampoline."""
    frame: types.FrameType | None = sys._getframe(2)
    while frame is not None:
        for runner in ("run_plain", "run_attempt"):
            if runner in frame.f_code.co_name:
                return runner
        frame = frame.f_back
    return ""


@pytest.mark.trio
@pytest.mark.parametrize(
    "runners", [pytest.param("task", marks=pytest.mark.task_runners), "pooled"]
)
async def test_each_task_runs_on_the_runner_its_route_promises(
    runners: str, autojump_clock: trio.testing.MockClock
) -> None:
    """The hot path is a promise too: a task with no per-task record (no restart
    type, no child options) runs in ``run_plain``, any other in ``run_attempt``, whether it got its slot at
    submission or from the queue; a pooled supervisor runs every one in a runner
    task named ``supervisor runner``, a task supervisor in a task named as the
    task. Seen from inside each task: the trio task it runs in."""
    seen: dict[str, tuple[str, str]] = {}

    async def probe(tag: str) -> None:
        task = trio.lowlevel.current_task()
        seen[tag] = (_innermost_runner(), task.name)
        await trio.sleep(1)

    async with open_supervisor(max_concurrent=1, runners=runners) as sup:  # type: ignore[arg-type]
        sup.submit_nowait(probe, "plain, slot at once")
        sup.submit_nowait(probe, "plain, from the queue")
        sup.submit_nowait(
            probe, "transient, from the queue", name="t1", restart=Restart.TRANSIENT
        )
        await trio.sleep(5)
        sup.submit_nowait(
            probe, "transient, slot at once", name="t2", restart=Restart.TRANSIENT
        )
        await trio.sleep(5)
        # Options that need no per-task record (a name, a timeout) keep it plain.
        sup.submit_nowait(probe, "named, slot at once", name="n", timeout=60)
        await trio.sleep(5)
    if runners == "pooled":
        assert {name for _, name in seen.values()} == {"supervisor runner"}
        return
    probe_name = probe.__qualname__
    assert seen == {
        "plain, slot at once": ("run_plain", probe_name),
        "plain, from the queue": ("run_plain", probe_name),
        "transient, from the queue": ("run_attempt", "t1"),
        "transient, slot at once": ("run_attempt", "t2"),
        "named, slot at once": ("run_plain", "n"),
    }


@pytest.mark.task_runners
@pytest.mark.trio
async def test_a_nested_supervisor_s_plain_tasks_take_the_plain_route(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A supervisor opened inside a task of an untraced, unmeasured one takes
    its parent's (absent) observers along, and with them the hot path."""
    routes: list[str] = []

    async def probe() -> None:
        routes.append(_innermost_runner())
        await trio.lowlevel.checkpoint()

    async def host() -> None:
        async with open_supervisor() as inner:
            inner.submit_nowait(probe)
            await trio.sleep(1)

    async with open_supervisor() as outer:
        outer.submit_nowait(host)
        await trio.sleep(2)
    assert routes == ["run_plain"]


@pytest.mark.trio
async def test_tasks_with_a_record_are_counted_in_line_one_by_one(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The general route's queue (tasks with a per-task record) counts each task
    that waits, as the plain route's does."""
    async with open_supervisor(max_concurrent=1) as sup:
        for _ in range(4):
            sup.submit_nowait(trio.sleep_forever, restart=Restart.TRANSIENT)
        assert sup.health().waiting == 3
        sup.cancel()


@pytest.mark.trio
async def test_a_restart_after_a_task_that_never_started_gets_a_runner(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Pooled: ``b`` is cancelled before its runner starts it (t=2), so that
    runner hands nothing on; ``a``'s restart at t=3 then starts in a runner of
    its own, named as every runner is."""
    names: list[tuple[int, str]] = []

    async def fails_once() -> None:
        h = current_handle()
        assert h is not None
        names.append((h.attempts, trio.lowlevel.current_task().name))
        if h.attempts == 1:
            await trio.sleep(1)
            raise ValueError("once")
        await trio.sleep_forever()

    async with open_supervisor(max_concurrent=2, runners="pooled") as sup:
        a = sup.submit_nowait(
            fails_once, restart=Restart.TRANSIENT, backoff=Backoff(initial=2, jitter=0)
        )
        await trio.sleep(2)
        b = sup.submit_nowait(trio.sleep_forever)
        b.cancel()
        await trio.sleep(2)
        assert (a.status, a.attempts, b.status) == (
            TaskStatus.RUNNING,
            2,
            TaskStatus.CANCELLED,
        )
        assert names == [(1, "supervisor runner"), (2, "supervisor runner")]
        sup.cancel()
