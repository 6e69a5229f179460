"""The package's shape: no import cycle (type-checking imports included), and no
module past the size the team agreed on."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

if os.environ.get("SUPERVISOR_MUTATION_RUN"):
    # A mutation run's tree holds mutmut's rewritten modules (thousands of lines
    # of trampolines): their shape says nothing of ours.
    pytest.skip("the shape of mutated modules", allow_module_level=True)

PACKAGE = Path(__file__).resolve().parent.parent / "supervisor"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 700


def _name(path: Path) -> str:
    """``_ledger`` for supervisor/_ledger.py, ``redis._queue`` for a subpackage's."""
    return ".".join(path.relative_to(PACKAGE).with_suffix("").parts)


def _imports(path: Path) -> set[str]:
    """The package modules that ``path`` imports, anywhere in it."""
    here = _name(path).split(".")[:-1]  # the subpackage of ``path``
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            base = here[: len(here) - (node.level - 1)]
            if node.module is not None:
                found.add(".".join([*base, node.module.split(".")[0]]))
            else:
                found.update(".".join([*base, alias.name]) for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    return {_name(p): _imports(p) for p in MODULES}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph``, or None."""
    state: dict[str, int] = {}  # 1: on the current path; 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_no_import_cycle_inside_the_package() -> None:
    assert _cycle(_graph()) is None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_module_is_too_long(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_LINES
