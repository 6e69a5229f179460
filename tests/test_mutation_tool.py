"""The mutation tool (tools/mutation.py) finds the mutants it promises to."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mutmut", reason="the mutation tool needs the dev extra")
if os.environ.get("SUPERVISOR_MUTATION_RUN"):
    # Inside a mutation run the tree is a mutated copy: the tool would enumerate
    # mutants of mutants, and its verdicts on the copy say nothing.
    pytest.skip("not inside a mutation run", allow_module_level=True)

from tools.mutation import mutants as tool, report  # after the skip
from tools.mutation.runners import covering_files

ROOT = Path(__file__).resolve().parent.parent


def test_source_mutants_reach_the_transition_table_and_skip_inert_code() -> None:
    mutants = tool.source_mutants("_status")
    changes = {(m.function, m.before, m.after) for m in mutants}
    assert (
        "<module>",
        ("TaskStatus.PENDING: (TaskStatus.RUNNING, TaskStatus.CANCELLED),",),
        ("TaskStatus.PENDING: (TaskStatus.CANCELLED,),",),
    ) in changes
    # The property mutmut cannot wrap is mutated here.
    assert any(m.function == "TaskStatus.is_terminal" for m in mutants)
    original = (ROOT / "supervisor" / "_status.py").read_text()
    for m in mutants:
        assert m.code != original
        assert m.code is not None
        compile(m.code, m.id, "exec")
        assert not any("import" in line for line in m.before), m.diff


def test_source_mutants_leave_slots_alone() -> None:
    for m in tool.source_mutants("_handle"):
        assert "__slots__" not in m.diff
        assert not any(line.startswith('"_') for line in m.before), m.diff


def test_mutmut_mutants_are_named_as_mutmut_names_them() -> None:
    mutants = tool.mutmut_mutants("_waiters")
    assert mutants
    assert all(m.id.startswith("supervisor._waiters.x") for m in mutants)
    assert {m.function for m in mutants} >= {"Waiters.wait", "Waiters.wake_all"}
    assert all(m.before or m.after for m in mutants)


def test_explained_survivors_are_equivalent_and_leave_the_score() -> None:
    def mutant(status: str, before: str) -> Any:
        return tool.Mutant(
            id=before,
            module="_x",
            function="f",
            kind="mutmut",
            before=(before,),
            after=("y",),
            diff="",
            status=status,
        )

    mutants = [
        mutant(tool.KILLED, "a"),
        mutant(tool.TIMEOUT, "b"),
        mutant(tool.SURVIVED, "c"),
        mutant(tool.SURVIVED, "d"),
        mutant(tool.NOT_REACHED, "e"),
    ]
    entry = {"module": "_x", "function": "f", "before": ["c"], "after": ["y"]}
    unused = report.explain(
        mutants, [{**entry, "reason": "r"}, {**entry, "before": ["z"], "reason": "r"}]
    )
    assert [e["before"] for e in unused] == [["z"]]
    row, total = report.table(mutants, ["_x"])
    assert (row.mutants, row.killed, row.timeouts, row.equivalent) == (5, 1, 1, 1)
    assert (row.survivors, row.not_reached) == (1, 1)
    assert (row.score, row.raw) == (50.0, 40.0)  # 2 of the 4 a test could kill
    assert total.mutants == 5


def test_the_equivalents_file_is_well_formed() -> None:
    for entry in report.load_equivalents():
        assert entry["module"] in tool.TARGETS
        assert entry["reason"].strip()


def test_functions_called_at_import_are_found() -> None:
    code = (
        "def check(name): ...\n"
        "def helper(): ...\n"
        "def deco(f): return f\n"
        "class Rules:\n"
        "    limit = field(validator=check('limit'))\n"
        "@deco\n"
        "def later():\n"
        "    helper()\n"
    )
    # helper() runs only when later() is called: mutmut can switch it then.
    assert tool.import_time_functions(code) == {"check", "deco"}


def test_mutmut_verdicts_are_read_from_subpackages_too(tmp_path: Path) -> None:
    """supervisor.redis._outcome's verdicts live in mutants/supervisor/redis/."""
    import json

    from tools.mutation import runners

    for rel, key in [
        ("_status.py.meta", "supervisor._status.x_f__mutmut_1"),
        ("redis/_outcome.py.meta", "supervisor.redis._outcome.x_g__mutmut_1"),
    ]:
        meta = tmp_path / "mutants" / "supervisor" / rel
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({"exit_code_by_key": {key: 1}}))
    assert runners._mutmut_results(tmp_path) == {
        "supervisor._status.x_f__mutmut_1": 1,
        "supervisor.redis._outcome.x_g__mutmut_1": 1,
    }


