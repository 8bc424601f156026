"""Sphinx extension: the list of runtime dependencies (SOUP), written from package metadata.

At each build it reads the installed package's ``Requires-Dist`` (the runtime
requirements, without extras), each dependency's own metadata (version, licence,
summary), and the reason given beside it in ``pyproject.toml``; then it writes
``docs/reference/dependencies.md``.  The page cannot drift from what the package
declares, and a dependency added without a reason stops the build.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

DIST = "ketamine-guidance"
ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "reference" / "dependencies.md"
_REASON = re.compile(r'^\s*"([^"]+)",?\s*#\s*(.+?)\s*$')


def runtime_requirements() -> list[Requirement]:
    """The package's runtime requirements (those not behind an extra)."""
    found = [Requirement(text) for text in metadata.requires(DIST) or []]
    return [r for r in found if r.marker is None or "extra" not in str(r.marker)]


def reasons(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, str]:
    """The comment beside each entry of ``[project] dependencies``, by package name."""
    text = pyproject.read_text("utf-8")
    block = text.split("\ndependencies = [", 1)[1].split("\n]", 1)[0]
    found = {}
    for line in block.splitlines():
        match = _REASON.match(line)
        if match:
            found[canonicalize_name(Requirement(match.group(1)).name)] = match.group(2)
    return found


def licence(meta: Any) -> str:
    """The SPDX expression if declared, else the licence classifiers, else the short field."""
    expression = meta.get("License-Expression")
    if expression:
        return str(expression)
    classifiers = [
        c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License ::")
    ]
    if classifiers:
        return " or ".join(classifiers)
    text = (meta.get("License") or "").strip()
    return text if text and len(text) < 80 else "see the package's licence file"


def rows() -> list[dict[str, str]]:
    """One row per runtime dependency: name, requirement, installed version, licence, why."""
    why = reasons()
    table = []
    for req in runtime_requirements():
        name = canonicalize_name(req.name)
        if name not in why:
            msg = f"pyproject.toml gives no reason (a # comment) for the dependency {req.name!r}"
            raise ValueError(msg)
        try:
            meta: Any = metadata.metadata(req.name)
            installed, summary, lic = meta["Version"], meta.get("Summary", ""), licence(meta)
        except metadata.PackageNotFoundError:
            installed, summary, lic = "not installed here", "", "see PyPI"
        table.append(
            {
                "name": req.name,
                "requirement": str(req.specifier) + (f"; {req.marker}" if req.marker else ""),
                "installed": installed,
                "licence": lic,
                "why": why[name],
                "summary": summary,
            }
        )
    return table


def render() -> str:
    """The Markdown page."""
    lines = [
        "# Runtime dependencies (SOUP list)",
        "",
        "The software of unknown provenance that `ketamine_guidance` needs at run time.",
        (
            "This page is written at every docs build from the installed package's metadata "
            "(`Requires-Dist`), each dependency's own metadata, and the reason given beside "
            "it in `pyproject.toml`."
        ),
        (
            "So it cannot drift from what the package declares, and a dependency added "
            "without a reason stops the docs build."
        ),
        (
            "The optional extras (tests, docs, benchmarks, mutation testing, release tools) "
            "are development tools, not part of what a clinic deploys, and are not listed."
        ),
        "",
        "| Dependency | Required | Installed at build | Licence | Why it is there |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows():
        cells = [f"`{row['name']}`", f"`{row['requirement']}`", row["installed"]]
        cells += [row["licence"], row["why"]]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write(_app: object = None) -> None:
    """Write the page (only when it changed, so Sphinx does not rebuild it for nothing)."""
    text = render()
    if not PAGE.exists() or PAGE.read_text("utf-8") != text:
        PAGE.write_text(text, "utf-8")


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", write)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
