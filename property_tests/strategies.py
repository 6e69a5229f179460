"""Hypothesis strategies for supervisor scenarios: the public ones of
``supervisor.testing``, which users extend too."""

from __future__ import annotations

from supervisor.testing import (
    TaskSpec,
    run_spec,
    shutdown_modes as _shutdown_modes,
    task_specs as _task_specs,
)

__all__ = ["TaskSpec", "run_spec", "shutdown_modes", "task_specs"]

task_specs = _task_specs(restarts=True)
shutdown_modes = _shutdown_modes()
