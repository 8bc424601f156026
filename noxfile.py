"""One command per task: ``nox`` runs what CI runs; ``nox -s NAME`` runs one task.

Default (CI): lint, types, tests on every supported Python, coverage combined across
them, docs, build.  On demand: ``nox -s bench`` and ``nox -s mutation``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


def _put_pyenv_pythons_on_path() -> None:
    """Let nox find pyenv's python3.10 ... python3.13 even when only one is pyenv's global.

    pyenv's shims refuse a version that is not selected, so put each installed
    version's own bin directory (the newest patch release) on PATH instead.
    """
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = []
    for minor in PYTHONS:
        versions = sorted(
            root.glob(f"{minor}.*[0-9]"), key=lambda p: [int(x) for x in p.name.split(".")]
        )
        if versions:
            found.append(str(versions[-1] / "bin"))
    # The sessions that run in nox's own environment (python=False) use its tools
    # (ruff, mypy, pyright, sphinx-build, coverage, twine) even when it is not activated.
    here = str(Path(sys.executable).parent)
    os.environ["PATH"] = os.pathsep.join([here, *found, os.environ.get("PATH", "")])


_put_pyenv_pythons_on_path()

nox.options.sessions = ["lint", "types", "tests", "coverage", "docs", "build"]


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    """ruff (lint and format check) and import-linter (imports run down the layers)."""
    paths = ["src", "tests", "benchmarks", "tools", "docs/conf.py", "docs/_ext", "noxfile.py"]
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)
    session.run("lint-imports", "--no-cache")


@nox.session(python=False)
def types(session: nox.Session) -> None:
    """mypy --strict on src and tests; pyright strict on src."""
    session.run("mypy")
    session.run("pyright")


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite on one Python, recording branch coverage for ``coverage``."""
    session.install("-q", "-e", ".[test]")
    session.run(
        "coverage", "run", "--parallel-mode", "-m", "pytest", "-q", "-m", "not wheel",
        *session.posargs,
        env={"COVERAGE_FILE": ".coverage"},
    )  # fmt: skip


@nox.session(python=False)
def coverage(session: nox.Session) -> None:
    """Combine the coverage of every Python and require 100% (fail_under)."""
    session.run("coverage", "combine")
    session.run("coverage", "report")


@nox.session(python=False)
def docs(session: nox.Session) -> None:
    """Build the Sphinx site (warnings fail) and run every example in it."""
    session.run(
        "sphinx-build", "-q", "-n", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html"
    )
    session.run("sphinx-build", "-q", "-b", "doctest", "docs", "docs/_build/doctest")
    # The tests of the site itself (inventory, generated pages, a real browser) need
    # Sphinx, which only this environment has: the per-Python sessions skip them.
    session.run("pytest", "-q", "-p", "no:cacheprovider", "tests/test_docs.py")


@nox.session(python=False)
def build(session: nox.Session) -> None:
    """Wheel and sdist, twine check, then install the wheel in a fresh venv and run it."""
    shutil.rmtree("dist", ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", "dist", ".")
    session.run("twine", "check", "--strict", *sorted(str(p) for p in Path("dist").iterdir()))
    session.run("pytest", "-q", "-m", "wheel", "tests/test_release.py")


@nox.session(python=False)
def bench(session: nox.Session) -> None:
    """Benchmarks: print the tables (``nox -s bench -- --fast``, ``-- --batch 1000000``).

    The library's table, how its costs grow with the rules and the batch, then the CDS
    Hooks service under load (``bench_service`` alone).
    """
    session.run("python", "benchmarks/run.py", *session.posargs)
    session.run("python", "benchmarks/growth.py")
    session.run("python", "benchmarks/service.py")


@nox.session(python=False)
def bench_service(session: nox.Session) -> None:
    """The CDS Hooks service under load: requests/s, p50 and p99 (``-- --seconds 10``)."""
    session.run("python", "benchmarks/service.py", *session.posargs)


@nox.session(python=False)
def mutation(session: nox.Session) -> None:
    """mutmut on the time engine, the plan and the loader; prints the score."""
    session.run("python", "tools/mutation.py", *session.posargs)
