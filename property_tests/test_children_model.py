"""Child management against a model, on trio (virtual time) and asyncio (real clock).

A drawn set of children (restart type, per-child shutdown, a stop request honoured
or ignored, significant or not, named or not) meets a drawn sequence of
operations: terminate, restart, delete, and "finish" (the child's current attempt
returns by itself). A pure model predicts each operation's outcome (done,
ChildNotFound, ChildRunning), ``which_children`` after it, when auto shutdown
ends the block, and every task's final status. Nothing in a scenario depends on
timing (each step is awaited to its end; a unit of work is tiny next to a
shutdown), so both backends must agree with the model, and with each other.
"""

from __future__ import annotations

import os
from typing import Any

import anyio
import anyio.lowlevel
import attrs
import pytest
from hypothesis import given, note, strategies as st

from supervisor import (
    AutoShutdown,
    ChildNotFound,
    ChildRunning,
    Restart,
    TaskHandle,
    TaskStatus,
    current_handle,
    open_supervisor,
)
from supervisor.testing import EventRecorder

S = TaskStatus
WAIT = 1.0  # a per-child shutdown that lets a child finish its unit of work (one
# checkpoint); times a scale: 5 s on trio's virtual clock, 200 ms of real time on
# either backend (only a child that ignores its stop request waits it out; at 50 ms
# a stall of a loaded CI machine once let an honouring child miss the window)
VIRTUAL, REAL = 5.0, 0.2


@attrs.frozen
class Plan:
    restart: Restart
    shutdown: float | None
    honours: bool  # finishes its unit of work when asked to stop
    significant: bool
    named: bool


@attrs.frozen
class Op:
    kind: str  # "terminate" | "restart" | "delete" | "finish"
    child: int


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[AutoShutdown, list[Plan], list[Op]]:
    auto = draw(st.sampled_from(list(AutoShutdown)))
    plans = []
    for _ in range(draw(st.integers(1, 4))):
        restart = draw(st.sampled_from(list(Restart)))
        shutdown = draw(st.sampled_from([0.0, WAIT, None]))
        # One-shot children always honour the advice of a graceful shutdown's
        # first phase (else a shutdown with no grace would wait for them).
        honours = restart is not Restart.PERMANENT or draw(st.booleans())
        if shutdown is None:
            honours = True  # else it never stops
        significant = (
            auto is not AutoShutdown.NEVER
            and restart is not Restart.PERMANENT
            and draw(st.booleans())
        )
        plans.append(Plan(restart, shutdown, honours, significant, draw(st.booleans())))
    ops = draw(
        st.lists(
            st.builds(
                Op,
                st.sampled_from(["terminate", "restart", "delete", "finish"]),
                st.integers(0, len(plans) - 1),
            ),
            max_size=8,
        )
    )
    return auto, plans, ops


# -- the model ---------------------------------------------------------------------------


@attrs.define
class ModelChild:
    plan: Plan
    state: str = "live"  # "live" | "kept" | "gone"
    finals: list[TaskStatus] = attrs.Factory(list)  # one per task, once ended
    attempts: int = 1


def stopped_status(plan: Plan) -> TaskStatus:
    """How a stop on purpose ends it."""
    if plan.honours and plan.shutdown != 0:
        return S.COMPLETED  # finished its unit of work within the shutdown
    return S.CANCELLED


def model(
    auto: AutoShutdown, plans: list[Plan], ops: list[Op]
) -> tuple[list[str], list[list[tuple[int, bool]]], list[list[TaskStatus]]]:
    """Each op's outcome, which_children after it ([(child, kept)]), and every
    child's tasks' final statuses in order."""
    kids = [ModelChild(p) for p in plans]
    outcomes: list[str] = []
    listings: list[list[tuple[int, bool]]] = []
    shut_down = False
    for op in ops:
        if shut_down:
            outcomes.append("skipped")
            listings.append([])
            continue
        kid = kids[op.child]
        named = kid.plan.named
        if op.kind == "terminate":
            if kid.state == "gone" and named:
                outcomes.append("ChildNotFound")
            else:
                if kid.state == "live":
                    kid.finals.append(stopped_status(kid.plan))
                    kid.state = (
                        "gone" if kid.plan.restart is Restart.TEMPORARY else "kept"
                    )
                outcomes.append("ok")
        elif op.kind in ("restart", "delete"):
            if kid.state == "live":
                outcomes.append("ChildRunning")
            elif kid.state == "gone":
                outcomes.append("ChildNotFound")
            else:
                kid.state = "live" if op.kind == "restart" else "gone"
                kid.attempts = 1
                outcomes.append("ok")
        else:  # finish: the current attempt returns by itself
            outcomes.append("ok")
            if kid.state == "live":
                if kid.plan.restart is Restart.PERMANENT:
                    kid.attempts += 1  # restarted at once
                else:
                    kid.finals.append(S.COMPLETED)
                    kid.state = "gone"
                    if kid.plan.significant:
                        live_significant = [
                            k for k in kids if k.plan.significant and k.state == "live"
                        ]
                        if auto is AutoShutdown.ANY_SIGNIFICANT or not live_significant:
                            shut_down = True  # the body is cancelled in this step
        listings.append(
            []
            if shut_down
            else [
                (i, k.state == "kept") for i, k in enumerate(kids) if k.state != "gone"
            ]
        )
    # The block exits: a graceful shutdown. One-shot children honour its advice;
    # PERMANENT ones are stopped by their policy.
    for kid in kids:
        if kid.state == "live":
            permanent = kid.plan.restart is Restart.PERMANENT
            kid.finals.append(stopped_status(kid.plan) if permanent else S.COMPLETED)
    return outcomes, listings, [k.finals for k in kids]


