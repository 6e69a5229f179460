"""The mutants: what they change, and how they are found."""

from __future__ import annotations

import ast
import difflib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "supervisor"
EQUIVALENTS = ROOT / "tools" / "mutation-equivalents.toml"

#: The modules with a score target, and the target (percent of mutants killed).
TARGETS: dict[str, float] = {
    "_status": 97.0,
    "_intensity": 97.0,
    "_policy": 97.0,
    "_handle": 97.0,
    "_health": 97.0,
    "_events": 97.0,
    "_spec": 97.0,
    "_waiters": 97.0,
    "_arguments": 97.0,
    # The parts of the core that keep the books (no I/O).
    "_table": 97.0,
    "_ledger": 97.0,
    "_child_records": 97.0,
    "_report": 97.0,
    # The runtime and the functions over it (see supervisor/_core.py).
    "_core": 93.0,
    "_attempt": 93.0,
    "_stopping": 93.0,
    "_groups": 93.0,
    "_children": 93.0,
    "_shutdown": 93.0,
    "_supervisor": 93.0,
    "_open": 93.0,
    "_actor": 93.0,
    # supervisor.redis: the job-outcome rules.
    "redis._outcome": 97.0,
    # supervisor.redis: the pure modules (tests/test_redis_units.py checks them).
    "redis._keys": 95.0,
    "redis._codec": 95.0,
    "redis._records": 95.0,
    "redis._urls": 95.0,
    "redis._cli_options": 95.0,
}


def source_path(module: str) -> Path:
    """``supervisor/_core.py`` for ``_core``, ``supervisor/redis/_outcome.py`` for
    ``redis._outcome``: relative to the project root."""
    return Path(PACKAGE, *module.split(".")).with_suffix(".py")


#: What the tests copied for a source mutant need besides the package.
TREE = (
    "tests",
    "property_tests",
    "tools",
    "examples",
    "docs",
    "conftest.py",
    "pyproject.toml",
    "README.md",
)

KILLED, TIMEOUT, SURVIVED, NOT_REACHED = "killed", "timeout", "survived", "not reached"


@dataclass
class Mutant:
    """One mutant: where it is, what it changes, and what the tests made of it."""

    id: str  # mutmut's name, or "supervisor._status:source:N"
    module: str  # "_status"
    function: str  # "TaskHandle.cancel", "open_supervisor", "HealthRules", "<module>"
    kind: str  # "mutmut" or "source"
    before: tuple[str, ...]  # the changed lines, stripped
    after: tuple[str, ...]
    diff: str
    code: str | None = None  # source mutants: the whole mutated module
    status: str = "not run"
    reason: str | None = None  # why it changes no behaviour, when it is equivalent


# ---------------------------------------------------------------------------
# Enumerating mutants
# ---------------------------------------------------------------------------


