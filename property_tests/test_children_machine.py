"""Child management as a drawn program, checked against API.md's Children rules.

One ``trio.run`` on the mock clock; Hypothesis draws each step interactively
(``data.draw``), so every step can await and still shrinks. Children have ids,
restart types, backoffs, per-child shutdowns, a stop request honoured or not, a
significance, and a script of attempts (crash or return after a while, or run on).
Steps: start_child, terminate_child, restart_child, delete_child, handle.cancel(),
and letting time pass (children crash meanwhile, on their own schedule). Each step
happens on its own instant (k + 1/2), every child's own act on a multiple of 1/8
plus its index /64, so no step meets a child's act.

After every step a small model of what the user did is checked against
``which_children()`` and the handles:

- an id is known (listed) iff it was started, not deleted, and its child is live,
  or was terminated by us (kept, unless TEMPORARY), or ended CANCELLED where a
  group restart stopped early (kept); the listing is in start order;
- terminate/restart/delete answer as documented (ChildNotFound, ChildRunning);
- a kept child is terminal; a terminated child never runs again; a child whose
  handle was cancelled never runs again and ends CANCELLED (or had ended);
- every attempt runs in a copy of its own submitter's context.

At the end (time passed beyond every backoff): no child is left RESTARTING while
the supervisor is open; the block leaves with no exception but
RestartIntensityExceeded; every handle ends terminal and the history is legal.
"""

from __future__ import annotations

import contextvars
import math
from typing import Any, Literal

import attrs
import trio
import trio.testing
from hypothesis import given, note, strategies as st

from supervisor import (
    AutoShutdown,
    Backoff,
    ChildNotFound,
    ChildRunning,
    Restart,
    RestartIntensityExceeded,
    Strategy,
    SupervisorClosed,
    TaskHandle,
    TaskStatus,
    current_handle,
    open_supervisor,
)
from supervisor.testing import EventRecorder

from .virtual_time import HANG_AFTER, Hung

#: Task steps after which an example counts as spinning: runnable for ever at one
#: virtual instant (a restart loop that takes no time), so the clock never jumps.
SPIN_AFTER = 100_000  # at one instant


class Spinning(AssertionError):
    """Tasks kept running at one virtual instant, never letting time pass."""


class _StepCounter(trio.abc.Instrument):
    def __init__(self, guard: trio.CancelScope) -> None:
        self.steps = 0
        self.at = -1.0
        self.guard = guard
        self.spinning = False

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        now = trio.current_time()
        if now != self.at:
            self.at, self.steps = now, 0
        self.steps += 1
        if self.steps > SPIN_AFTER and not self.spinning:
            self.spinning = True
            self.guard.cancel()


def run_guarded(main: Any) -> None:
    """trio.run on the autojump clock; fails an example that hangs or spins."""
    guard = trio.CancelScope(deadline=HANG_AFTER)
    counter = _StepCounter(guard)

    async def guarded() -> None:
        with guard:
            await main()
        if counter.spinning:
            raise Spinning(f"spinning at t={trio.current_time()}")
        if guard.cancelled_caught:
            raise Hung(f"hung: still waiting after {HANG_AFTER} virtual seconds")

    trio.run(
        guarded,
        clock=trio.testing.MockClock(autojump_threshold=0),
        instruments=[counter],
    )


S = TaskStatus

# -- children -------------------------------------------------------------------------------


@attrs.frozen
class Attempt:
    kind: Literal["crash", "return", "run"]  # "run": until stopped
    after: int  # eighths of a second (crash, return)


@attrs.frozen
class Kid:
    name: str
    restart: Restart
    shutdown: float | None  # None: not given (the default, 0)
    honours: bool  # ends (after 1/8 s of work) when asked to stop
    significant: bool
    backoff: float | None
    script: tuple[Attempt, ...]  # attempt n runs script[min(n, len) - 1]


attempts = st.one_of(
    st.builds(Attempt, st.sampled_from(["crash", "return"]), st.integers(1, 24)),
    st.builds(Attempt, st.just("run"), st.just(0)),
)


