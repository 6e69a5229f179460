"""Bad input to every public entry point: the specific error class, at once, with a
message that names the argument.

One table: (the call, the error class, the argument its message must name). Each
call gets a fresh supervisor (``sup``) in a block that the error must not break.
"""

from __future__ import annotations

import functools
import math
import re
import signal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import pytest
import trio

from supervisor import (
    Actor,
    Backoff,
    ChildNotFound,
    HealthRules,
    open_supervisor,
    testing,
)

if TYPE_CHECKING:
    from supervisor import Supervisor

pytestmark = pytest.mark.trio

HUGE = 10**100


async def job() -> None:
    pass


async def child(*, task_status: Any) -> None:
    task_status.started()


def sync_job() -> None:
    pass  # pragma: no cover - never called


class Echo(Actor[str, str]):
    async def handle(self, message: str) -> str:
        return message  # pragma: no cover - never called


async def opened(**options: Any) -> None:
    async with open_supervisor(**options):
        pass  # pragma: no cover - the options are refused first


async def from_thread(sup: Supervisor, **options: Any) -> None:
    await trio.to_thread.run_sync(
        functools.partial(sup.submit_from_thread, job, **options)
    )


def _never_awaited() -> object:
    coro = job()
    coro.close()  # the check must refuse it without running it
    return coro


#: (id, call taking the supervisor, error class, the argument named in the message)
CASES: list[tuple[str, Any, type[Exception], str]] = []


def case(label: str, call: Any, error: type[Exception], argument: str) -> None:
    CASES.append((label, call, error, argument))


# -- open_supervisor -----------------------------------------------------------------
for option, value, error in [
    ("name", 1, TypeError),
    ("name", "", ValueError),
    ("max_concurrent", 0, ValueError),
    ("max_concurrent", "1", TypeError),
    ("max_concurrent", HUGE, ValueError),
    ("max_pending", -1, ValueError),
    ("max_pending", 1.5, TypeError),
    ("strategy", "one_for_one", TypeError),
    ("max_restarts", -1, ValueError),
    ("max_restarts", HUGE, ValueError),
    ("max_restarts", None, TypeError),
    ("restart_period", 0, ValueError),
    ("restart_period", math.nan, ValueError),
    ("shutdown_grace", -1, ValueError),
    ("shutdown_grace", "5", TypeError),
    ("on_event", 1, TypeError),
    ("on_event", job, TypeError),
    ("seed", "x", TypeError),
    ("health_rules", {}, TypeError),
    ("auto_shutdown", "never", TypeError),
    ("log_failures", "sometimes", ValueError),
    ("shutdown_on", ("SIGTERM",), TypeError),
    ("runners", "threads", ValueError),
    ("runners", "pooled", ValueError),  # needs max_concurrent
]:
    case(
        f"open_supervisor({option}={value!r:.20})",
        functools.partial(lambda _sup, o, v: opened(**{o: v}), o=option, v=value),
        error,
        option,
    )
case(
    "open_supervisor(shutdown_on=(SIGKILL,))",
    lambda _sup: opened(shutdown_on=(signal.SIGKILL,)),
    ValueError,
    "shutdown_on: SIGKILL cannot be caught by any program",
)
case(
    "open_supervisor(shutdown_on=(SIGSTOP,))",
    lambda _sup: opened(shutdown_on=(signal.SIGSTOP,)),
    ValueError,
    "shutdown_on: SIGSTOP cannot be caught by any program",
)

# -- the submit calls ----------------------------------------------------------------
SUBMIT_OPTIONS: list[tuple[str, object, type[Exception]]] = [
    ("name", "", ValueError),
    ("name", 1, TypeError),
    ("timeout", 0, ValueError),
    ("timeout", -1, ValueError),
    ("timeout", math.nan, ValueError),
    ("timeout", "1", TypeError),
    ("restart", "transient", TypeError),
    ("max_attempts", 0, ValueError),
    ("max_attempts", HUGE, ValueError),
    ("backoff", 1, TypeError),
    ("shutdown", -1, ValueError),
    ("significant", "yes", TypeError),
]
for api in ("submit", "submit_nowait", "submit_from_thread", "start_child"):
    fn = child if api == "start_child" else job
    for option, value, error in SUBMIT_OPTIONS:
        if api == "submit_from_thread":
            call: Any = functools.partial(
                lambda sup, o, v: from_thread(sup, **{o: v}), o=option, v=value
            )
        else:
            call = functools.partial(
                lambda sup, a, f, o, v: getattr(sup, a)(f, **{o: v}),
                a=api,
                f=fn,
                o=option,
                v=value,
            )
        case(f"{api}({option}={value!r:.20})", call, error, option)
    for bad_fn, what in [(sync_job, "sync"), (None, "coroutine object")]:
        case(
            f"{api}(a {what})",
            functools.partial(
                lambda sup, a, f: getattr(sup, a)(f or _never_awaited()),
                a=api,
                f=bad_fn,
            )
            if api != "submit_from_thread"
            else functools.partial(
                lambda sup, f: trio.to_thread.run_sync(
                    sup.submit_from_thread, f or _never_awaited()
                ),
                f=bad_fn,
            ),
            TypeError,
            api,
        )
