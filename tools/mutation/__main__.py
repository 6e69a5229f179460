"""The command line: ``python -m tools.mutation --help``."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from .mutants import (
    NOT_REACHED,
    PACKAGE,
    ROOT,
    SURVIVED,
    TARGETS,
    Mutant,
    mutmut_mutants,
    sample,
    source_mutants,
    source_path,
)
from .report import (
    explain,
    git_head,
    load_equivalents,
    render_report,
    render_table,
    table,
)
from .runners import run_mutmut, run_source

#: The verdicts of the last run, for --rerun (not committed).
RESULTS = ROOT / ".mutation-results.json"


def _source_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):  # subpackages too
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _module_hashes() -> dict[str, str]:
    """Each target module's source, hashed on its own: --update may keep the
    verdicts of a module whose source did not change."""
    return {
        module: hashlib.sha256((ROOT / source_path(module)).read_bytes()).hexdigest()
        for module in TARGETS
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.mutation",
        description="Mutation testing of supervisor/ with the project's tests.",
    )
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
    parser.add_argument(
        "--rerun",
        action="store_true",
        help="run again only the unexplained survivors of the last run (after new "
        "tests; supervisor/ must be unchanged) and merge the verdicts",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="run every mutant of --modules again and keep the last run's verdicts "
        "of the other modules, whose sources must be unchanged since that run",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: the table and --report of the last run's verdicts, with "
        "the equivalents as they are now (supervisor/ must be unchanged)",
    )
    parser.add_argument(
        "--runners",
        choices=["task", "pooled"],
        default="task",
        help="the runners every supervisor of the tests uses: pooled runs the suite as "
        "CI's second pass does (SUPERVISOR_TEST_RUNNERS=pooled), which reaches the "
        "pooled-only code; with --rerun, a mutant either pass kills is killed",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="go on with an interrupted run: keep mutants/ and the verdicts mutmut "
        "saved there, run only the mutants without one",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if sum([args.resume, args.rerun, args.update, args.report_only]) > 1:
        parser.error("--resume, --rerun, --update and --report-only: choose one")
    previous: dict[str, object] | None = None
    unrun: list[str] = []  # --report-only: modules with mutants never run
    if args.rerun or args.report_only:
        flag = "--rerun" if args.rerun else "--report-only"
        if not RESULTS.exists():
            parser.error(f"{flag}: no results of an earlier run in {RESULTS}")
        previous = json.loads(RESULTS.read_text())
        if previous["source"] != _source_hash():
            parser.error(
                f"{flag}: supervisor/ changed since the last run; run all again"
            )
        args.modules, args.sample, args.seed, args.kind = previous["args"]  # type: ignore[misc]  # as stored below
        if args.report_only:
            args.kind = "all"  # an --update of one kind keeps the others' verdicts
    kept: dict[str, str] = {}  # --update: verdicts of the modules not run again
    kept_modules: list[str] = []
    if args.update:
        if not args.modules:
            parser.error("--update needs --modules: the modules to run again")
        if not RESULTS.exists():
            parser.error(f"--update: no results of an earlier run in {RESULTS}")
        last = json.loads(RESULTS.read_text())
        hashes = _module_hashes()
        fresh = set(args.modules.split(","))
        last_hashes: dict[str, str] = last.get("modules", {})
        for module, digest in last_hashes.items():
            if module in fresh or module not in TARGETS:
                continue
            if hashes[module] != digest:
                parser.error(
                    f"--update: {module} changed since the last run; add it to --modules"
                )
            kept_modules.append(module)
        kept = last["statuses"]
    modules = args.modules.split(",") if args.modules else list(TARGETS)
    for module in modules:
        if not (ROOT / source_path(module)).is_file():
            parser.error(f"--modules: no module {source_path(module)}")
    if args.sample is not None and args.sample < 1:
        parser.error(f"--sample must be >= 1, got {args.sample}")

    if args.runners == "pooled":
        os.environ["SUPERVISOR_TEST_RUNNERS"] = "pooled"  # the runs' env (_env)
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

    to_run = mutants
    earlier_wall = 0.0
    runs: list[list[Any]] = []  # [mutants run, minutes, runners] of each run so far
    if previous is not None:
        statuses: dict[str, str] = previous["statuses"]  # type: ignore[assignment]  # as stored below
        earlier_wall = float(previous["wall"])  # type: ignore[arg-type]  # as stored below
        runs = list(previous.get("runs", [[len(mutants), earlier_wall / 60]]))  # type: ignore[call-overload]  # as stored below
        if args.report_only:  # only what was run: some mutants may never have been
            unrun = sorted({m.module for m in mutants if m.id not in statuses})
            mutants = [m for m in mutants if m.id in statuses]
        for m in mutants:
            m.status = statuses[m.id]
        explain(mutants, load_equivalents())
        to_run = [
            m
            for m in mutants
            if m.status in {SURVIVED, NOT_REACHED} and m.reason is None
        ]
        if args.report_only:
            to_run = []
        else:
            print(f"rerunning {len(to_run)} unexplained survivors of the last run")

    if not args.resume and not args.report_only:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)  # no stale verdicts
    (ROOT / "mutants").mkdir(exist_ok=True)
    run_mutmut(
        [m for m in to_run if m.kind == "mutmut"],
        args.jobs,
        ROOT / "mutants" / "mutmut.log",
        resume=args.resume,
    )
    run_source([m for m in to_run if m.kind == "source"], args.jobs, resume=args.resume)
    this_run = time.monotonic() - started
    wall = earlier_wall + this_run
    for module in kept_modules:  # --update: the verdicts of the modules not run
        for m in mutmut_mutants(module) + source_mutants(module):
            if m.id in kept:  # (a run of one kind left the other's unrun)
                m.status = kept[m.id]
                mutants.append(m)
    modules = kept_modules + modules
    if to_run or previous is None:  # a rerun with nothing to run only reports
        runs.append(
            [len(to_run), this_run / 60, args.runners]
            + (["resumed"] if args.resume else [])
        )
    if not args.report_only:  # a report reads the verdicts; it never rewrites them
        RESULTS.write_text(
            json.dumps(
                {
                    "source": _source_hash(),
                    "modules": {
                        m: h for m, h in _module_hashes().items() if m in modules
                    },
                    "args": [
                        ",".join(modules) if args.update else args.modules,
                        args.sample,
                        args.seed,
                        args.kind,
                    ],
                    "wall": wall,
                    "runs": runs,
                    "statuses": {m.id: m.status for m in mutants},
                }
            )
        )

    for m in mutants:
        m.reason = None
    unused = explain(mutants, load_equivalents())
    rows = table(mutants, modules)
    what = (
        "every mutant"
        if args.sample is None
        else f"a sample of {args.sample} per module (seed {args.seed})"
    )
    if args.kind != "all":
        what += f" of kind {args.kind} of {', '.join(modules[len(kept_modules) :])}"
    if unrun:
        what += f" (never run: some mutants of {', '.join(unrun)})"
    how = f"{args.jobs} jobs: {runs[0][1]:.1f} minutes of wall time"
    if "pooled" in runs[0][2:]:
        how += " with pooled runners"
    if "resumed" in runs[0][2:]:
        how += (
            " (the last part of a run resumed after interruptions: the earlier "
            "parts' time is not counted)"
        )
    if kept_modules:
        how += (
            f"; {', '.join(kept_modules)}: the verdicts of the run before, their "
            f"sources unchanged since"
        )
    if len(runs) > 1:
        again = ", then ".join(
            f"{run[0]:.0f} in {run[1]:.1f} minutes"
            + (" with pooled runners" if "pooled" in run[2:] else "")
            for run in runs[1:]
        )
        how += f"; the survivors run again after new tests: {again}"
    first = f"Commit {git_head()}, {what}; {how}."
    provenance = previous.get("note") if previous is not None else None
    if provenance:  # how verdicts merged from several runs came to be
        first = f"Commit {git_head()}: {provenance}"
    header = (
        f"# Mutation report\n\n{first} Made by "
        f"`python -m tools.mutation --report ...`.\n\n"
        "score = (killed + timeouts) / (mutants - equivalent), the mutation score of "
        "the literature; raw = (killed + timeouts) / mutants, equivalents counted "
        "against. Each equivalent is listed below with its reason."
    )
    print()
    print(render_table(rows))
    if args.report:
        args.report.write_text(render_report(mutants, rows, header, unused))
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