def kids(auto: AutoShutdown, index: int) -> st.SearchStrategy[Kid]:
    @st.composite
    def build(draw: st.DrawFn) -> Kid:
        restart = draw(st.sampled_from(list(Restart)))
        significant = (
            auto is not AutoShutdown.NEVER
            and restart is not Restart.PERMANENT
            and draw(st.booleans())
        )
        shutdown = draw(st.sampled_from([None, 0.0, 1.0 + index / 64, math.inf]))
        return Kid(
            name=f"c{index}",
            restart=restart,
            shutdown=None if shutdown == math.inf else shutdown,
            # shutdown=None (no limit) only for a child that honours its stop
            # request, else it never stops
            honours=shutdown is None or draw(st.booleans()),
            significant=significant,
            backoff=draw(st.none() | st.sampled_from([1.0, 5.0])),
            script=tuple(draw(st.lists(attempts, min_size=1, max_size=3))),
        )

    return build()


#: Each attempt must see its own submitter's value (set just before start_child).
STARTER: contextvars.ContextVar[str] = contextvars.ContextVar("STARTER")


def child_fn(kid: Kid, index: int, leaks: list[Any]) -> Any:
    count = 0

    async def run(*, task_status: Any) -> None:
        nonlocal count
        count += 1
        seen = STARTER.get(None)
        if seen != kid.name:
            leaks.append((kid.name, count, seen))
        STARTER.set(f"{kid.name} attempt {count}")
        h = current_handle()
        assert h is not None
        step = kid.script[min(count, len(kid.script)) - 1]
        task_status.started(count)
        async with trio.open_nursery() as nursery:
            if kid.honours:

                async def asked() -> None:
                    await h.wait_stop_requested()
                    await trio.sleep(1 / 8)  # finish the unit of work in hand
                    nursery.cancel_scope.cancel()

                nursery.start_soon(asked)
            if step.kind == "run":
                await trio.sleep_forever()
            # its own act on its own instant: eighths, plus its index /64
            await trio.sleep(step.after / 8 + (index + 1) / 64)
            if step.kind == "crash":
                raise ValueError(f"{kid.name} attempt {count} crashed")
            nursery.cancel_scope.cancel()

    return run


# -- the program ------------------------------------------------------------------------


@attrs.define
class Child:
    kid: Kid
    handles: list[TaskHandle[Any]] = attrs.Factory(list)
    state: str = "live"  # "live" | "kept" (terminated by us) | "deleted"
    stopped_at: float | None = None  # terminate_child or handle.cancel(), by us
    cancelled: bool = False


def runs_after(recorder: EventRecorder, h: TaskHandle[Any], at: float) -> bool:
    return any(
        e.task_id == h.id and e.new is S.RUNNING and e.at > at for e in recorder.events
    )


def respawned_since(recorder: EventRecorder, name: str, c: Child) -> bool:
    """Whether a task of ``name`` other than ``c``'s own handles ran after ``c``
    was stopped: a group restart ran the kept child again as a new task."""
    own = {h.id for h in c.handles}
    at = c.stopped_at if c.stopped_at is not None else 0.0
    return any(
        e.name == name and e.task_id not in own and e.new is S.RUNNING and e.at >= at
        for e in recorder.events
    )


