"""A real browser reads and prints the HTML sheet.

Debian's Chromium, driven by playwright-core from npm (``tests/node``: package.json and
its lock, installed here with ``npm ci``; it downloads no browser), runs axe-core on the
sheet for WCAG 2.2 AA and prints it on A4 and Letter; pdftotext reads each page back.

Skipped, saying why, only where Chromium, poppler-utils or Node.js is not installed, or
npm cannot install the two packages (``.ci/run`` installs the system packages from
``.ci/apt-packages``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import attrs
import pytest

from ketamine_guidance import (
    Session,
    Status,
    default_ruleset,
    load_ruleset,
    plan_for,
    plan_for_course,
    render_sheet,
)

NODE_DIR = Path(__file__).parent / "node"
EXAMPLES = Path(__file__).parent.parent / "docs" / "examples"
CHROMIUM = next(
    (p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))), None
)
PDFTOTEXT = shutil.which("pdftotext")
PDFINFO = shutil.which("pdfinfo")
NODE, NPM = shutil.which("node"), shutil.which("npm")
UTC = dt.timezone.utc
ENDED = dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
PRINTED = dt.datetime(2026, 11, 26, 1, 5, tzinfo=UTC)

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt: chromium)"),
    pytest.mark.skipif(
        PDFTOTEXT is None or PDFINFO is None, reason="poppler-utils is not installed (apt)"
    ),
    pytest.mark.skipif(NODE is None or NPM is None, reason="Node.js and npm are not installed"),
]


@pytest.fixture(scope="session")
def node_tools() -> Path:
    """tests/node with its packages installed from the lock file (``npm ci``), once."""
    assert NPM is not None
    if not (NODE_DIR / "node_modules" / "playwright-core").is_dir():
        done = subprocess.run(
            [NPM, "ci", "--no-audit", "--no-fund", "--prefer-offline"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:  # pragma: no cover (only where npm cannot reach its registry)
            pytest.skip(f"npm ci failed in tests/node: {done.stderr.strip()[-300:]}")
    return NODE_DIR / "sheet-check.mjs"


def _node(script: Path, *args: str) -> str:
    assert NODE is not None
    assert CHROMIUM is not None
    env = {**os.environ, "CHROMIUM": CHROMIUM}
    return subprocess.run(
        [NODE, str(script), *args],
        cwd=NODE_DIR,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=180,
    ).stdout


def _clinic_plan(zone: str = "America/New_York") -> Any:
    ruleset = attrs.evolve(default_ruleset(), contact="Call the clinic on 555-0100, day or night.")
    return plan_for(Session(ENDED, zone), ruleset).with_override(
        "prescription_pain_medication",
        status=Status.PERMITTED,
        effective_from=dt.datetime(2026, 11, 26, 2, 0, tzinfo=UTC),
        clinician="Dr. Ana Rivera",
        note="Your usual dose is fine tonight.",
    )


def _write(tmp_path: Path, page: str, name: str = "sheet.html") -> Path:
    path = tmp_path / name
    path.write_text(page, encoding="utf-8")
    return path


# Accessibility: axe-core at WCAG 2.2 AA


def _sheets() -> dict[str, str]:
    es_plan = plan_for(
        Session(ENDED, "America/New_York"), load_ruleset(EXAMPLES / "clinic-spanish.toml")
    )
    course = plan_for_course(
        [Session(ENDED - dt.timedelta(days=2), "Europe/Berlin"), Session(ENDED, "Europe/Berlin")],
        attrs.evolve(default_ruleset(), contact="Praxis: 030 555 0100"),
    )
    now = ENDED + dt.timedelta(hours=1)
    clinic = render_sheet(
        _clinic_plan(), format="html", now=now, locale="en_US", patient="Jane Doe",
        printed_at=PRINTED,
    )  # fmt: skip
    with pytest.warns(UserWarning, match="no contact line"):
        no_contact = render_sheet(plan_for(Session(ENDED, "America/New_York")), format="html")
    # The check can fail: the clinic sheet without its lang and with grey-on-grey text.
    broken = clinic.replace('<html lang="en-US">', "<html>").replace(
        "color: #111; background: #fff;", "color: #bbb; background: #ccc;"
    )
    return {
        "en_US": clinic,
        "es": render_sheet(es_plan, format="html", locale="es", now=now, printed_at=PRINTED),
        "de_DE-course": render_sheet(course, format="html", locale="de_DE", patient="Max M."),
        "no-contact": no_contact,
        "broken": broken,
    }


@pytest.fixture(scope="module")
def axe_results(node_tools: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """axe-core's violations for each sheet, from one browser start."""
    pytest.importorskip("babel")
    folder = tmp_path_factory.mktemp("axe")
    paths = {name: _write(folder, page, f"{name}.html") for name, page in _sheets().items()}
    results = json.loads(_node(node_tools, "axe", *(str(p) for p in paths.values())))
    return {name: results[str(path)] for name, path in paths.items()}


