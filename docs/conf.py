"""Sphinx configuration: MyST Markdown, the Furo theme, autodoc, and doctests."""

from __future__ import annotations

import sys
from pathlib import Path

import ketamine_guidance

# Local extensions (docs/_ext): pages generated from the code and the data.
sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "ketamine_guidance"
author = "ketamine_guidance developers"
copyright = "2026, ketamine_guidance developers"  # noqa: A001  (Sphinx's name)
release = ketamine_guidance.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "sphinx.ext.napoleon",
    "kg_docs",
    "soup",  # writes reference/dependencies.md (the SOUP list) from package metadata
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "examples", "_ext"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Patient-facing texts appear verbatim (explanation/traceability): no typographic rewriting.
smartquotes = False

html_theme = "furo"
html_title = "ketamine_guidance"

autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
nitpicky = True
nitpick_ignore_regex = [
    # Private implementation types that appear in signatures.
    ("py:class", r"ketamine_guidance\._.*"),
    ("py:class", r"attrs?\..*"),
    ("py:class", r"T"),
    # The standard library: no network here to fetch Python's intersphinx inventory.
    ("py:class", r"(datetime|dt|enum|pathlib|collections\.abc|typing|os)\..*"),
    # NumPy, for the columnar batch: no inventory here either.
    ("py:class", r"(np|numpy)\..*|NDArray"),
    # The service's ASGI application class (Starlette has no intersphinx inventory here).
    ("py:class", r"(starlette\.applications\.)?Starlette"),
]
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}

# The docstrings on the API page are examples within their module, which has these names;
# the pages' own examples import everything they use and run without this set-up in a
# fresh interpreter (tests/test_docs_examples.py), as a reader who copies them runs them.
doctest_global_setup = """
import datetime as dt
from ketamine_guidance import *
"""
