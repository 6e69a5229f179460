"""``python -m supervisor worker module:registry --url ... --queue ...``."""

from __future__ import annotations

import importlib
import logging
import signal
import sys
from functools import partial
from typing import TYPE_CHECKING

import anyio

from ._cli_options import (
    EXIT_OK,
    EXIT_STOPPED,
    add_connection_options,
    configure_logging,
    positive_int,
    positive_seconds,
    run_command,
    seconds_or_forever,
)
from ._registry import JobRegistry
from ._worker import open_worker

if TYPE_CHECKING:
    import argparse

    from ._worker import Worker

logger = logging.getLogger("supervisor.redis")

PROG = "python -m supervisor worker"
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "worker",
        help="run jobs of a Redis queue (needs trio-supervisor[redis])",
        description=(
            "Run the jobs of a JobRegistry from a Redis queue until SIGTERM or "
            "SIGINT, which drains: no new jobs, running ones get --drain-timeout "
            "seconds, the rest are handed back (exit code 0). A second signal "
            "stops at once: running jobs are cancelled and handed back (exit "
            "code 3). Errors exit with 1, usage errors with 2."
        ),
    )
    parser.add_argument("registry", help="where the JobRegistry is: module:attribute")
    parser.add_argument("--queue", required=True, help="the queue to serve")
    add_connection_options(parser, wait="forever", log_level="INFO")
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=32,
        metavar="N",
        help="jobs run at once (default: 32)",
    )
    parser.add_argument(
        "--lease",
        type=positive_seconds,
        default=30.0,
        metavar="SECONDS",
        help=(
            "a job stays this worker's for this long without a renewal (renewed "
            "three times per lease while it runs); the jobs of a killed worker "
            "are taken over by others after it (default: 30)"
        ),
    )
    parser.add_argument(
        "--drain-timeout",
        type=seconds_or_forever,
        default=30.0,
        metavar="SECONDS",
        help="how long running jobs may finish after the first signal (default: 30)",
    )
    parser.add_argument(
        "--max-deliveries",
        type=positive_int,
        default=3,
        metavar="N",
        help=(
            "deaths of a worker running a job alone before the job is DEAD (default: 3)"
        ),
    )
    parser.add_argument(
        "--name",
        default=None,
        help="the worker's consumer name (default: host:pid:random)",
    )
    parser.add_argument(
        "--backend",
        choices=("trio", "asyncio"),
        default="trio",
        help="the event loop (default: trio)",
    )


def load_registry(spec: str) -> JobRegistry:
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        msg = f"the registry must be given as module:attribute, got {spec!r}"
        raise ValueError(msg)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        msg = f"cannot import {module_name!r}: {exc}"
        raise ValueError(msg) from exc
    registry = getattr(module, attribute, None)
    if not isinstance(registry, JobRegistry):
        msg = f"{spec} must be a JobRegistry, got {type(registry).__name__}"
        raise TypeError(msg)
    return registry


async def _serve(args: argparse.Namespace, registry: JobRegistry) -> int:
    # Until the worker takes the signals over (once Redis is there), the first
    # one ends the wait: nothing was taken, so there is nothing to hand back.
    with anyio.open_signal_receiver(*_SIGNALS) as early:
        async with anyio.create_task_group() as tg:

            async def before_start() -> None:
                async for sig in early:
                    logger.warning("%s before the worker started: exiting", sig.name)
                    tg.cancel_scope.cancel()
                    return

            tg.start_soon(before_start)
            async with open_worker(
                args.url,
                args.queue,
                registry,
                concurrency=args.concurrency,
                lease=args.lease,
                drain_timeout=args.drain_timeout,
                max_deliveries=args.max_deliveries,
                name=args.name,
                shutdown_on=_SIGNALS,
                wait_for_redis=args.wait_for_redis,
            ) as worker:
                _announce(worker, registry)
                await anyio.sleep_forever()
            tg.cancel_scope.cancel()
            return EXIT_STOPPED if worker.stopped_at_once else EXIT_OK
    return EXIT_OK


def _announce(worker: Worker, registry: JobRegistry) -> None:
    print(
        f"worker {worker.consumer}: queue {worker.queue!r}, concurrency "
        f"{worker.concurrency}, jobs: {', '.join(registry.names()) or 'none'}",
        flush=True,
    )


def run(args: argparse.Namespace) -> int:
    if "" not in sys.path:
        sys.path.insert(0, "")  # as `python -m` does: modules of the current directory

    def body() -> int:
        registry = load_registry(args.registry)
        configure_logging(args.log_level)
        code: int = anyio.run(partial(_serve, args, registry), backend=args.backend)
        return code

    return run_command(PROG, body)
