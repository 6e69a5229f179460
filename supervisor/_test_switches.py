"""Switches that the project's own test suite sets; never for users' code.

``tests/conftest.py`` sets them from environment variables, so that one suite
checks every mode of the core.
"""

from __future__ import annotations

#: ``SUPERVISOR_TEST_RUNNERS=pooled``: every supervisor runs its tasks on pooled
#: runners, those opened without ``max_concurrent`` too (which users cannot ask
#: for: there, each runner runs one attempt, plus whatever a restart hands it).
pooled_runners = False
