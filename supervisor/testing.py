"""Tools to test supervised code: record events, and check any recorded history.

Typical use, with trio's mock clock::

    from supervisor.testing import EventRecorder

    recorder = EventRecorder()
    async with open_supervisor(on_event=recorder) as sup:
        ...
    recorder.check()  # legal transitions, one terminal state each, monotonic times

:func:`check_history` validates any sequence of :class:`~supervisor.TaskEvent` s,
from ``on_event``, from ``sup.subscribe()``, or built by hand. A failed check raises
:class:`HistoryError` (an ``AssertionError``) whose message explains the first
broken rule and shows the history of the task concerned.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import warnings
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast, final

import attrs
import trio

from ._checks import check_count
from ._spec import Backoff, Restart
from ._status import TaskEvent, TaskStatus, is_legal_transition

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "EventRecorder",
    "HistoryError",
    "TaskSpec",
    "check_history",
    "hypothesis_scheduling",
    "run_spec",
    "shutdown_modes",
    "task_specs",
]


class HistoryError(AssertionError):
    """A recorded history breaks a rule of the task lifecycle."""


def _show(history: list[TaskEvent]) -> str:
    lines = []
    for e in history:
        old = "(created)" if e.old is None else e.old.name
        extra = f"  exception={e.exception!r}" if e.exception is not None else ""
        lines.append(
            f"    t={e.at!r}: {old} -> {e.new.name} (attempt {e.attempt}){extra}"
        )
    return "\n".join(lines)


def check_history(events: Iterable[TaskEvent], *, complete: bool = True) -> None:
    """Validate a recorded history of task events, task by task.

    Checks, for every task:

    - its first event creates it (``old`` None, ``new`` PENDING), and each later
      event's ``old`` is the previous event's ``new``;
    - every change is a legal transition of the lifecycle;
    - at most one terminal status, and nothing after it;
    - times never decrease; ``attempt`` never decreases and grows by one exactly on
      each change to RUNNING;
    - with ``complete=True`` (the default): the task ended terminal, as it must once
      the supervisor's block has exited.

    Raises:
        HistoryError: naming the task, the rule it breaks, and its history.
    """
    by_task: dict[int, list[TaskEvent]] = defaultdict(list)
    if not isinstance(cast("object", events), Iterable):
        msg = f"events must be an iterable of TaskEvents, got {events!r}"
        raise TypeError(msg)
    for event in events:
        if not isinstance(cast("object", event), TaskEvent):
            msg = f"events must hold TaskEvents, got {event!r}"
            raise TypeError(msg)
        by_task[event.task_id].append(event)
    for task_id, history in by_task.items():

        def fail(
            rule: str, history: list[TaskEvent] = history, task_id: int = task_id
        ) -> None:
            name = history[0].name
            msg = f"task {task_id} ({name!r}): {rule}\n  history:\n{_show(history)}"
            raise HistoryError(msg)

        first = history[0]
        if first.old is not None or first.new is not TaskStatus.PENDING:
            fail("the first event must create the task (None -> PENDING)")
        for before, after in itertools.pairwise(history):
            if before.new.is_terminal:
                fail(f"an event follows the terminal status {before.new.name}")
            if after.old is not before.new:
                fail(
                    f"event says it left {after.old.name if after.old else None}, "
                    f"but the task was {before.new.name}"
                )
            if not is_legal_transition(after.old, after.new):
                fail(f"illegal transition {before.new.name} -> {after.new.name}")
            if after.at < before.at:
                fail(f"time went backwards: {before.at!r} then {after.at!r}")
            expected = before.attempt + (1 if after.new is TaskStatus.RUNNING else 0)
            if after.attempt != expected:
                fail(
                    f"attempt {after.attempt} on {after.new.name}, expected {expected}"
                )
        if complete and not history[-1].new.is_terminal:
            fail(f"it never ended: last status {history[-1].new.name}")


@final
class EventRecorder:
    """An ``on_event`` hook that keeps every :class:`~supervisor.TaskEvent`.

    Pass it as ``open_supervisor(on_event=recorder)``. It never raises inside the
    supervisor; check the history afterwards with :meth:`check`.
    """

    __slots__ = ("events",)

    def __init__(self) -> None:
        self.events: list[TaskEvent] = []

    def __call__(self, event: TaskEvent) -> None:
        self.events.append(event)

    def history(self, task_id: int) -> list[TaskEvent]:
        """The events of one task, in order."""
        return [e for e in self.events if e.task_id == task_id]

    def statuses(self, task_id: int) -> list[TaskStatus]:
        """The statuses one task went through, in order."""
        return [e.new for e in self.events if e.task_id == task_id]

    def times(self, task_id: int, status: TaskStatus) -> list[float]:
        """When one task entered ``status``, each time (e.g. RUNNING: attempt starts)."""
        return [e.at for e in self.events if e.task_id == task_id and e.new is status]

    def check(self, *, complete: bool = True) -> None:
        """:func:`check_history` over everything recorded so far."""
        check_history(self.events, complete=complete)

    def __repr__(self) -> str:
        return f"<supervisor.testing.EventRecorder {len(self.events)} events>"


# ----------------------------------------------------------------------------
# Hypothesis-chosen scheduling
# ----------------------------------------------------------------------------


def _trio_scheduler_hooks() -> Any:
    """trio's private run module, if it still has the hooks this helper needs."""
    try:
        from trio._core import _run
    except ImportError:  # pragma: no cover - trio moved its internals
        return None
    if not isinstance(getattr(_run, "_r", None), random.Random) and not hasattr(
        getattr(_run, "_r", None), "shuffle"
    ):
        return None  # pragma: no cover - trio moved its internals
    if not getattr(_run, "_ALLOW_DETERMINISTIC_SCHEDULING", False):
        return None  # Hypothesis's trio plugin is not active: batches are not shuffled
    return _run


