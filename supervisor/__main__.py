"""Command line: ``python -m supervisor demo``, ``worker`` and ``top``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

import trio

from ._demo import demo

if TYPE_CHECKING:
    from collections.abc import Callable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m supervisor")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="a short live demo of supervision (about 4 seconds)")
    run_worker: Callable[[argparse.Namespace], int] | None = None
    missing = ""
    try:
        from .redis import _cli  # the redis extra may be missing
    except ImportError as exc:
        missing = str(exc)
        worker = sub.add_parser(
            "worker", help="run jobs of a Redis queue (needs trio-supervisor[redis])"
        )
        worker.add_argument("rest", nargs=argparse.REMAINDER)
    else:
        _cli.add_worker_parser(sub)
        run_worker = _cli.run_worker
    run_top: Callable[[argparse.Namespace], int] | None = None
    try:
        from .redis import _top  # needs the redis and console extras
    except ImportError as exc:
        missing_top = str(exc)
        top = sub.add_parser("top", help="a live view of Redis queues and workers")
        top.add_argument("rest", nargs=argparse.REMAINDER)
    else:
        _top.add_top_parser(sub)
        run_top = _top.run_top
    args = parser.parse_args(argv)
    if args.command == "top":
        if run_top is None:
            print(
                f"python -m supervisor top needs the redis and console extras: "
                f"pip install 'trio-supervisor[redis,console]' ({missing_top})",
                file=sys.stderr,
            )
            return 2
        return run_top(args)
    if args.command == "worker":
        if run_worker is None:
            print(
                f"python -m supervisor worker needs the redis extra: "
                f"pip install 'trio-supervisor[redis]' ({missing})",
                file=sys.stderr,
            )
            return 2
        return run_worker(args)
    trio.run(demo)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
