"""Sphinx configuration: furo theme, Markdown pages through MyST, the API reference
from the docstrings (autodoc; Google-style sections through napoleon).

Build: ``.venv/bin/sphinx-build -W --keep-going -b html docs docs/_build/html``.
"""

from __future__ import annotations

import supervisor

project = "trio-supervisor"
author = "the trio-supervisor contributors"
copyright = "2026, the trio-supervisor contributors"
release = version = supervisor.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = f"trio-supervisor {release}"
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True  # "Attributes:" as fields: attrs classes document their own