def _changed_lines(
    diff_lines: Iterable[str],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    before: list[str] = []
    after: list[str] = []
    for line in diff_lines:
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("-"):
            before.append(line[1:].strip())
        elif line.startswith("+"):
            after.append(line[1:].strip())
    return tuple(before), tuple(after)


def _function_of(mutant_name: str) -> str:
    from mutmut.utils.format_utils import (
        mangled_name_from_mutant_name,
        parse_mutant_key,
    )

    key = mangled_name_from_mutant_name(mutant_name).rpartition(".")[2]
    func, cls = parse_mutant_key(key)
    return func if cls is None else f"{cls}.{func}"


def mutmut_mutants(module: str) -> list[Mutant]:
    """The mutants mutmut makes of ``module``, named as ``mutmut run`` names them."""
    from mutmut.mutation.file_mutation import mutate_file_contents
    from mutmut.utils.format_utils import get_mutant_name

    rel = source_path(module)
    code = (ROOT / rel).read_text()
    at_import = import_time_functions(code)  # source mutants cover these
    mutated = mutate_file_contents(str(rel), code)
    lines = mutated.code.splitlines()
    spans = mutated.line_span_by_function_name
    out = []
    for name in mutated.mutant_names:
        orig_name = name.partition("__mutmut_")[0] + "__mutmut_orig"
        orig_span, mutant_span = spans[orig_name], spans[name]
        orig = lines[orig_span.start - 1 : orig_span.end]
        mutant = [
            line.replace(name, orig_name)
            for line in lines[mutant_span.start - 1 : mutant_span.end]
        ]
        diff = list(difflib.unified_diff(orig, mutant, lineterm="", n=1))
        before, after = _changed_lines(diff)
        full_name = get_mutant_name(rel, name)
        if _function_of(full_name) in at_import:
            continue
        out.append(
            Mutant(
                id=full_name,
                module=module,
                function=_function_of(full_name),
                kind="mutmut",
                before=before,
                after=after,
                diff="\n".join(diff[2:]),
            )
        )
    return out


def import_time_functions(code: str) -> set[str]:
    """Module-level functions that the module calls while it is imported.

    mutmut switches mutants on at call time, but these ran before any mutant was
    chosen (in the process that mutmut forks its workers from), so their mutants
    would never be active: they are made source mutants instead.
    """
    tree = ast.parse(code)
    functions = {
        stmt.name
        for stmt in tree.body
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    called: set[str] = set()

    def visit(body: Sequence[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                nodes: list[ast.AST] = [*stmt.decorator_list, stmt.args]
            elif isinstance(stmt, ast.ClassDef):
                visit(stmt.body)
                nodes = [*stmt.decorator_list, *stmt.bases, *stmt.keywords]
            else:
                nodes = [stmt]
            for node in nodes:
                if isinstance(node, ast.Name):  # a decorator applied by name
                    called.add(node.id)
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name):
                        called.add(sub.func.id)

    visit(tree.body)
    return functions & called


def _inert_lines(code: str) -> set[int]:
    """Lines of module- and class-level statements that carry no behaviour."""
    inert: set[int] = set()

    def visit(body: Sequence[ast.stmt]) -> None:
        for stmt in body:
            end = stmt.end_lineno or stmt.lineno
            span = range(stmt.lineno, end + 1)
            if isinstance(stmt, ast.Import | ast.ImportFrom) or (
                isinstance(stmt, ast.If) and ast.unparse(stmt.test) == "TYPE_CHECKING"
            ):
                inert.update(span)
            elif isinstance(stmt, ast.Assign | ast.AnnAssign):
                targets = (
                    stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                )
                names = {t.id for t in targets if isinstance(t, ast.Name)}
                value = stmt.value
                is_typevar = (
                    isinstance(value, ast.Call)
                    and isinstance(value.func, ast.Name)
                    and value.func.id in {"TypeVar", "TypeVarTuple", "ParamSpec"}
                )
                if "__slots__" in names or "__all__" in names or is_typevar:
                    inert.update(span)
            elif isinstance(stmt, ast.ClassDef):
                visit(stmt.body)

    visit(ast.parse(code).body)
    return inert


def source_mutants(module: str) -> list[Mutant]:
    """Mutants of the code that mutmut leaves alone: module level, class bodies and
    decorated functions. Each carries the whole mutated module."""
    import libcst as cst
    from libcst.metadata import PositionProvider
    from mutmut.mutation.file_mutation import (
        MutationVisitor,
        deep_replace,
    )
    from mutmut.mutation.mutators import mutation_operators
    from mutmut.mutation.pragma_handling import get_ignored_lines

    class Visitor(MutationVisitor):
        targets: set[int]

        def on_visit(self, node: cst.CSTNode) -> bool:
            # Names bound by for/del/assignment are not collections to thin out.
            if isinstance(node, cst.For | cst.Del):
                self.targets.add(id(node.target))
            elif isinstance(node, cst.Assign):
                self.targets.update(id(t.target) for t in node.targets)
            return bool(super().on_visit(node))

        def _create_mutations(self, node: cst.CSTNode) -> None:
            if id(node) not in self.targets:
                super()._create_mutations(node)

        # mutmut skips decorated functions, which its trampolines cannot wrap; a
        # source mutant rewrites the module, so they are fair game here.
        def _skip_node_and_children(self, node: cst.CSTNode) -> bool:
            if isinstance(node, cst.FunctionDef) and node.decorators:
                return False
            return bool(super()._skip_node_and_children(node))

    def drop_each_element(
        node: cst.Tuple | cst.List | cst.Set,
    ) -> Iterator[cst.CSTNode]:
        # Not one of mutmut's operators (it never reaches tables such as the
        # transition table): a collection display with one element left out.
        # (Not the only element of a set: ``{}`` is a dict, not an empty set.)
        if isinstance(node, cst.Set) and len(node.elements) < 2:
            return
        for i in range(len(node.elements)):
            yield node.with_changes(
                elements=[*node.elements[:i], *node.elements[i + 1 :]]
            )

    operators = [
        *mutation_operators,
        (cst.Tuple, drop_each_element),
        (cst.List, drop_each_element),
        (cst.Set, drop_each_element),
    ]
    rel = source_path(module)
    code = (ROOT / rel).read_text()
    wrapper = cst.MetadataWrapper(cst.parse_module(code))
    visitor = Visitor(operators, get_ignored_lines(str(rel), code, wrapper))
    visitor.targets = set()
    wrapper.visit(visitor)
    positions = wrapper.resolve(PositionProvider)
    tree = wrapper.module
    inert = _inert_lines(code)
    at_import = import_time_functions(code)

    # Where each top-level node lives, for names; and which functions mutmut owns.
    names: dict[int, str] = {}
    mutmut_owns: set[int] = set()

    def plain(func: cst.FunctionDef) -> bool:
        decorators = func.decorators
        return not decorators or (
            len(decorators) == 1
            and isinstance(decorators[0].decorator, cst.Name)
            and decorators[0].decorator.value in {"staticmethod", "classmethod"}
        )

    for stmt in tree.body:
        if isinstance(stmt, cst.FunctionDef):
            names[id(stmt)] = stmt.name.value
            if plain(stmt) and stmt.name.value not in at_import:
                mutmut_owns.add(id(stmt))
        elif isinstance(stmt, cst.ClassDef) and isinstance(
            stmt.body, cst.IndentedBlock
        ):
            for member in stmt.body.body:
                if isinstance(member, cst.FunctionDef):
                    names[id(member)] = f"{stmt.name.value}.{member.name.value}"
                    if plain(member):
                        mutmut_owns.add(id(member))
                else:
                    names[id(member)] = stmt.name.value

    out: list[Mutant] = []
    original_lines = code.splitlines()
    for mutation in visitor.mutations:
        owner = mutation.contained_by_top_level_function
        if owner is not None and id(owner) in mutmut_owns:
            continue
        line = positions[mutation.original_node].start.line
        if line in inert:
            continue
        mutated = deep_replace(tree, mutation.original_node, mutation.mutated_node)
        assert isinstance(mutated, cst.Module)
        mutated_code = mutated.code
        diff = list(
            difflib.unified_diff(
                original_lines, mutated_code.splitlines(), lineterm="", n=1
            )
        )
        before, after = _changed_lines(diff)
        if before == after:
            continue  # only whitespace differs
        try:
            compile(mutated_code, str(rel), "exec")
        except SyntaxError:
            continue  # e.g. the last element left out of a tuple without parentheses
        out.append(
            Mutant(
                id=f"{PACKAGE}.{module}:source:{len(out) + 1}",
                module=module,
                function="<module>"
                if owner is None
                else names.get(id(owner), "<module>"),
                kind="source",
                before=before,
                after=after,
                diff="\n".join(diff[2:]),
                code=mutated_code,
            )
        )
    return out


def sample(
    mutants: list[Mutant], n: int | None, seed: int, module: str
) -> list[Mutant]:
    """A seeded sample of ``n`` of a module's mutants (all of them if n is None)."""
    if n is None or n >= len(mutants):
        return mutants
    rng = random.Random(f"{seed}:{module}")
    chosen = set(rng.sample(range(len(mutants)), n))
    return [m for i, m in enumerate(mutants) if i in chosen]