case(
    "start_child(no task_status)",
    lambda sup: sup.start_child(job),
    TypeError,
    "task_status",
)
case(
    "start_child(start_timeout=0)",
    lambda sup: sup.start_child(child, start_timeout=0),
    ValueError,
    "start_timeout",
)
case(
    "submit(significant=True) under auto_shutdown=NEVER",
    lambda sup: sup.submit(job, significant=True),
    ValueError,
    "significant",
)
case(
    "submit(restart=PERMANENT, significant=True)",
    lambda sup: sup.submit(
        job, restart=__import__("supervisor").Restart.PERMANENT, significant=True
    ),
    ValueError,
    "significant",
)

# -- spawn_actor ---------------------------------------------------------------------
spawn_cases: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("factory=1", {"factory": 1}, TypeError, "factory"),
    ("factory=dict", {"factory": dict}, TypeError, "factory"),
    ("name=''", {"name": ""}, ValueError, "name"),
    ("name=None", {"name": None}, TypeError, "name"),
    ("mailbox_size=0", {"mailbox_size": 0}, ValueError, "mailbox_size"),
    ("mailbox_size='1'", {"mailbox_size": "1"}, TypeError, "mailbox_size"),
    ("stop_timeout=-1", {"stop_timeout": -1}, ValueError, "stop_timeout"),
    ("start_timeout=0", {"start_timeout": 0}, ValueError, "start_timeout"),
    ("max_attempts=0", {"max_attempts": 0}, ValueError, "max_attempts"),
]
for label, kwargs, error, argument in spawn_cases:
    # Read-only: a case runs again in the same process (a second pytest.main, as
    # the mutation tool's clean run does), so it must never change its arguments.
    options = MappingProxyType(
        {"name": "echo", **{k: v for k, v in kwargs.items() if k != "factory"}}
    )
    case(
        f"spawn_actor({label})",
        functools.partial(
            lambda sup, f, o: sup.spawn_actor(f, **o),
            f=kwargs.get("factory", Echo),
            o=options,
        ),
        error,
        argument,
    )

# -- managing children, observing, shutting down ------------------------------------
case(
    "terminate_child('nobody')",
    lambda sup: sup.terminate_child("nobody"),
    ChildNotFound,
    "nobody",
)
case(
    "restart_child('nobody')",
    lambda sup: sup.restart_child("nobody"),
    ChildNotFound,
    "nobody",
)
case(
    "delete_child('nobody')",
    lambda sup: sup.delete_child("nobody"),
    ChildNotFound,
    "nobody",
)
case("terminate_child(1)", lambda sup: sup.terminate_child(1), TypeError, "child")
case(
    "subscribe(max_buffer=0)",
    lambda sup: sup.subscribe(max_buffer=0),
    ValueError,
    "max_buffer",
)
case("shutdown(grace=-1)", lambda sup: sup.shutdown(grace=-1), ValueError, "grace")
case("whereis(1)", lambda sup: sup.whereis(1), TypeError, "name")

# -- the option classes --------------------------------------------------------------
for option, value, error in [
    ("initial", -1, ValueError),
    ("maximum", 0, ValueError),
    ("multiplier", 0.5, ValueError),
    ("jitter", 2, ValueError),
]:
    case(
        f"Backoff({option}={value})",
        functools.partial(lambda _sup, o, v: Backoff(**{o: v}), o=option, v=value),
        error,
        option,
    )
for option, value, error in [
    ("queue_degraded", 2, ValueError),
    ("failure_window", 0, ValueError),
    ("min_finished", -1, ValueError),
    ("pending_age_unhealthy", -1, ValueError),
]:
    case(
        f"HealthRules({option}={value})",
        functools.partial(lambda _sup, o, v: HealthRules(**{o: v}), o=option, v=value),
        error,
        option,
    )


# -- the extras (installed by the test extra and CI) --------------------------------
def _extra(module: str) -> Any:
    return pytest.importorskip(module)


