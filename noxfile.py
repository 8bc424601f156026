"""One command per task: ``nox`` runs what CI runs; ``nox -s NAME`` runs one task."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

# The sessions run in the current environment (python=False): put its scripts (ruff,
# mypy, pytest, sphinx-build) first on PATH, so `.venv/bin/nox` works unactivated.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["lint", "types", "tests", "docs"]


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    """ruff: lint and format check."""
    session.run("ruff", "check", "src", "tests", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "noxfile.py")


@nox.session(python=False)
def types(session: nox.Session) -> None:
    """mypy --strict on src and tests."""
    session.run("mypy")


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """The test suite with branch coverage, in the current environment."""
    session.run("pytest", "--cov", "--cov-report=term-missing", *session.posargs)


@nox.session(python=False)
def docs(session: nox.Session) -> None:
    """Build the Sphinx site (warnings fail) and run every example in it."""
    session.run(
        "sphinx-build", "-q", "-n", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html"
    )
    session.run("sphinx-build", "-q", "-b", "doctest", "docs", "docs/_build/doctest")