def test_update_needs_the_modules_to_run_again(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tools.mutation.__main__ import main

    with pytest.raises(SystemExit):
        main(["--update"])
    assert "--update needs --modules" in capsys.readouterr().err


def test_update_refuses_to_keep_verdicts_of_a_changed_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    import tools.mutation.__main__ as cli

    results = tmp_path / "results.json"
    hashes = cli._module_hashes()
    results.write_text(
        json.dumps({"statuses": {}, "modules": {**hashes, "_status": "stale"}})
    )
    monkeypatch.setattr(cli, "RESULTS", results)
    with pytest.raises(SystemExit):
        cli.main(["--update", "--modules", "_intensity"])
    assert "--update: _status changed since the last run" in capsys.readouterr().err
    monkeypatch.setattr(cli, "RESULTS", tmp_path / "missing.json")
    with pytest.raises(SystemExit):
        cli.main(["--update", "--modules", "_intensity"])
    assert "no results of an earlier run" in capsys.readouterr().err


def test_report_only_runs_nothing_and_refuses_stale_verdicts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tools.mutation.__main__ as cli

    monkeypatch.setattr(cli, "RESULTS", tmp_path / "missing.json")
    with pytest.raises(SystemExit):
        cli.main(["--report-only"])
    assert "--report-only: no results of an earlier run" in capsys.readouterr().err
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"source": "stale", "statuses": {}}))
    monkeypatch.setattr(cli, "RESULTS", results)
    with pytest.raises(SystemExit):
        cli.main(["--report-only"])
    assert "supervisor/ changed since the last run" in capsys.readouterr().err
    results.write_text(json.dumps({"source": cli._source_hash(), "statuses": {}}))
    with pytest.raises(SystemExit):
        cli.main(["--report-only", "--update", "--modules", "_status"])
    assert "choose one" in capsys.readouterr().err
    # A report of one module's verdicts: written, and the verdicts left as they were.
    ids = [
        m.id for m in tool.mutmut_mutants("_waiters") + tool.source_mutants("_waiters")
    ]
    stored = {
        "source": cli._source_hash(),
        "args": ["_waiters", None, 0, "all"],
        "wall": 60.0,
        "statuses": dict.fromkeys(ids, tool.KILLED),
        "note": "merged by hand",
    }
    results.write_text(json.dumps(stored))
    assert cli.main(["--report-only", "--report", str(tmp_path / "r.md")]) == 0
    assert json.loads(results.read_text()) == stored
    text = (tmp_path / "r.md").read_text()
    assert ": merged by hand Made by" in text
    assert f"| _waiters | {len(ids)} | {len(ids)} |" in text


def test_source_mutants_run_the_module_s_covering_tests_first(tmp_path: Path) -> None:
    assert covering_files("_x", tmp_path) == []  # no stats run: the whole suite
    for name in ("test_a.py", "test_b.py", "test_other.py", "redis/test_c.py"):
        (tmp_path / "tests" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "tests" / name).write_text("")
    (tmp_path / "mutants").mkdir()
    by_function = {
        "supervisor._x.f": ["tests/test_a.py::t1", "tests/test_b.py::t2"],
        "supervisor._x.xǁCǁg": ["tests/test_a.py::t3", "tests/redis/test_c.py::t4"],
        "supervisor._xy.h": ["tests/test_other.py::t5"],  # another module
    }
    (tmp_path / "mutants" / "mutmut-stats.json").write_text(
        json.dumps({"tests_by_mangled_function_name": by_function})
    )
    # Most calls first; tests/redis is never run for mutants (SELECTION).
    assert covering_files("_x", tmp_path) == ["tests/test_a.py", "tests/test_b.py"]
