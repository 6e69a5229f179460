"""Whether the ``supervisor`` package imported is trio-supervisor's.

supervisord is published on PyPI as ``supervisor`` and uses the same import name.
Installing both into one environment writes both into one ``supervisor/`` folder:
whichever came last owns ``supervisor/__init__.py``, and pip sees no conflict. Our
own modules survive, so the command line and the pytest plugin can still say what
happened instead of failing on a confusing ImportError.
"""

from __future__ import annotations

import importlib


def clash() -> str | None:
    """None when ``import supervisor`` is ours, else what to do about it."""
    package = importlib.import_module("supervisor")
    if hasattr(package, "open_supervisor"):
        return None
    where = getattr(package, "__file__", None) or "this environment"
    return (
        f"the 'supervisor' package at {where} is not trio-supervisor's: supervisord "
        "(the PyPI package 'supervisor') uses the same import name and replaced it. "
        "Keep one of them per environment (a virtualenv each): "
        "pip uninstall supervisor && pip install --force-reinstall trio-supervisor"
    )
