"""Mutation testing of ``supervisor/`` with the project's own tests.

Every mutant is a small change to the library (a flipped comparison, a dropped
argument, a changed constant). A mutant is *killed* when some test fails on it,
or the tests time out; it *survives* when the whole selected suite still passes.
A survivor is either a behaviour no test checks (a gap: write the test) or a
change that alters no behaviour (an *equivalent* mutant: explain it once in
``tools/mutation-equivalents.toml``).

Two kinds of mutants, one table:

- **mutmut** (3.8.x) mutates the bodies of functions and methods and runs each
  mutant in a forked process with only the tests that reach that function
  (mutmut records which tests call which function in a first full run). A
  mutant that no test reaches is reported as "not reached", apart from the
  survivors.
- **source** mutants cover what mutmut's trampolines cannot reach: module-level
  code (the transition table, constants), class bodies (``HealthRules``
  defaults, enum values, attrs fields), decorated functions (properties,
  ``open_supervisor``) and functions the module calls while it is imported. They use mutmut's own mutation operators; each one is
  written into a private copy of the tree and run against the whole suite in a
  fresh interpreter. Imports, ``TYPE_CHECKING`` blocks, ``__slots__`` and
  ``TypeVar`` declarations are not mutated: they carry no behaviour.

Both kinds run with Hypothesis's example database off and a fixed seed (the
``mutation`` profile of ``property_tests/conftest.py``), so a run is
reproducible and no mutant's failing example leaks into another's run. A
timeout counts as killed.

Usage (from the project root, after ``pip install -e '.[test,dev]'``)::

    .venv/bin/python tools/mutation.py                       # every mutant
    .venv/bin/python tools/mutation.py --sample 100 --seed 1 # a quick look
    .venv/bin/python tools/mutation.py --modules _status,_handle
    .venv/bin/python tools/mutation.py --report tools/mutation-report.md

Exit status: 0 when every survivor is explained, 1 when some is not, 2 when the
run itself failed.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import difflib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "supervisor"
EQUIVALENTS = ROOT / "tools" / "mutation-equivalents.toml"

#: The modules with a score target, and the target (percent of mutants killed).
TARGETS: dict[str, float] = {
    "_status": 97.0,
    "_intensity": 97.0,
    "_handle": 97.0,
    "_health": 97.0,
    "_events": 97.0,
    "_spec": 97.0,
    "_waiters": 97.0,
    "_supervisor": 93.0,
    "_actor": 93.0,
}

#: What the tests copied for a source mutant need besides the package.
TREE = ("tests", "property_tests", "pyproject.toml", "README.md")

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

    rel = Path(PACKAGE) / f"{module}.py"
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
    rel = Path(PACKAGE) / f"{module}.py"
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


# ---------------------------------------------------------------------------
# Running mutants
# ---------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["SUPERVISOR_HYPOTHESIS_PROFILE"] = "mutation"  # no database, fixed seed
    env["PYTHONHASHSEED"] = "0"
    env.pop("PYTEST_ADDOPTS", None)
    return env


def _mutmut_results() -> dict[str, int | None]:
    results: dict[str, int | None] = {}
    for meta in (ROOT / "mutants" / PACKAGE).glob("*.py.meta"):
        with contextlib.suppress(json.JSONDecodeError, OSError):
            results.update(json.loads(meta.read_text())["exit_code_by_key"])
    return results


def _report_progress(
    label: str, done: int, total: int, counts: Counter[str], start: float
) -> None:
    elapsed = time.monotonic() - start
    shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"[{label}] {done}/{total} in {elapsed:.0f} s ({shown})", flush=True)


def run_mutmut(mutants: list[Mutant], jobs: int, log: Path) -> None:
    """``mutmut run`` on exactly these mutants; fills in their status."""
    from mutmut.stats import status_by_exit_code

    if not mutants:
        return
    names = [m.id for m in mutants]
    wanted = set(names)
    cmd = [
        str(Path(sys.executable).with_name("mutmut")),
        "run",
        "--max-children",
        str(jobs),
        *names,
    ]
    print(f"[mutmut] {len(names)} mutants, log in {log}", flush=True)
    start = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=_env(), stdout=out, stderr=subprocess.STDOUT
        )
        try:
            while proc.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=30)
                results = _mutmut_results()
                # Before the run starts, stale results of the names may still be there.
                counts = Counter(
                    _status(status_by_exit_code[code])
                    for name, code in results.items()
                    if name in wanted and code is not None
                )
                _report_progress(
                    "mutmut", sum(counts.values()), len(names), counts, start
                )
        except BaseException:
            # Broad on purpose: whatever stops us (Ctrl-C), stop mutmut and its
            # forked workers too; re-raised.
            proc.send_signal(signal.SIGINT)
            proc.wait()
            raise
    if proc.returncode != 0:
        sys.exit(f"mutmut failed (exit {proc.returncode}); see {log}")
    results = _mutmut_results()
    for m in mutants:
        m.status = _status(status_by_exit_code[results.get(m.id)])


def _status(mutmut_status: str) -> str:
    """Our four outcomes from mutmut's words for them."""
    if mutmut_status in {
        "killed",
        "segfault",
        "check was interrupted by user",
        "suspicious",
    }:
        # A crash, an interrupted run (pytest exit 2, e.g. a mutant letting
        # KeyboardInterrupt out) or an unexpected exit code: the tests noticed.
        return KILLED
    if mutmut_status == "timeout":
        return TIMEOUT
    if mutmut_status == "no tests":
        return NOT_REACHED
    if mutmut_status == "survived":
        return SURVIVED
    return mutmut_status  # "not checked": mutmut did not get to it