@pytest.mark.parametrize("name", ["en_US", "es", "de_DE-course", "no-contact"])
def test_every_sheet_passes_axe_core_at_wcag_2_2_aa(axe_results: dict[str, Any], name: str) -> None:
    assert axe_results[name]["version"].startswith("4.")
    assert axe_results[name]["violations"] == []


def test_axe_core_does_find_violations(axe_results: dict[str, Any]) -> None:
    ids = {v["id"] for v in axe_results["broken"]["violations"]}
    assert {"html-has-lang", "color-contrast"} <= ids


# Print: A4 and Letter, page numbers, the patient line on every page, the list kept together


def _read_pdf(pdf: Path) -> tuple[str, list[str]]:
    """The PDF's page size, and the words of each page."""
    assert PDFTOTEXT is not None
    assert PDFINFO is not None
    assert pdf.read_bytes().startswith(b"%PDF")
    info = subprocess.run(
        [PDFINFO, str(pdf)], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    count = int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))  # type: ignore[union-attr]
    size = re.search(r"^Page size:\s+(.+)$", info, re.MULTILINE).group(1)  # type: ignore[union-attr]
    texts = []
    for number in range(1, count + 1):
        text = subprocess.run(
            [PDFTOTEXT, "-enc", "UTF-8", "-f", str(number), "-l", str(number), str(pdf), "-"],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        texts.append(" ".join(text.split()))
    return size, texts


@pytest.fixture(scope="module")
def printed(node_tools: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The clinic sheet printed on A4 and on Letter, and the Spanish one on A4."""
    pytest.importorskip("babel")
    folder = tmp_path_factory.mktemp("print")
    clinic = render_sheet(
        _clinic_plan(), format="html", now=ENDED + dt.timedelta(hours=1), patient="Jane Doe",
        printed_at=PRINTED, locale="en_US",
    )  # fmt: skip
    spanish = render_sheet(
        plan_for(
            Session(ENDED, "America/New_York"), load_ruleset(EXAMPLES / "clinic-spanish.toml")
        ),
        format="html",
        locale="es",
    )
    jobs = {
        "A4": (_write(folder, clinic, "clinic.html"), "A4"),
        "Letter": (folder / "clinic.html", "Letter"),
        "es": (_write(folder, spanish, "spanish.html"), "A4"),
    }
    args: list[str] = []
    for name, (page, paper) in jobs.items():
        args += [str(page), str(folder / f"{name}.pdf"), paper]
    _node(node_tools, "pdf", *args)
    return {name: _read_pdf(folder / f"{name}.pdf") for name in jobs}


@pytest.mark.parametrize(("paper", "size"), [("A4", "(A4)"), ("Letter", "(letter)")])
def test_printed_pages_carry_numbers_patient_and_printed_on(
    printed: dict[str, Any], paper: str, size: str
) -> None:
    shown_size, pages = printed[paper]
    assert shown_size.endswith(size)
    assert len(pages) >= 2
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in text
        assert "Patient: Jane Doe" in text, number
        assert "Printed on Wed Nov 25, 2026, 8:05 PM EST" in text, number
    # On screen the header shows the patient line; in print only the page margins do.
    assert pages[0].count("Patient: Jane Doe") == 1


@pytest.mark.parametrize("paper", ["A4", "Letter"])
def test_the_not_allowed_list_is_on_one_page_and_help_comes_first(
    printed: dict[str, Any], paper: str
) -> None:
    _, pages = printed[paper]
    first = pages[0]
    assert first.index("When to get help") < first.index("Right now")
    assert "555-0100" in first
    holding = [i for i, text in enumerate(pages) if "Not allowed yet" in text]
    assert len(holding) == 1
    after = pages[holding[0]][pages[holding[0]].index("Not allowed yet") :]
    for entry in _clinic_plan().timeline():
        if entry.status_until_lift is Status.NOT_PERMITTED and entry.permitted_from_utc != ENDED:
            assert f"{entry.label}:" in after, entry.label
    assert "Sources" in pages[-1]


def test_a_spanish_sheet_prints_its_page_numbers_in_spanish(printed: dict[str, Any]) -> None:
    _, pages = printed["es"]
    assert f"Página 1 de {len(pages)}" in pages[0]
    assert "Cuándo pedir ayuda" in pages[0]
