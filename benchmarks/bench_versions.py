"""The hot path of two versions of the package, interleaved in one run.

Each version runs in a worker process of its own (its checkout first on the path),
kept alive for the whole run; the runs alternate between the two workers, size
by size and bench by bench, so that both see the same machine at the same time.
Printed per task: min / median / max over the runs, and the ratio of this
tree's median to the baseline's. Real clock; asserts nothing.

Run (the baseline is any checkout, e.g. ``git worktree add /tmp/base <commit>``):
``.venv/bin/python benchmarks/bench_versions.py --baseline /tmp/base [--runs N]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

#: The benches of bench_hot_path.py that run the supervisor, and the bare
#: trio reference (a check that both workers see the same machine).
BENCHES = {
    "bare trio start_soon": "on_trio(bare_trio)",
    "runners='task', unlimited": "on_trio(supervised())",
    "runners='task', await submit": "on_trio(supervised(awaited=True))",
    "runners='task', max_concurrent=100": "on_trio(supervised(max_concurrent=100))",
    "runners='pooled', max_concurrent=100": (
        "on_trio(supervised(max_concurrent=100, runners='pooled'))"
    ),
}

#: The worker: reads "bench size" lines, answers seconds per task as JSON.
WORKER = """
import gc, json, sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[1] + "/benchmarks")
import supervisor
assert supervisor.__file__.startswith(sys.argv[1]), supervisor.__file__
from bench_hot_path import bare_trio, on_trio, supervised
benches = {name: eval(code) for name, code in json.loads(sys.argv[2]).items()}
print("ready", flush=True)
for line in sys.stdin:
    name, n = json.loads(line)
    gc.collect()
    print(json.dumps(benches[name](n) / n), flush=True)
"""


class Worker:
    def __init__(self, root: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(root), json.dumps(BENCHES)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=root,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            msg = f"the worker for {root} did not start"
            raise SystemExit(msg)

    def run(self, name: str, n: int) -> float:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps([name, n]) + "\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument(
        "--only", default="", help="run only the benches whose name contains this"
    )
    args = parser.parse_args()
    if not (args.baseline / "supervisor" / "__init__.py").is_file():
        parser.error(f"--baseline {args.baseline}: no supervisor/ package there")
    sizes = [int(s) for s in args.sizes.split(",")]
    benches = [name for name in BENCHES if args.only in name]
    if not benches:
        parser.error(f"--only {args.only!r}: no bench's name contains it")
    workers = {"baseline": Worker(args.baseline.resolve()), "this tree": Worker(HERE)}
    try:
        print(
            f"{args.runs} interleaved runs; us per task: min / median / max; "
            "ratio of this tree's median to the baseline's"
        )
        for n in sizes:
            times = {(name, label): [] for name in benches for label in workers}  # type: dict[tuple[str, str], list[float]]
            pairs = list(workers.items())
            for run in range(args.runs):
                for index, name in enumerate(benches):
                    # Each version goes first in every other run: neither always
                    # runs on a machine the other has just warmed.
                    order = pairs if (run + index) % 2 else pairs[::-1]
                    for label, worker in order:
                        times[name, label].append(worker.run(name, n))
            print(f"\n{n:,} tasks")
            print(f"  {'':<40} {'baseline':>26}   {'this tree':>26}   ratio")
            for name in benches:
                cells = []
                for label in workers:
                    values = times[name, label]
                    cells.append(
                        f"{min(values) * 1e6:7.2f} / "
                        f"{statistics.median(values) * 1e6:7.2f} / "
                        f"{max(values) * 1e6:7.2f}"
                    )
                ratio = statistics.median(times[name, "this tree"]) / statistics.median(
                    times[name, "baseline"]
                )
                print(f"  {name:<40} {cells[0]:>26}   {cells[1]:>26}   {ratio:5.3f}")
    finally:
        for worker in workers.values():
            worker.close()


if __name__ == "__main__":
    main()