@final
class _DrawnOrder:
    """Stands in for trio's scheduler Random: each batch's order is a Hypothesis draw."""

    def __init__(self, data: Any, fallback: random.Random, max_batches: int) -> None:
        self._data = data
        self._fallback = fallback
        self._max_batches = max_batches
        self.batches = 0
        self.stop: BaseException | None = None

    def shuffle(self, batch: list[Any]) -> None:
        if len(batch) < 2 or self.stop is not None or self.batches >= self._max_batches:
            return  # FIFO
        from hypothesis import strategies as st

        try:
            order = self._data.draw(st.permutations(range(len(batch))))
        except BaseException as exc:
            # Broad on purpose: Hypothesis stops an example by raising from draw()
            # (its data ran out, or the example is being abandoned). Raising that
            # inside trio's scheduler loop would corrupt the run, so the rest of
            # this run goes FIFO and the exception is re-raised after trio.run.
            self.stop = exc
            return
        self.batches += 1
        batch[:] = [batch[i] for i in order]

    def random(self) -> float:
        return self._fallback.random()

    def uniform(self, a: float, b: float) -> float:
        return self._fallback.uniform(a, b)


@contextlib.contextmanager
def hypothesis_scheduling(data: Any, *, max_batches: int = 200) -> Iterator[Any]:
    """Let Hypothesis choose the order of every batch of runnable trio tasks.

    Use it around ``trio.run`` inside a ``@given(st.data())`` test::

        @given(st.data())
        def test_no_race(data):
            with hypothesis_scheduling(data):
                trio.run(main, clock=MockClock(autojump_threshold=0))

    Each batch's order is then a draw that Hypothesis records, so a failing
    interleaving shrinks to a minimal one and replays identically. After
    ``max_batches`` drawn batches a run goes on in FIFO order, so that long runs do
    not use up the data Hypothesis allows one example. This relies on
    private trio hooks (the scheduler's Random in ``trio._core._run``): if they have
    moved, it warns and falls back to trio's own scheduling, which Hypothesis seeds
    (deterministic, one interleaving per example). ``tests/test_testing.py`` guards
    the hooks.
    """
    check_count("max_batches", max_batches, 1)
    run_module = _trio_scheduler_hooks()
    if run_module is None:
        warnings.warn(
            "hypothesis_scheduling: trio's scheduler hooks are not available; "
            "falling back to seeded scheduling",
            RuntimeWarning,
            stacklevel=3,
        )
        yield None
        return
    original = run_module._r
    order = _DrawnOrder(data, original, max_batches)
    run_module._r = order
    try:
        yield order
    except BaseException:
        # Broad on purpose: once Hypothesis stopped the example inside a draw, what
        # the run raised afterwards (e.g. the test's own draw on frozen data) is
        # fallout; the stop signal is what Hypothesis needs to see. Anything else
        # is re-raised as it is.
        if order.stop is not None:
            raise order.stop from None
        raise
    finally:
        run_module._r = original
    if order.stop is not None:
        raise order.stop


