"""Command line: ``python -m supervisor demo``."""

from __future__ import annotations

import argparse

import trio

from ._demo import demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m supervisor")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="a short live demo of supervision (about 4 seconds)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        trio.run(demo)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
