"""Checks of the arguments of open_supervisor and the submit calls (the general
ones are in _checks)."""

from __future__ import annotations

import functools
import inspect
import signal
import threading
from collections.abc import Iterable
from types import FunctionType
from typing import Final, Literal

from ._checks import check_count, check_name, check_seconds, check_type
from ._health import HealthRules
from ._spec import AutoShutdown, Backoff, Restart, Strategy

_CO_COROUTINE: Final = inspect.CO_COROUTINE
_TEMPORARY = Restart.TEMPORARY
#: The default per-child shutdown (cancel at once): every submit call's default is
#: this very object, so the common case is told by identity.
NO_WAIT: Final[float] = 0


def check_async_fn(fn: object, api: str) -> None:
    """TypeError unless ``fn`` is an async function (or an object with one as __call__)."""
    if type(fn) is FunctionType and fn.__code__.co_flags & _CO_COROUTINE:
        return  # the common case, without inspect's unwrapping
    if inspect.iscoroutinefunction(fn):
        return
    if inspect.iscoroutine(fn):
        fn.close()  # it will never run: spare the user a "never awaited" warning
        msg = (
            f"{api}() takes an async function and its arguments, got a coroutine "
            f"object {fn!r}; call {api}(fn, *args), not {api}(fn(*args))"
        )
        raise TypeError(msg)
    if inspect.iscoroutinefunction(getattr(fn, "__call__", None)):  # noqa: B004 - want async __call__, not callable()
        return
    if not callable(fn):
        msg = f"{api}() takes an async function, got {fn!r}"
        raise TypeError(msg)
    msg = (
        f"{api}() takes an async function, got the sync callable {fn!r}; define it "
        f"with 'async def', or run it in a worker thread: "
        f"{api}(anyio.to_thread.run_sync, fn, *args)"
    )
    raise TypeError(msg)


def check_takes_task_status(fn: object) -> None:
    """TypeError unless ``fn`` accepts a ``task_status`` keyword (start_child)."""
    try:
        params = inspect.signature(fn).parameters  # type: ignore[arg-type]  # checked callable
    except (TypeError, ValueError):  # no signature to read: let the call decide
        return
    if "task_status" in params or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
    ):
        return
    msg = (
        f"start_child() needs a function that takes a task_status keyword argument "
        f"and calls task_status.started(), got {fn!r}"
    )
    raise TypeError(msg)


def default_name(fn: object) -> str:
    if type(fn) is FunctionType:
        return fn.__qualname__
    while isinstance(fn, functools.partial):
        fn = fn.func
    name = getattr(fn, "__qualname__", None)
    return name if isinstance(name, str) else type(fn).__qualname__


def check_submission(
    fn: object,
    timeout: object,
    name: object,
    api: str,
    restart: object = _TEMPORARY,
    max_attempts: object = None,
    backoff: object = None,
    shutdown: object = NO_WAIT,
) -> None:
    """The checks every submit call makes, with a message naming the argument."""
    check_async_fn(fn, api)
    check_seconds("timeout", timeout, zero_ok=False)
    check_name("name", name, none_ok=True)
    check_policy(restart, max_attempts, backoff, shutdown)


def check_policy(
    restart: object, max_attempts: object, backoff: object, shutdown: object
) -> None:
    """The checks of a task's restart and shutdown options."""
    if restart is not _TEMPORARY:
        if not isinstance(restart, Restart):
            msg = f"restart must be a Restart, got {restart!r}"
            raise TypeError(msg)
        check_count("max_attempts", max_attempts, 1)
        check_type("backoff", backoff, Backoff, "a Backoff or None")
    elif max_attempts is not None or backoff is not None:
        check_count("max_attempts", max_attempts, 1)
        check_type("backoff", backoff, Backoff, "a Backoff or None")
    if shutdown is not NO_WAIT:
        check_seconds("shutdown", shutdown, zero_ok=True)


def check_options(name: object, on_event: object, health_rules: object) -> None:
    check_name("name", name, none_ok=False)
    if on_event is not None and not callable(on_event):
        msg = f"on_event must be callable or None, got {on_event!r}"
        raise TypeError(msg)
    if inspect.iscoroutinefunction(on_event):
        msg = f"on_event must be a sync callable, got the async function {on_event!r}"
        raise TypeError(msg)
    check_type("health_rules", health_rules, HealthRules, "a HealthRules or None")


LogFailures = Literal["unretrieved", "always", "never"]
_LOG_FAILURES: Final = ("unretrieved", "always", "never")


def check_log_failures(log_failures: object) -> None:
    if log_failures not in _LOG_FAILURES:
        msg = f"log_failures must be one of {', '.join(map(repr, _LOG_FAILURES))}, got {log_failures!r}"
        raise ValueError(msg)


Runners = Literal["task", "pooled"]
_RUNNERS: Final = ("task", "pooled")


def check_runners(runners: object, max_concurrent: int | None) -> None:
    if runners not in _RUNNERS:
        msg = f"runners must be 'task' or 'pooled', got {runners!r}"
        raise ValueError(msg)
    if runners == "pooled" and max_concurrent is None:
        msg = (
            "runners='pooled' needs max_concurrent: each capacity slot gets one runner"
        )
        raise ValueError(msg)


_UNCATCHABLE: Final = frozenset({"SIGKILL", "SIGSTOP"})


def check_signals(signals: object) -> tuple[signal.Signals, ...]:
    """shutdown_on: signal numbers (or ``signal.Signals``), only in the main thread."""
    if isinstance(signals, (str, bytes)) or not isinstance(signals, Iterable):
        msg = f"shutdown_on must be a tuple of signals, got {signals!r}"
        raise TypeError(msg)
    found = []
    for sig in signals:
        if isinstance(sig, bool) or not isinstance(sig, int):
            msg = f"shutdown_on must hold signals such as signal.SIGTERM, got {sig!r}"
            raise TypeError(msg)
        try:
            found.append(signal.Signals(sig))
        except ValueError:
            msg = f"shutdown_on: {sig!r} is not a signal of this platform"
            raise ValueError(msg) from None
        if found[-1].name in _UNCATCHABLE:
            msg = f"shutdown_on: {found[-1].name} cannot be caught by any program"
            raise ValueError(msg)
    if found and threading.current_thread() is not threading.main_thread():
        msg = "shutdown_on needs the main thread (Python delivers signals there only)"
        raise RuntimeError(msg)
    return tuple(found)


def check_restart_options(
    strategy: object,
    max_restarts: object,
    restart_period: object,
    seed: object,
    auto_shutdown: object,
) -> None:
    if not isinstance(strategy, Strategy):
        msg = f"strategy must be a Strategy, got {strategy!r}"
        raise TypeError(msg)
    if max_restarts is None:
        msg = "max_restarts must be an int, got None; use restart_period=None for no limit"
        raise TypeError(msg)
    check_count("max_restarts", max_restarts, 0)
    check_seconds("restart_period", restart_period, zero_ok=False)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        msg = f"seed must be an int or None, got {seed!r}"
        raise TypeError(msg)
    if not isinstance(auto_shutdown, AutoShutdown):
        msg = f"auto_shutdown must be an AutoShutdown, got {auto_shutdown!r}"
        raise TypeError(msg)