@contextlib.contextmanager
def _tree_copies(n: int) -> Iterator[list[Path]]:
    """``n`` private copies of the package and its tests."""
    base = Path(tempfile.mkdtemp(prefix="supervisor-mutation-"))
    try:
        copies = []
        for i in range(n):
            copy = base / f"tree{i}"
            shutil.copytree(ROOT / PACKAGE, copy / PACKAGE)
            for name in TREE:
                src = ROOT / name
                if src.is_dir():
                    shutil.copytree(
                        src, copy / name, ignore=shutil.ignore_patterns("__pycache__")
                    )
                else:
                    shutil.copy2(src, copy / name)
            copies.append(copy)
        yield copies
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _pytest(copy: Path, timeout: float) -> str:
    """Run the whole suite in ``copy``; KILLED, TIMEOUT or SURVIVED."""
    env = _env()
    env["PYTHONPATH"] = str(copy)  # ahead of the editable install's path
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # never run a stale .pyc of an earlier mutant
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "--tb=no",
        "-p",
        "no:cacheprovider",
        "-o",
        "faulthandler_timeout=0",
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=copy,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return TIMEOUT
    if code == 0:
        return SURVIVED
    if code == 5:
        return NOT_REACHED
    return KILLED


def run_source(mutants: list[Mutant], jobs: int) -> None:
    """Run each source mutant against the whole suite in a private copy of the tree."""
    if not mutants:
        return
    with _tree_copies(jobs) as copies:
        probe = subprocess.run(
            [sys.executable, "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)"],
            cwd=copies[0],
            env={**_env(), "PYTHONPATH": str(copies[0])},
            capture_output=True,
            text=True,
            check=True,
        )
        if not probe.stdout.strip().startswith(str(copies[0])):
            sys.exit(
                f"source mutants: the copy is not what gets imported: {probe.stdout}"
            )
        start = time.monotonic()
        if _pytest(copies[0], timeout=900) != SURVIVED:
            sys.exit("source mutants: the unmutated suite fails in the copy")
        clean = time.monotonic() - start
        timeout = max(60.0, 4 * clean)
        print(
            f"[source] {len(mutants)} mutants; clean suite {clean:.1f} s, timeout {timeout:.0f} s",
            flush=True,
        )
        free = list(copies)
        lock = threading.Lock()
        counts: Counter[str] = Counter()
        start = time.monotonic()

        def run_one(m: Mutant) -> None:
            with lock:
                copy = free.pop()
            target = copy / PACKAGE / f"{m.module}.py"
            original = target.read_text()
            try:
                assert m.code is not None
                target.write_text(m.code)
                m.status = _pytest(copy, timeout)
            finally:
                target.write_text(original)
                with lock:
                    free.append(copy)
                    counts[m.status] += 1
                    done = sum(counts.values())
                    if done % 20 == 0 or done == len(mutants):
                        _report_progress("source", done, len(mutants), counts, start)

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(run_one, mutants))


