"""The parametrized tables pass twice in one process.

The mutation tool's clean run is a second ``pytest.main`` in the process that
collected the stats, so a case that changes its own parameters (a dict popped
from, a list appended to) passes once and fails there. Each run here is a
``pytest.main`` in one fresh interpreter, as the tool's are.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

if os.environ.get("SUPERVISOR_MUTATION_RUN"):
    # A mutation run is itself the second run of every table; here the tables
    # would run on a mutated copy twice more per mutant, to no new verdict.
    pytest.skip("a mutation run is a second run already", allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent
TABLES = ["tests/test_bad_input.py", "tests/redis/test_bad_input.py"]

TWICE = """
import sys
import pytest

args = ["-q", "-p", "no:cacheprovider", "-o", "faulthandler_timeout=0", *sys.argv[1:]]
codes = [int(pytest.main(args)) for _ in range(2)]
print("exit codes:", codes)
sys.exit(max(codes))
"""


def test_the_bad_input_tables_pass_twice_in_one_process() -> None:
    done = subprocess.run(
        [sys.executable, "-c", TWICE, *TABLES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    assert "exit codes: [0, 0]" in done.stdout
    passed = [int(n) for n in re.findall(r"^(\d+) passed", done.stdout, re.MULTILINE)]
    # Both runs ran the same cases, and the tables are not empty.
    assert len(passed) == 2, done.stdout[-5000:]
    assert passed[0] == passed[1] > 100