# ----------------------------------------------------------------------------
# Hypothesis strategies for scenarios (need hypothesis installed)
# ----------------------------------------------------------------------------


@attrs.frozen
class TaskSpec:
    """One task of a drawn scenario: how long it runs and how it ends.

    ``run_spec(spec)`` is an async function that behaves so: it sleeps ``duration``
    virtual seconds, then returns ``"done"`` or raises ``ValueError`` ("hang" sleeps
    forever). The other fields are for the scenario's driver: the per-attempt
    ``timeout``, after how many checkpoints a concurrent task cancels it (or None),
    how long after the previous submission it is submitted, and its restart policy,
    ``max_attempts`` and ``backoff`` (every attempt behaves the same).
    """

    duration: int
    outcome: str  # "return" | "raise" | "hang"
    timeout: int | None = None
    cancel_after: int | None = None
    submit_delay: int = 0
    restart: Restart = Restart.TEMPORARY
    max_attempts: int | None = None
    backoff: Backoff | None = None


async def run_spec(spec: TaskSpec) -> str:
    """Behave as ``spec`` says (see :class:`TaskSpec`)."""
    if spec.outcome == "hang":
        await trio.sleep_forever()
    await trio.sleep(spec.duration)
    if spec.outcome == "raise":
        msg = "task failed"
        raise ValueError(msg)
    return "done"


def task_specs(
    *, max_duration: int = 5, max_timeout: int = 6, restarts: bool = False
) -> Any:
    """A Hypothesis strategy of :class:`TaskSpec` (durations in whole virtual seconds).

    With ``restarts=True`` it also draws a restart policy; a task that may restart
    always gets a ``max_attempts`` (1 to 3), so no drawn task restarts forever, and
    maybe an exact backoff (jitter 0).
    """
    from hypothesis import strategies as st

    check_count("max_duration", max_duration, 0)
    check_count("max_timeout", max_timeout, 1)
    if not isinstance(cast("object", restarts), bool):
        msg = f"restarts must be a bool, got {restarts!r}"
        raise TypeError(msg)
    restart: Any = st.just(Restart.TEMPORARY)
    max_attempts: Any = st.none()
    backoff: Any = st.none()
    if restarts:
        restart = st.sampled_from(list(Restart))
        max_attempts = st.integers(1, 3)
        backoff = st.none() | st.builds(
            Backoff,
            initial=st.integers(1, 2),
            maximum=st.just(4),
            multiplier=st.just(2),
            jitter=st.just(0),
        )
    return st.builds(
        TaskSpec,
        duration=st.integers(0, max_duration),
        outcome=st.sampled_from(["return", "raise", "hang"]),
        timeout=st.none() | st.integers(1, max_timeout),
        cancel_after=st.none() | st.integers(0, 6),
        submit_delay=st.integers(0, 3),
        restart=restart,
        max_attempts=max_attempts,
        backoff=backoff,
    )


def shutdown_modes() -> Any:
    """A strategy of the ways a scenario ends its supervisor: leaving the block
    ("exit"), ``shutdown(grace=...)`` ("grace"), ``sup.cancel()`` ("cancel"), a
    cancelled scope around the block ("outer"), or the body raising ("body_raises")."""
    from hypothesis import strategies as st

    return st.sampled_from(["exit", "grace", "cancel", "outer", "body_raises"])
