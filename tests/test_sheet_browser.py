"""A real browser prints the HTML sheet: headless Chromium to PDF, read back with pdftotext.

Skipped, saying why, only where Chromium or poppler-utils is not installed
(``.ci/run`` installs both from ``.ci/apt-packages``).
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

from ketamine_guidance import Session, plan_for, render_sheet

CHROMIUM = next(
    (p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))), None
)
PDFTOTEXT = shutil.which("pdftotext")

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt: chromium)"),
    pytest.mark.skipif(PDFTOTEXT is None, reason="pdftotext is not installed (apt: poppler-utils)"),
]


def print_to_pdf(page: Path, pdf: Path, profile: Path) -> None:
    assert CHROMIUM is not None
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
            f"--user-data-dir={profile}",
            f"--print-to-pdf={pdf}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def test_printed_sheet_shows_the_timeline_and_the_advice(tmp_path: Path) -> None:
    ended = dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.timezone.utc)
    plan = plan_for(Session(ended, "America/New_York"))
    page = tmp_path / "sheet.html"
    page.write_text(render_sheet(plan, format="html"), encoding="utf-8")
    pdf = tmp_path / "sheet.pdf"
    print_to_pdf(page, pdf, tmp_path / "profile")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert PDFTOTEXT is not None
    text = subprocess.run(
        [PDFTOTEXT, "-enc", "UTF-8", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    flat = " ".join(text.split())
    for heading in (
        "Ketamine therapy aftercare",
        "When you can do each thing again",
        "Advice",
        "After-effects",
        "Integration",
        "Interpreting your experience",
        "Continuing care",
        "Lifestyle",
        "What to expect",
        "Sources",
    ):
        assert heading in flat
    assert "Driving: from Thu 26 Nov 2026, 06:00 EST" in flat
    assert "Taking recreational drugs: No end is given." in flat