@given(st.data())
def test_child_management_keeps_the_children_rules(data: st.DataObject) -> None:
    """which_children, op outcomes and statuses follow API.md after every step."""
    strategy = data.draw(st.sampled_from(list(Strategy)), label="strategy")
    auto = data.draw(st.sampled_from(list(AutoShutdown)), label="auto_shutdown")
    runners: Literal["task", "pooled"] = data.draw(
        st.sampled_from(["task", "pooled"]), label="runners"
    )
    max_restarts = data.draw(st.integers(0, 5), label="max_restarts")
    recorder = EventRecorder()
    leaks: list[Any] = []
    children: dict[str, Child] = {}
    order: list[str] = []  # first starts, in order
    escaped: list[BaseException] = []
    ended_early = True
    group = strategy is not Strategy.ONE_FOR_ONE
    sup_ref: list[Any] = []

    def check(step: str) -> None:
        sup = sup_ref[0]
        listed = [(info.id, info.handle) for info in sup.which_children()]
        ids = [i for i, _ in listed]
        note(f"after {step}: t={trio.current_time()} listed={ids}")
        # start order (restart_child keeps a child's place)
        assert ids == [n for n in order if n in ids], "which_children out of order"
        for name, c in children.items():
            listed_h = dict(listed).get(name)
            last = c.handles[-1]
            if (
                group
                and listed_h is not None
                and listed_h is not last
                and (
                    c.state == "kept"
                    or (last.status is S.CANCELLED and not c.cancelled)
                )
            ):
                # a group restart ran the kept child again from its spec, as a
                # new task (API.md: group strategies restart kept children),
                # kept by our terminate_child or by a group restart that
                # stopped early (its leader ended for good)
                c.handles.append(listed_h)
                c.state, c.stopped_at, c.cancelled = "live", None, False
            if (
                group
                and c.state == "kept"
                and listed_h is None
                and respawned_since(recorder, name, c)
            ):
                # a group restart ran the kept child again as a new task, which
                # ended by itself between two checks: forgotten, its id free
                # (API.md: a child that ends by itself is forgotten)
                c.state = "deleted"
            h = c.handles[-1]
            if c.state == "deleted":
                assert name not in ids, f"{name} deleted, yet listed"
            elif c.state == "kept":
                assert name in ids, f"{name} terminated (kept), not listed"
                assert h.done(), f"{name} kept, yet {h.status}"
            elif not h.done():
                assert name in ids, f"{name} live ({h.status}), not listed"
            elif name in ids:
                # kept without our terminate_child: a group restart stopped early
                assert h.status is S.CANCELLED, f"{name} ended {h.status}, still listed"
            if name in ids:
                assert dict(listed)[name] is h, f"{name} listed with an old handle"
            if c.stopped_at is not None:
                for old in c.handles:
                    assert not runs_after(recorder, old, c.stopped_at), (
                        f"{name} ran again after it was stopped"
                    )
            if c.cancelled and h.done():
                assert h.status in (S.CANCELLED, S.COMPLETED, S.FAILED)
        assert leaks == [], f"an attempt ran in another's context: {leaks}"

    async def main() -> None:
        nonlocal ended_early
        try:
            async with open_supervisor(
                strategy=strategy,
                auto_shutdown=auto,
                max_restarts=max_restarts,
                restart_period=5.0,
                shutdown_grace=10,  # a crash-looping TRANSIENT child ends the drain
                on_event=recorder,
                log_failures="never",
                max_concurrent=None if runners == "task" else 16,
                runners=runners,
            ) as sup:
                sup_ref.append(sup)
                now = 0
                for _ in range(data.draw(st.integers(1, 12), label="steps")):
                    now += data.draw(st.integers(0, 3), label="wait")
                    await trio.sleep_until(now + 0.5)
                    now = math.floor(trio.current_time())
                    # (Follows what happened meanwhile, such as a kept child that
                    # a group restart ran again, before this step reads it.)
                    check(f"the wait to t={now}")
                    ops = ["start", "wait"]
                    if children:
                        ops += ["terminate", "restart", "delete", "cancel"]
                    op = data.draw(st.sampled_from(ops), label="op")
                    if op == "start":
                        index = len(children)
                        kid = data.draw(kids(auto, index), label="kid")
                        children[kid.name] = c = Child(kid)
                        order.append(kid.name)
                        STARTER.set(kid.name)
                        try:
                            h = await sup.start_child(
                                child_fn(kid, index, leaks),
                                name=kid.name,
                                restart=kid.restart,
                                backoff=None
                                if kid.backoff is None
                                else Backoff(initial=kid.backoff, jitter=0),
                                significant=kid.significant,
                                **(
                                    {"shutdown": None}
                                    if kid.shutdown is None and kid.honours
                                    else {}
                                    if kid.shutdown is None
                                    else {"shutdown": kid.shutdown}
                                ),
                            )
                        except SupervisorClosed as exc:
                            # It gave up (restart intensity) or shut itself down
                            # (a significant child) since the last step: the
                            # block ends at the body's next checkpoint.
                            note(f"start_child {kid.name}: {exc!r}")
                            assert sup.closed, "SupervisorClosed, yet open"
                            del children[kid.name]
                            order.pop()
                            await trio.sleep_forever()
                        except Exception as exc:
                            note(f"start_child {kid.name}: {exc!r}")
                            raise AssertionError(
                                f"start_child of a child that is ready at once raised {exc!r}"
                            ) from exc
                        c.handles.append(h)
                        note(f"t={now}: start_child {kid}")
                    elif op != "wait":
                        name = data.draw(
                            st.sampled_from(sorted(children)), label="child"
                        )
                        c = children[name]
                        h = c.handles[-1]
                        listed = {i.id for i in sup.which_children()}
                        note(f"t={now}: {op} {name} ({c.state}, {h.status.name})")
                        if op == "cancel":
                            if not h.done():
                                c.stopped_at, c.cancelled = trio.current_time(), True
                            h.cancel()
                        elif op == "terminate":
                            try:
                                await sup.terminate_child(name)
                            except ChildNotFound:
                                assert name not in listed, (
                                    f"{name} listed, ChildNotFound"
                                )
                            else:
                                assert name in listed, f"{name} not listed, terminated"
                                if c.state == "live":
                                    c.stopped_at = trio.current_time()
                                    c.state = (
                                        "deleted"
                                        if c.kid.restart is Restart.TEMPORARY
                                        else "kept"
                                    )
                                assert h.done(), f"{name} terminated, yet {h.status}"
                        elif op in ("restart", "delete"):
                            kept = name in listed and h.done()
                            try:
                                if op == "restart":
                                    # its own value: whether the new task takes the
                                    # context of start_child or of restart_child
                                    # (API.md is silent), it must see this one
                                    STARTER.set(name)
                                    new = await sup.restart_child(name)
                                else:
                                    sup.delete_child(name)
                            except ChildNotFound:
                                assert name not in listed, (
                                    f"{name} listed, ChildNotFound"
                                )
                            except ChildRunning:
                                assert name in listed, f"{name} ChildRunning, unlisted"
                                assert not kept, f"{name} ChildRunning, yet {h.status}"
                            else:
                                assert kept, f"{op} of {name} ({h.status}) succeeded"
                                if op == "restart":
                                    c.handles.append(new)
                                    c.state, c.stopped_at, c.cancelled = (
                                        "live",
                                        None,
                                        False,
                                    )
                                    assert new is not h
                                    assert new.attempts >= 1
                                else:
                                    c.state = "deleted"
                    check(f"{op} at t={now}")
                # RESTARTING means it will run again: within the longest backoff
                # (30 s) and a group restart's stops, it runs or has ended
                waiting = {
                    name: c.handles[-1].attempts
                    for name, c in children.items()
                    if c.handles and c.handles[-1].status is S.RESTARTING
                }
                await trio.sleep(40)
                check("the wait for every backoff")
                for name, attempts_then in waiting.items():
                    h = children[name].handles[-1]
                    assert h.attempts > attempts_then or h.done(), (
                        f"{name} still RESTARTING 40 s later, never ran again"
                    )
                ended_early = False
        except* RestartIntensityExceeded as group_:
            escaped.append(group_)

    run_guarded(main)
    recorder.check()
    note(f"escaped={escaped} ended_early={ended_early}")
    for c in children.values():
        for h in c.handles:
            assert h.done(), f"{c.kid.name} outlived the block: {h.status}"
        if c.cancelled:
            assert c.handles[-1].status in (S.CANCELLED, S.COMPLETED, S.FAILED)
    if ended_early and not escaped:
        # the body was cancelled from inside: auto shutdown by a significant child
        assert auto is not AutoShutdown.NEVER, "the body was cancelled, no one asked"
        assert any(
            c.kid.significant
            and any(h.status in (S.COMPLETED, S.FAILED) for h in c.handles)
            for c in children.values()
        ), "auto shutdown, yet no significant child ended by itself"
