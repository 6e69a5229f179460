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


# -- the core is composed, not stacked -------------------------------------------

#: The parts of a supervisor: each owns its fields, which only its module writes.
PARTS = {
    "_core": ["Core"],
    "_table": ["TaskTable"],
    "_ledger": ["Ledger"],
    "_child_records": ["ChildRecords", "Child"],
    "_intensity": ["RestartBudget", "RestartWindow"],
    "_shutdown": ["Block"],
    "_supervisor": ["Supervisor"],
}


def _classes(path: Path) -> list[ast.ClassDef]:
    return [n for n in ast.parse(path.read_text()).body if isinstance(n, ast.ClassDef)]


def _core_modules() -> list[Path]:
    return [p for p in MODULES if p.parent == PACKAGE]


def _base_names(cls: ast.ClassDef) -> list[str]:
    return [b.id if isinstance(b, ast.Name) else ast.unparse(b) for b in cls.bases]


def _inheritance_within(paths: list[Path]) -> list[str]:
    """``Class(Base)`` pairs where both are classes of ``paths``; an exception
    hierarchy (``_errors``) is not a core class."""
    defined = {
        cls.name for path in paths if path.stem != "_errors" for cls in _classes(path)
    }
    return [
        f"{path.stem}.{cls.name}({base})"
        for path in paths
        for cls in _classes(path)
        for base in _base_names(cls)
        if base in defined
    ]


def test_no_core_class_inherits_from_another() -> None:
    assert _inheritance_within(_core_modules()) == []


def test_the_inheritance_check_finds_a_mixin(tmp_path: Path) -> None:
    (tmp_path / "_a.py").write_text("class A:\n    pass\n")
    (tmp_path / "_b.py").write_text("from ._a import A\n\nclass B(A):\n    pass\n")
    assert _inheritance_within(sorted(tmp_path.glob("*.py"))) == ["_b.B(A)"]


def _fields(cls: ast.ClassDef) -> set[str]:
    """The names in a class's ``__slots__``."""
    for node in cls.body:
        if (
            isinstance(node, ast.Assign)
            and any(
                isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets
            )
            and isinstance(node.value, ast.Tuple)
        ):
            return {
                e.value
                for e in node.value.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str)
            } - {"__weakref__"}
    return set()


def _stores(path: Path) -> set[str]:
    """The attribute names that ``path`` assigns, augments or deletes (``x.f = ...``)
    on anything but ``self`` (a class's own fields are its module's)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store | ast.Del)
            and not (isinstance(node.value, ast.Name) and node.value.id == "self")
        ):
            found.add(node.attr)
    return found


def _foreign_writes(paths: list[Path], parts: dict[str, list[str]]) -> list[str]:
    """``module writes Part.field`` for each field of a part assigned in a module
    other than the part's own (a module whose own classes have a field of that
    name writes its own)."""
    by_module = {p.stem: p for p in paths}
    owned = {
        stem: {f for cls in _classes(path) for f in _fields(cls)}
        for stem, path in by_module.items()
    }
    problems = []
    for owner, names in parts.items():
        for cls in _classes(by_module[owner]):
            if cls.name not in names:
                continue
            for field in sorted(_fields(cls)):
                for stem, path in sorted(by_module.items()):
                    if (
                        stem != owner
                        and field not in owned[stem]
                        and field in _stores(path)
                    ):
                        problems.append(f"{stem} writes {cls.name}.{field}")
    return problems


def test_each_field_of_each_part_has_one_writing_module() -> None:
    assert _foreign_writes(_core_modules(), PARTS) == []


def test_the_writer_check_finds_a_foreign_write(tmp_path: Path) -> None:
    (tmp_path / "_t.py").write_text(
        "class T:\n    __slots__ = ('n',)\n\n    def __init__(self):\n        self.n = 0\n"
    )
    (tmp_path / "_u.py").write_text("def f(t):\n    t.n += 1\n")
    assert _foreign_writes(sorted(tmp_path.glob("*.py")), {"_t": ["T"]}) == [
        "_u writes T.n"
    ]
