"""What ``python -m supervisor worker`` and ``top`` share: the connection and
logging options, and how a failure reaches the user (one line on stderr and an
exit code, never a traceback).

Exit codes: 0 done (a worker drained); 1 an error (Redis not reachable in time,
a worker name in use, a bad value); 2 a usage error; 3 a worker stopped at once
by a second signal (its jobs cancelled and handed back).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import sys
from typing import TYPE_CHECKING, Final

import trio

from .._errors import RedisUnavailable
from ._connection import single_error
from ._urls import redact

if TYPE_CHECKING:
    from collections.abc import Callable

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2
EXIT_STOPPED: Final = 3

#: Where --url comes from when it is not given (so that a password stays out of
#: the process list).
URL_VARIABLE: Final = "SUPERVISOR_REDIS_URL"
DEFAULT_URL: Final = "redis://127.0.0.1:6379/0"
LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")


def seconds_or_forever(text: str) -> float | None:
    """An argparse type: seconds >= 0, or ``forever``."""
    if text == "forever":
        return None
    return _seconds(text, zero_ok=True, or_forever=True)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        msg = f"expected a whole number >= 1, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def positive_seconds(text: str) -> float:
    return _seconds(text, zero_ok=False, or_forever=False)


def _seconds(text: str, *, zero_ok: bool, or_forever: bool) -> float:
    """A finite number of seconds, > 0 (or >= 0 with ``zero_ok``)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and (value >= 0 if zero_ok else value > 0)):
        rule = ">= 0" if zero_ok else "> 0"
        alternative = " or 'forever'" if or_forever else ""
        msg = f"expected seconds {rule}{alternative}, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def add_connection_options(
    parser: argparse.ArgumentParser, *, wait: str, log_level: str
) -> None:
    """--url, --wait-for-redis and --log-level, with ``wait`` and ``log_level``
    their defaults."""
    from_env = os.environ.get(URL_VARIABLE)
    parser.add_argument(
        "--url",
        default=from_env or DEFAULT_URL,
        help=(
            f"the Redis URL: redis://, rediss:// (TLS) or unix:// (default: "
            f"${URL_VARIABLE} if set, else {DEFAULT_URL}; "
            f"now {redact(from_env or DEFAULT_URL)})"
        ),
    )
    parser.add_argument(
        "--wait-for-redis",
        type=seconds_or_forever,
        default=seconds_or_forever(wait),
        metavar="SECONDS",
        help=(
            "how long to wait for a Redis that is not up yet, retrying with "
            f"backoff: seconds or 'forever' (default: {wait})"
        ),
    )
    parser.add_argument(
        "--log-level",
        choices=LEVELS,
        default=log_level,
        help=f"the least severe log lines shown on stderr (default: {log_level})",
    )


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    # coredis logs each first call of a script (NOSCRIPT, then EVAL) at INFO
    logging.getLogger("coredis").setLevel(
        max(logging.WARNING, logging.getLevelName(level))
    )


def run_command(prog: str, body: Callable[[], int]) -> int:
    """Run a command's ``body``; a failure the user can act on is one line on
    stderr and EXIT_ERROR."""
    try:
        try:
            return body()
        except BaseExceptionGroup as group:
            # (outside any event loop: both backends' cancellations)
            single = single_error(group, (trio.Cancelled, asyncio.CancelledError))
            if single is None:
                raise
            raise single from None
    except RedisUnavailable as exc:
        return fail(prog, f"{exc} (is it running? --wait-for-redis waits for it)")
    except (ValueError, TypeError, OSError) as exc:
        logging.getLogger("supervisor.redis").debug("%s failed", prog, exc_info=exc)
        return fail(prog, str(exc))


def fail(prog: str, message: str, code: int = EXIT_ERROR) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    return code
