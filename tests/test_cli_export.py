"""``ketamine-guidance export``: every format, and one clear line for bad input."""

from __future__ import annotations

import io
import json
import sys

import icalendar
import pytest
from fhir.resources.R4B.careplan import CarePlan

from ketamine_guidance._cli import main

SESSION = ("--ended-at", "2026-11-25T23:30:00Z", "--timezone", "America/New_York")


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["export", *SESSION, *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_fhir() -> None:
    code, out, err = _run("--format", "fhir", "--subject", "Patient/7", "--at", "2026-11-26T02:00Z")
    assert (code, err) == (0, "")
    resource = json.loads(out)
    CarePlan.model_validate(resource)
    assert resource["subject"] == {"reference": "Patient/7"}
    assert resource["created"] == "2026-11-25T21:00:00-05:00"


def test_cds_with_a_source_label() -> None:
    code, out, _ = _run(
        "--format", "cds", "--at", "2026-11-26T02:00Z", "--source-label", "Rx check"
    )
    cards = json.loads(out)["cards"]
    assert code == 0
    assert {c["source"]["label"] for c in cards} == {"Rx check"}
    assert "Driving: not permitted after ketamine until Thu 26 Nov 2026, 06:00 EST" in {
        c["summary"] for c in cards
    }
    _, later, _ = _run("--format", "cds", "--at", "2026-11-26T12:00Z")
    assert [c["source"]["topic"]["code"] for c in json.loads(later)["cards"]] == [
        "recreational_drugs"
    ]


def test_ical() -> None:
    code, out, _ = _run("--format", "ical")
    assert code == 0
    events = icalendar.Calendar.from_ical(out.encode()).walk("VEVENT")
    assert len(events) == 8


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--format", "fhir"), "export --format fhir needs --subject"),
        (("--format", "cds"), "export --format cds needs --at"),
        (("--format", "json", "--subject", "Patient/1"), "--subject applies only to --format fhir"),
        (
            ("--format", "fhir", "--subject", "Patient/1", "--source-label", "x"),
            "--source-label applies only",
        ),
        (("--format", "ical", "--at", "2026-11-26T02:00Z"), "--at does not apply to --format ical"),
        (("--format", "fhir", "--subject", "not a reference"), "subject must be a FHIR reference"),
        (
            (
                "--format",
                "xml",
            ),
            "invalid choice: 'xml'",
        ),
        (("--format", "json", "--at", "2026-11-26T02:00"), "has no UTC offset"),
        (("--format", "json", "--at", "2026-11-20T02:00Z"), "is before the session ended"),
        (("--format", "cds", "--at", "2026-11-26T02:00Z", "--source-label", " "), "source_label"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv: tuple[str, ...], message: str) -> None:
    code, out, err = _run(*argv)
    assert (code, out) == (2, "")
    assert err.startswith("ketamine-guidance: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_missing_ical_extra_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "icalendar", None)
    code, _, err = _run("--format", "ical")
    assert code == 2
    assert "pip install 'ketamine-guidance[ical]'" in err
    assert err.count("\n") == 1
