"""Command line: ``python -m supervisor demo``, ``worker`` and ``top`` (also
installed as the ``trio-supervisor`` command), and ``--version``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, NoReturn

import trio

from ._clash import clash
from ._version import __version__

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType


class _Parser(argparse.ArgumentParser):
    """A command's usage error is one line on stderr (``--help`` shows the
    usage), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _load_worker() -> ModuleType:
    from .redis import _cli  # the redis extra may be missing

    return _cli


def _load_top() -> ModuleType:
    from .redis import _top  # needs the redis and console extras

    return _top


def _optional(
    sub: argparse._SubParsersAction[_Parser],
    name: str,
    extras: str,
    load: Callable[[], ModuleType],
) -> Callable[[argparse.Namespace], int]:
    """The command ``name`` of an extra (its module has ``add_parser`` and
    ``run``), or, when the extra is missing, one that says how to install it."""
    try:
        module = load()
    except ImportError as exc:
        missing = str(exc)
        sub.add_parser(name, help=f"needs trio-supervisor[{extras}]").add_argument(
            "rest", nargs=argparse.REMAINDER
        )

        def hint(_args: argparse.Namespace) -> int:
            print(
                f"python -m supervisor {name} needs the {extras} extra: "
                f"pip install 'trio-supervisor[{extras}]' ({missing})",
                file=sys.stderr,
            )
            return 2

        return hint
    module.add_parser(sub)
    run: Callable[[argparse.Namespace], int] = module.run
    return run


def main(argv: list[str] | None = None, prog: str = "python -m supervisor") -> int:
    problem = clash()
    if problem is not None:
        print(f"{prog}: {problem}", file=sys.stderr)
        return 2
    from ._demo import demo  # (imports the whole library: after the check)

    parser = argparse.ArgumentParser(prog=prog)  # (no command: the full usage)
    parser.add_argument(
        "--version", action="version", version=f"trio-supervisor {__version__}"
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("demo", help="a short live demo of supervision (about 4 seconds)")
    commands = {
        "worker": _optional(sub, "worker", "redis", _load_worker),
        "top": _optional(sub, "top", "redis,console", _load_top),
    }
    args = parser.parse_args(argv)
    if args.command in commands:
        return commands[args.command](args)
    trio.run(demo)
    return 0


def console() -> int:
    """The ``trio-supervisor`` command."""
    return main(prog="trio-supervisor")


if __name__ == "__main__":
    raise SystemExit(main())