# ---------------------------------------------------------------------------
# Equivalent mutants and the report
# ---------------------------------------------------------------------------


def load_equivalents() -> list[dict[str, Any]]:
    """The explained survivors: module, function, before, after (lists of stripped
    lines) and a one-line reason."""
    if not EQUIVALENTS.exists():
        return []
    entries: list[dict[str, Any]] = tomllib.loads(EQUIVALENTS.read_text()).get(
        "equivalent", []
    )
    for entry in entries:
        missing = {"module", "function", "before", "after", "reason"} - entry.keys()
        if missing:
            sys.exit(f"{EQUIVALENTS}: an entry lacks {sorted(missing)}: {entry}")
    return entries


def explain(
    mutants: list[Mutant], entries: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Attach each matching entry's reason to the survivors; returns unused entries."""
    used: set[int] = set()
    for m in mutants:
        if m.status not in {SURVIVED, NOT_REACHED}:
            continue
        for i, entry in enumerate(entries):
            if (
                entry["module"] == m.module
                and entry["function"] == m.function
                and tuple(entry["before"]) == m.before
                and tuple(entry["after"]) == m.after
            ):
                m.reason = entry["reason"]
                used.add(i)
                break
    return [e for i, e in enumerate(entries) if i not in used]


@dataclass
class Row:
    module: str
    mutants: int = 0
    killed: int = 0
    timeouts: int = 0
    equivalent: int = 0
    survivors: int = 0
    not_reached: int = 0

    @property
    def score(self) -> float:
        return (
            100.0 * (self.killed + self.timeouts) / self.mutants
            if self.mutants
            else 100.0
        )


def table(mutants: list[Mutant], modules: list[str]) -> list[Row]:
    rows = {module: Row(module) for module in modules}
    for m in mutants:
        row = rows[m.module]
        row.mutants += 1
        if m.status == KILLED:
            row.killed += 1
        elif m.status == TIMEOUT:
            row.timeouts += 1
        elif m.reason is not None:
            row.equivalent += 1
        elif m.status == NOT_REACHED:
            row.not_reached += 1
        else:
            row.survivors += 1
    total = Row("all")
    for row in rows.values():
        for name in (
            "mutants",
            "killed",
            "timeouts",
            "equivalent",
            "survivors",
            "not_reached",
        ):
            setattr(total, name, getattr(total, name) + getattr(row, name))
    return [*rows.values(), total]


def render_table(rows: list[Row]) -> str:
    lines = [
        "| module | mutants | killed | timeouts | equivalent | survivors | not reached | score | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        target = TARGETS.get(r.module)
        lines.append(
            f"| {r.module} | {r.mutants} | {r.killed} | {r.timeouts} | {r.equivalent} "
            f"| {r.survivors} | {r.not_reached} | {r.score:.1f}% "
            f"| {'' if target is None else f'{target:g}%'} |"
        )
    return "\n".join(lines)


def _entry(m: Mutant) -> str:
    return (
        f"- `{m.id}` in `{m.function}` ({m.status}):\n\n"
        + "  ```diff\n"
        + "\n".join(f"  {line}" for line in m.diff.splitlines())
        + "\n  ```\n"
    )


def render_report(
    mutants: list[Mutant], rows: list[Row], header: str, unused: list[dict[str, Any]]
) -> str:
    parts = [header, "", render_table(rows), ""]
    equivalent = [m for m in mutants if m.reason is not None]
    open_ = [
        m for m in mutants if m.reason is None and m.status in {SURVIVED, NOT_REACHED}
    ]
    parts.append(f"## Equivalent mutants ({len(equivalent)})\n")
    parts.append(
        "Survivors that change no behaviour, each with the reason "
        "(from `tools/mutation-equivalents.toml`).\n"
    )
    for m in sorted(equivalent, key=lambda m: (m.module, m.function, m.id)):
        change = " / ".join(m.before) + " -> " + " / ".join(m.after)
        parts.append(f"- `{m.module}` `{m.function}`: `{change}`: {m.reason}")
    parts.append(f"\n## Unexplained survivors ({len(open_)})\n")
    parts.extend(_entry(m) for m in sorted(open_, key=lambda m: (m.module, m.id)))
    if unused:
        parts.append(
            f"\n## Equivalents that matched no mutant in this run ({len(unused)})\n"
        )
        parts.extend(
            f"- `{e['module']}` `{e['function']}`: {' / '.join(e['before'])}"
            for e in unused
        )
    return "\n".join(parts) + "\n"


def _git_head() -> str:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--modules",
        help=f"comma-separated modules of {PACKAGE}/ (default: {','.join(TARGETS)})",
    )
    parser.add_argument("--sample", type=int, help="at most N mutants per module")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--kind", choices=["all", "mutmut", "source"], default="all")
    parser.add_argument("--report", type=Path, help="write the markdown report here")
    parser.add_argument(
        "--list", action="store_true", help="list the mutants; run none"
    )
    args = parser.parse_args(argv)

    modules = args.modules.split(",") if args.modules else list(TARGETS)
    for module in modules:
        if not (ROOT / PACKAGE / f"{module}.py").is_file():
            parser.error(f"--modules: no module {PACKAGE}/{module}.py")
    if args.sample is not None and args.sample < 1:
        parser.error(f"--sample must be >= 1, got {args.sample}")

    started = time.monotonic()
    mutants: list[Mutant] = []
    for module in modules:
        found: list[Mutant] = []
        if args.kind in {"all", "mutmut"}:
            found += mutmut_mutants(module)
        if args.kind in {"all", "source"}:
            found += source_mutants(module)
        mutants += sample(found, args.sample, args.seed, module)
    if args.list:
        for m in mutants:
            print(m.id, m.function, " / ".join(m.before), "->", " / ".join(m.after))
        return 0

    shutil.rmtree(ROOT / "mutants", ignore_errors=True)  # no stale verdicts
    (ROOT / "mutants").mkdir()
    run_mutmut(
        [m for m in mutants if m.kind == "mutmut"],
        args.jobs,
        ROOT / "mutants" / "mutmut.log",
    )
    run_source([m for m in mutants if m.kind == "source"], args.jobs)
    wall = time.monotonic() - started

    unused = explain(mutants, load_equivalents())
    rows = table(mutants, modules)
    shown = " ".join(sys.argv[1:] if argv is None else argv)
    what = (
        "every mutant"
        if args.sample is None
        else f"a sample of {args.sample} per module (seed {args.seed})"
    )
    header = (
        f"# Mutation report\n\nCommit {_git_head()}, {what}, {args.jobs} jobs: "
        f"{wall / 60:.1f} minutes of wall time. Made by `python tools/mutation.py"
        f"{' ' + shown if shown else ''}`.\n\n"
        "score = (killed + timeouts) / mutants; equivalent mutants count against it."
    )
    print()
    print(render_table(rows))
    report = render_report(mutants, rows, header, unused)
    if args.report:
        args.report.write_text(report)
        print(f"\nreport: {args.report}")
    unexplained = [
        m for m in mutants if m.reason is None and m.status in {SURVIVED, NOT_REACHED}
    ]
    for m in unexplained:
        print(f"\n{m.id} ({m.status}) in {m.function}\n{m.diff}")
    print(f"\n{len(unexplained)} unexplained survivors; {wall / 60:.1f} minutes")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
