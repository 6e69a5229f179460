"""Hypothesis profiles: a modest default, and a thorough one for nightly runs.

Select with ``SUPERVISOR_HYPOTHESIS_PROFILE=thorough`` (>= 10,000 examples per
property), and lift pytest's hang watchdog, which such long tests would trip::

    SUPERVISOR_HYPOTHESIS_PROFILE=thorough .venv/bin/python -m pytest property_tests \
        -o faulthandler_timeout=0

``deadline=None``: each example runs a whole ``trio.run``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

settings.register_profile(
    "default",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=10_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# python -m tools.mutation: no example database (a failing example found on one mutant
# must not be replayed on the next) and a fixed seed, so every run is the same; no
# shrinking, since a mutant needs one failing example, not the smallest.
settings.register_profile(
    "mutation",
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("SUPERVISOR_HYPOTHESIS_PROFILE", "default"))
