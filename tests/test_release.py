"""The built wheel installs into a fresh venv, imports, and runs with its data files.

Marked ``wheel``: ``nox -s build`` builds ``dist/`` and then runs these; the test
sessions leave them out (``-m "not wheel"``).  Plain ``pytest`` on a fresh clone skips
them, with a reason that says to run ``nox -s build``.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.wheel

DIST = Path(__file__).resolve().parent.parent / "dist"


def _built(pattern: str) -> Path:
    found = sorted(DIST.glob(pattern))
    if not found:  # a fresh clone: plain `pytest` passes, and says how to run these
        pytest.skip(f"no {pattern} in {DIST}: run `nox -s build`, which builds it and runs these")
    assert len(found) == 1, f"expected one {pattern} in {DIST} (run `nox -s build`): {found}"
    return found[0]


def test_the_wheel_ships_the_package_data_and_the_typing_marker() -> None:
    names = set(zipfile.ZipFile(_built("*.whl")).namelist())
    for name in ("_rules/data/default.toml", "py.typed", "__init__.py", "_cli.py"):
        assert f"ketamine_guidance/{name}" in names
    for language in ("de", "es", "fr"):  # the sheet's own words (read with Babel)
        assert f"ketamine_guidance/locale/{language}/LC_MESSAGES/ketamine_guidance.po" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_the_sdist_carries_the_sources_tests_licence_and_readme() -> None:
    with tarfile.open(_built("*.tar.gz")) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    for name in (
        "LICENSE",
        "README.md",
        "pyproject.toml",
        "src/ketamine_guidance/_rules/data/default.toml",
    ):
        assert name in names


def test_the_wheel_installs_into_a_fresh_venv_and_runs(tmp_path: Path) -> None:
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    bindir = env / ("Scripts" if sys.platform == "win32" else "bin")
    pip = [str(bindir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, str(_built("*.whl"))], check=True)
    imported = subprocess.run(
        [
            str(bindir / "python"),
            "-c",
            "import ketamine_guidance as k; print(k.__file__); print(k.default_ruleset().id)",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the source tree: the installed copy must be the one imported
    ).stdout.split()
    assert str(env) in imported[0]
    assert imported[1] == "default"
    cli = subprocess.run(
        [
            str(bindir / "ketamine-guidance"),
            "check",
            "driving",
            "--ended-at",
            "2026-11-25T23:30:00Z",
            "--timezone",
            "America/New_York",
            "--at",
            "2026-11-26T11:00:00Z",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert (cli.returncode, cli.stderr) == (0, "")
    assert cli.stdout.startswith("Driving: permitted")
