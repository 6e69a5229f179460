"""Settings of the whole suite (``tests/`` and ``property_tests/``).

``SUPERVISOR_TEST_RUNNERS=pooled`` runs every supervisor of the suite on pooled
runners (``runners="pooled"``), so that one suite checks both modes of the core;
``.ci/run`` runs it once in each.
"""

from __future__ import annotations

import os

import pytest

from supervisor import _test_switches

RUNNERS = os.environ.get("SUPERVISOR_TEST_RUNNERS", "task")


def pytest_configure(config: pytest.Config) -> None:
    if RUNNERS not in ("task", "pooled"):
        msg = f"SUPERVISOR_TEST_RUNNERS must be 'task' or 'pooled', got {RUNNERS!r}"
        raise pytest.UsageError(msg)
    _test_switches.pooled_runners = RUNNERS == "pooled"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if RUNNERS == "pooled":
        skip = pytest.mark.skip(reason="runners='task' only")
        for item in items:
            if item.get_closest_marker("task_runners"):
                item.add_marker(skip)


def pytest_report_header() -> str:
    return f"supervisor runners: {RUNNERS}"
