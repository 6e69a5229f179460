"""Equivalent mutants, the per-module table and the markdown report."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from typing import Any

from .mutants import (
    EQUIVALENTS,
    KILLED,
    NOT_REACHED,
    ROOT,
    SURVIVED,
    TARGETS,
    TIMEOUT,
    Mutant,
)

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
        """The mutation score of the literature: killed over the mutants that a
        test could kill at all (an equivalent mutant changes no behaviour)."""
        valid = self.mutants - self.equivalent
        return 100.0 * (self.killed + self.timeouts) / valid if valid else 100.0

    @property
    def raw(self) -> float:
        """Killed over every mutant, equivalents counted against."""
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
        "| module | mutants | killed | timeouts | equivalent | survivors | not reached | score | target | raw |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        target = TARGETS.get(r.module)
        lines.append(
            f"| {r.module} | {r.mutants} | {r.killed} | {r.timeouts} | {r.equivalent} "
            f"| {r.survivors} | {r.not_reached} | {r.score:.1f}% "
            f"| {'' if target is None else f'{target:g}%'} | {r.raw:.1f}% |"
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


def git_head() -> str:
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
