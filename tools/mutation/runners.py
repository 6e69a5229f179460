"""Running mutants: mutmut's forked workers, and fresh interpreters for source mutants."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

from .mutants import (
    KILLED,
    NOT_REACHED,
    PACKAGE,
    ROOT,
    SURVIVED,
    TIMEOUT,
    TREE,
    Mutant,
    source_path,
)

# ---------------------------------------------------------------------------
# Running mutants
# ---------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["SUPERVISOR_HYPOTHESIS_PROFILE"] = "mutation"  # no database, fixed seed
    env["SUPERVISOR_MUTATION_RUN"] = "1"  # the tool's own tests step aside
    env["PYTHONHASHSEED"] = "0"
    env.pop("PYTEST_ADDOPTS", None)
    return env


def _mutmut_results(root: Path = ROOT) -> dict[str, int | None]:
    """mutmut's exit code of each mutant it knows of (None: not run yet), from
    the meta files of every module, subpackages' included."""
    results: dict[str, int | None] = {}
    for meta in (root / "mutants" / PACKAGE).rglob("*.py.meta"):
        with contextlib.suppress(json.JSONDecodeError, OSError):
            results.update(json.loads(meta.read_text())["exit_code_by_key"])
    return results


def _report_progress(
    label: str, done: int, total: int, counts: Counter[str], start: float
) -> None:
    elapsed = time.monotonic() - start
    shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"[{label}] {done}/{total} in {elapsed:.0f} s ({shown})", flush=True)


def run_mutmut(
    mutants: list[Mutant], jobs: int, log: Path, *, resume: bool = False
) -> None:
    """``mutmut run`` on exactly these mutants; fills in their status.

    ``resume``: take the verdicts an interrupted run left in ``mutants/`` and run
    only the mutants without one.
    """
    from mutmut.stats import status_by_exit_code

    if resume:
        earlier = _mutmut_results()
        done = [m for m in mutants if earlier.get(m.id) is not None]
        for m in done:
            m.status = _status(status_by_exit_code[earlier[m.id]])
        print(f"[mutmut] {len(done)} verdicts of an earlier run kept", flush=True)
        mutants = [m for m in mutants if earlier.get(m.id) is None]
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


#: Source mutants' verdicts so far, for --resume (under mutants/, which a run
#: without --resume clears).
SOURCE_VERDICTS = ROOT / "mutants" / "source-verdicts.json"
#: What the source mutants run: the suite, without tests/redis, as for mutmut's
#: mutants (real worker processes on the real clock; redis._outcome is checked
#: by property_tests/test_job_outcome.py).
SELECTION = ("--ignore=tests/redis",)


def covering_files(module: str, root: Path = ROOT) -> list[str]:
    """The test files that mutmut's stats run saw call a function of ``module``
    (mutants/mutmut-stats.json), most calls first; [] without stats. A source
    mutant runs them first: with ``-x``, a mutant they kill is known sooner."""
    stats = root / "mutants" / "mutmut-stats.json"
    try:
        by_function = json.loads(stats.read_text())["tests_by_mangled_function_name"]
    except (OSError, ValueError, KeyError):
        return []
    prefix = f"{PACKAGE}.{module}."
    counts: Counter[str] = Counter()
    for function, tests in by_function.items():
        if function.startswith(prefix):
            counts.update(test.split("::")[0] for test in tests)
    return [
        path
        for path, _ in counts.most_common()
        if (root / path).is_file() and not path.startswith("tests/redis")
    ]


def _pytest(copy: Path, timeout: float, only: list[str] | None = None) -> str:
    """Run the suite (SELECTION) in ``copy``, or only the files ``only``;
    KILLED, TIMEOUT, SURVIVED or NOT_REACHED (no test ran)."""
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
        *SELECTION,
        *(only or []),
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


def run_source(mutants: list[Mutant], jobs: int, *, resume: bool = False) -> None:
    """Run each source mutant against the suite in a private copy of the tree.
    Each verdict is saved as it comes (SOURCE_VERDICTS); ``resume`` runs only the
    mutants without one."""
    saved: dict[str, str] = {}
    if resume and SOURCE_VERDICTS.exists():
        saved = json.loads(SOURCE_VERDICTS.read_text())
        for m in mutants:
            if m.id in saved:
                m.status = saved[m.id]
        print(f"[source] {len(saved)} verdicts of an earlier run kept", flush=True)
    mutants = [m for m in mutants if m.id not in saved]
    if not mutants:
        return
    first = {m.module: covering_files(m.module) for m in mutants}
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
            target = copy / source_path(m.module)
            original = target.read_text()
            try:
                assert m.code is not None
                target.write_text(m.code)
                m.status = SURVIVED
                if first[m.module]:  # the covering tests alone first: quicker
                    m.status = _pytest(copy, timeout, first[m.module])
                if m.status in {SURVIVED, NOT_REACHED}:
                    m.status = _pytest(copy, timeout)
            finally:
                target.write_text(original)
                with lock:
                    free.append(copy)
                    saved[m.id] = m.status
                    SOURCE_VERDICTS.write_text(json.dumps(saved))
                    counts[m.status] += 1
                    done = sum(counts.values())
                    if done % 20 == 0 or done == len(mutants):
                        _report_progress("source", done, len(mutants), counts, start)

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(run_one, mutants))
