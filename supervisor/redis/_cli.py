"""``python -m supervisor worker module:registry --url ... --queue ...``."""

from __future__ import annotations

import importlib
import logging
import signal
import sys
from functools import partial
from typing import TYPE_CHECKING

import anyio

from ._registry import JobRegistry
from ._worker import open_worker

if TYPE_CHECKING:
    import argparse

    from ._worker import Worker

logger = logging.getLogger("supervisor.redis")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "worker",
        help="run jobs of a Redis queue (needs trio-supervisor[redis])",
        description=(
            "Run the jobs of a JobRegistry from a Redis queue until SIGTERM or "
            "SIGINT, which drains (a second signal stops at once)."
        ),
    )
    parser.add_argument("registry", help="where the JobRegistry is: module:attribute")
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--queue", required=True)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--lease", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument("--drain-timeout", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument("--max-deliveries", type=int, default=3, metavar="N")
    parser.add_argument("--name", default=None, help="the worker's consumer name")
    parser.add_argument("--backend", choices=("trio", "asyncio"), default="trio")


def load_registry(spec: str) -> JobRegistry:
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        msg = f"the registry must be given as module:attribute, got {spec!r}"
        raise SystemExit(msg)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        msg = f"cannot import {module_name!r}: {exc}"
        raise SystemExit(msg) from exc
    registry = getattr(module, attribute, None)
    if not isinstance(registry, JobRegistry):
        msg = f"{spec} must be a JobRegistry, got {registry!r}"
        raise SystemExit(msg)
    return registry


async def _serve(args: argparse.Namespace, registry: JobRegistry) -> None:
    async with open_worker(
        args.url,
        args.queue,
        registry,
        concurrency=args.concurrency,
        lease=args.lease,
        drain_timeout=args.drain_timeout,
        max_deliveries=args.max_deliveries,
        name=args.name,
        shutdown_on=(signal.SIGINT, signal.SIGTERM),
    ) as worker:
        _announce(worker, registry)
        await anyio.sleep_forever()
    print(f"worker {worker.consumer}: drained, exiting", flush=True)


def _announce(worker: Worker, registry: JobRegistry) -> None:
    print(
        f"worker {worker.consumer}: queue {worker.queue!r}, concurrency "
        f"{worker.concurrency}, jobs: {', '.join(registry.names()) or 'none'}",
        flush=True,
    )


def run(args: argparse.Namespace) -> int:
    if "" not in sys.path:
        sys.path.insert(0, "")  # as `python -m` does: modules of the current directory
    registry = load_registry(args.registry)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    # coredis logs each first call of a script (NOSCRIPT, then EVAL) at INFO
    logging.getLogger("coredis").setLevel(logging.WARNING)
    anyio.run(partial(_serve, args, registry), backend=args.backend)
    return 0
