"""The SOUP list in the docs names every runtime dependency, with its licence and reason."""

from __future__ import annotations

import importlib.util
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _soup() -> ModuleType:
    spec = importlib.util.spec_from_file_location("soup", ROOT / "docs" / "_ext" / "soup.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _runtime_names() -> set[str]:
    requirements = [Requirement(r) for r in metadata.requires("ketamine-guidance") or []]
    return {r.name for r in requirements if "extra" not in str(r.marker)}


def test_the_soup_list_names_every_runtime_dependency_with_licence_and_reason() -> None:
    rows = _soup().rows()
    assert {row["name"] for row in rows} == _runtime_names()
    assert {"attrs", "python-dateutil", "tzdata"} <= _runtime_names()
    for row in rows:
        assert row["licence"].strip(), row
        assert row["why"].strip(), row


def test_the_rendered_page_has_a_row_per_dependency() -> None:
    page = _soup().render()
    for name in _runtime_names():
        assert f"| `{name}` |" in page


def test_a_dependency_without_a_reason_stops_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    soup = _soup()
    pyproject = tmp_path / "pyproject.toml"
    text = (ROOT / "pyproject.toml").read_text("utf-8")
    pyproject.write_text(text.replace("# IANA zones", "IANA zones"), "utf-8")
    without = soup.reasons(pyproject)
    assert "tzdata" not in without
    assert "attrs" in without
    monkeypatch.setattr(soup, "reasons", lambda: without)
    with pytest.raises(ValueError, match="'tzdata'"):
        soup.rows()