# -- the run ---------------------------------------------------------------------------------


def child_fn(gates: dict[int, anyio.Event], index: int, honours: bool) -> Any:
    async def run(*, task_status: Any) -> None:
        h = current_handle()
        assert h is not None
        gate = gates[index] = anyio.Event()
        task_status.started()
        async with anyio.create_task_group() as tg:

            async def asked() -> None:
                await h.wait_stop_requested()
                await (
                    anyio.lowlevel.checkpoint()
                )  # the unit of work in hand: one checkpoint
                tg.cancel_scope.cancel()

            if honours:
                tg.start_soon(asked)
            await gate.wait()  # "finish": return by itself
            tg.cancel_scope.cancel()

    return run


async def wait_until(predicate: Any) -> None:
    with anyio.fail_after(10):
        while not predicate():
            await anyio.lowlevel.checkpoint()


async def run_scenario(
    auto: AutoShutdown, plans: list[Plan], ops: list[Op], scale: float
) -> tuple[list[str], list[list[tuple[int, bool]]], list[list[TaskStatus]]]:
    recorder = EventRecorder()
    gates: dict[int, anyio.Event] = {}
    outcomes: list[str] = []
    listings: list[list[tuple[int, bool]]] = []
    tasks: list[list[TaskHandle[Any]]] = [[] for _ in plans]

    def current(k: int) -> TaskHandle[Any]:
        return tasks[k][-1]

    async with open_supervisor(
        auto_shutdown=auto, on_event=recorder, max_restarts=1000
    ) as sup:
        for k, plan in enumerate(plans):
            tasks[k].append(
                await sup.start_child(
                    child_fn(gates, k, plan.honours),
                    name=f"c{k}" if plan.named else None,
                    restart=plan.restart,
                    shutdown=None if plan.shutdown is None else plan.shutdown * scale,
                    significant=plan.significant,
                )
            )
        for op in ops:
            k = op.child
            target: Any = f"c{k}" if plans[k].named else current(k)
            try:
                if op.kind == "terminate":
                    await sup.terminate_child(target)
                elif op.kind == "restart":
                    tasks[k].append(await sup.restart_child(target))
                elif op.kind == "delete":
                    sup.delete_child(target)
                else:
                    h = current(k)
                    if not h.done():
                        gate = gates[k]
                        gate.set()
                        # ended, or restarted (its new attempt made a new gate)
                        await wait_until(
                            lambda h=h, k=k, gate=gate: h.done() or gates[k] is not gate
                        )
                outcomes.append("ok")
            except (ChildNotFound, ChildRunning) as exc:
                outcomes.append(type(exc).__name__)
            by_handle = {id(h): j for j, hs in enumerate(tasks) for h in hs}
            listings.append(
                [
                    (by_handle[id(info.handle)], info.handle.done())
                    for info in sup.which_children()
                ]
            )
    # Auto shutdown cancelled the body during a "finish" step: that step was done,
    # the rest never ran.
    if len(outcomes) < len(ops):
        outcomes.append("ok")
        listings.append([])
    outcomes.extend(["skipped"] * (len(ops) - len(outcomes)))
    listings.extend([[]] * (len(ops) - len(listings)))
    recorder.check()
    return outcomes, listings, [[h.status for h in hs] for hs in tasks]


def check(backend: str, auto: AutoShutdown, plans: list[Plan], ops: list[Op]) -> Any:
    expected = model(auto, plans, ops)
    note(f"expected={expected}")
    got = anyio.run(run_scenario, auto, plans, ops, REAL, backend=backend)
    assert got == expected
    return got


@given(scenarios())
def test_child_management_follows_the_model_on_trio(
    scenario: tuple[AutoShutdown, list[Plan], list[Op]],
) -> None:
    import trio.testing

    auto, plans, ops = scenario
    expected = model(auto, plans, ops)
    note(f"expected={expected}")
    result: list[Any] = []

    async def main() -> None:
        result.append(await run_scenario(auto, plans, ops, VIRTUAL))

    import trio

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert result == [expected]


@pytest.mark.threads  # real clock: out of the virtual-time hang guard
@pytest.mark.skipif(
    bool(os.environ.get("SUPERVISOR_MUTATION_RUN")),
    reason="mutation runs: the same model runs on the virtual clock, in seconds less",
)
@given(scenarios())
def test_child_management_follows_the_model_on_asyncio_and_agrees_with_trio(
    scenario: tuple[AutoShutdown, list[Plan], list[Op]],
) -> None:
    auto, plans, ops = scenario
    on_asyncio = check("asyncio", auto, plans, ops)
    on_trio = check("trio", auto, plans, ops)
    assert on_asyncio == on_trio