case(
    "metrics.instrument(1)",
    lambda _sup: _extra("supervisor.metrics").instrument(1),
    TypeError,
    "instrument",
)
case(
    "tracing.instrument(1)",
    lambda _sup: _extra("supervisor.tracing").instrument(1),
    TypeError,
    "instrument",
)
case(
    "console.render(1)",
    lambda _sup: _extra("supervisor.console").render(1),
    TypeError,
    "render",
)
case(
    "console.live(refresh=0)",
    lambda sup: _extra("supervisor.console").live(sup, refresh=0),
    ValueError,
    "refresh",
)
URL = "redis://127.0.0.1:1"  # never reached: the arguments are refused first
for option, value, error in [
    ("concurrency", 0, ValueError),
    ("lease", 0, ValueError),
    ("drain_timeout", -1, ValueError),
    ("max_deliveries", 0, ValueError),
    ("result_ttl", 0, ValueError),
    ("name", "", ValueError),
]:
    case(
        f"redis.open_worker({option}={value!r})",
        functools.partial(
            lambda _sup, o, v: _extra("supervisor.redis").open_worker(
                URL, "q", _extra("supervisor.redis").JobRegistry(), **{o: v}
            ),
            o=option,
            v=value,
        ),
        error,
        option,
    )
case(
    "redis.open_queue(queue='')",
    lambda _sup: _extra("supervisor.redis").open_queue(URL, ""),
    ValueError,
    "queue",
)
case(
    "redis.open_queue(queue=1)",
    lambda _sup: _extra("supervisor.redis").open_queue(URL, 1),
    TypeError,
    "queue",
)
case(
    "redis.JobRegistry().job(name='')",
    lambda _sup: _extra("supervisor.redis").JobRegistry().job(name=""),
    ValueError,
    "name",
)


# -- the test kit -------------------------------------------------------------------
for label, call, error, argument in [
    (
        "task_specs(max_duration=-1)",
        lambda: testing.task_specs(max_duration=-1),
        ValueError,
        "max_duration",
    ),
    (
        "task_specs(max_timeout=0)",
        lambda: testing.task_specs(max_timeout=0),
        ValueError,
        "max_timeout",
    ),
    (
        "task_specs(restarts='yes')",
        lambda: testing.task_specs(restarts="yes"),  # type: ignore[arg-type]
        TypeError,
        "restarts",
    ),
    (
        "hypothesis_scheduling(max_batches=0)",
        lambda: testing.hypothesis_scheduling(None, max_batches=0).__enter__(),
        ValueError,
        "max_batches",
    ),
    (
        "check_history(1)",
        lambda: testing.check_history(1),  # type: ignore[arg-type]
        TypeError,
        "events",
    ),
    (
        "check_history([1])",
        lambda: testing.check_history([1]),  # type: ignore[list-item]
        TypeError,
        "events",
    ),
]:
    case(label, functools.partial(lambda _sup, c: c(), c=call), error, argument)


@pytest.mark.parametrize(
    ("call", "error", "argument"),
    [
        pytest.param(call, error, argument, id=label)
        for label, call, error, argument in CASES
    ],
)
async def test_bad_input_is_refused_with_a_message_naming_it(
    call: Any, error: type[Exception], argument: str
) -> None:
    async with open_supervisor("checked") as sup:
        with pytest.raises(error) as raised:
            result = call(sup)
            if hasattr(result, "__await__"):
                await result
            elif hasattr(result, "__aenter__"):
                async with result:
                    pass  # pragma: no cover - refused on entry
        # The argument by its own name (a word of the message, not part of one).
        assert re.search(rf"(?<!\w){re.escape(argument)}(?!\w)", str(raised.value))
        assert not sup.closed  # a refused call breaks nothing
        assert sup.health().submitted == 0


@pytest.mark.parametrize(
    ("bad", "error"), [(-1, ValueError), (0, ValueError), ("1", TypeError)]
)
async def test_an_actor_call_refuses_a_bad_timeout(
    bad: object, error: type[Exception]
) -> None:
    async with open_supervisor() as sup:
        ref = await sup.spawn_actor(Echo, name="echo")
        with pytest.raises(error, match="timeout"):
            await ref.call("hello", timeout=bad)  # type: ignore[arg-type]
        assert ref.statistics().processed == 0  # nothing was sent
        sup.cancel()


async def test_a_bad_log_failures_names_every_choice() -> None:
    with pytest.raises(ValueError, match="log_failures") as raised:
        async with open_supervisor(log_failures="sometimes"):  # type: ignore[arg-type]
            pass  # pragma: no cover - never reached
    assert str(raised.value) == (
        "log_failures must be one of 'unretrieved', 'always', 'never', got 'sometimes'"
    )
