"""``ketamine-guidance export``: every format, and one clear line for bad input."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
from pathlib import Path

import icalendar
import pytest
from fhir.resources.R4B.careplan import CarePlan

from ketamine_guidance import default_ruleset
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
    digest = default_ruleset().digest
    assert {c["source"]["label"] for c in cards} == {f"Rx check · rules {digest}"}
    driving = next(c for c in cards if c["source"]["topic"]["code"] == "driving")
    assert driving["summary"].startswith("Driving: not permitted until Thu 26 Nov ")
    assert driving["summary"].endswith("; ketamine session ended 18:30")
    _, later, _ = _run("--format", "cds", "--at", "2026-11-26T12:00Z")
    assert [c["source"]["topic"]["code"] for c in json.loads(later)["cards"]] == [
        "recreational_drugs"
    ]


def test_ical() -> None:
    code, out, _ = _run("--format", "ical", "--stamp", "2026-12-01T09:00Z")
    assert code == 0
    calendar = icalendar.Calendar.from_ical(out.encode())
    events = calendar.walk("VEVENT")
    assert events
    starts = [e.decoded("dtstart") for e in events]
    assert len(set(starts)) == len(starts)  # one event per lift instant
    assert {e.decoded("dtstamp") for e in events} == {
        dt.datetime(2026, 12, 1, 9, tzinfo=dt.timezone.utc)
    }


def test_ical_options_and_a_course_written_as_crlf_bytes() -> None:
    raw = io.BytesIO()
    # newline="\r\n" is what a Windows console does to "\n": bytes must bypass it.
    out = io.TextIOWrapper(raw, encoding="utf-8", newline="\r\n")
    argv = [
        "export", "--ended-at", "2026-11-25T23:30:00Z", "--ended-at", "2026-11-27T23:30:00Z",
        "--timezone", "America/New_York", "--format", "ical", "--subject", "Patient/9",
        "--stamp", "2026-12-01T09:00Z", "--sequence", "4",
    ]  # fmt: skip
    assert main(argv, out=out, err=io.StringIO()) == 0
    data = raw.getvalue()
    assert b"\r\r" not in data
    assert b"\n" not in data.replace(b"\r\n", b"")
    events = icalendar.Calendar.from_ical(data).walk("VEVENT")
    assert {int(str(e["sequence"])) for e in events} == {4}
    # The course's lifts follow the later session.
    assert min(e.decoded("dtstart") for e in events).day >= 28


def test_a_course_is_refused_where_the_format_takes_one_session() -> None:
    out, err = io.StringIO(), io.StringIO()
    argv = [
        "export", "--ended-at", "2026-11-25T23:30:00Z", "--ended-at", "2026-11-27T23:30:00Z",
        "--timezone", "America/New_York", "--format", "json",
    ]  # fmt: skip
    assert main(argv, out=out, err=err) == 2
    assert "--format json takes one --ended-at" in err.getvalue()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--format", "fhir"), "export --format fhir needs --subject"),
        (("--format", "cds"), "export --format cds needs --at"),
        (("--format", "json", "--subject", "Patient/1"), "--subject applies only to --format fhir"),
        (("--format", "json", "--stamp", "2026-12-01T09:00Z"), "--stamp applies only to"),
        (("--format", "json", "--sequence", "2"), "--sequence applies only to"),
        (("--format", "ical", "--sequence", "-2"), "sequence must be a whole number"),
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


def test_fhir_bundle_plandefinition_and_base_url() -> None:
    from tests.fhir_check import check

    base = "https://fhir.example-clinic.org/k"
    code, out, _ = _run("--format", "fhir-bundle", "--subject", "Patient/1", "--base-url", base)
    assert code == 0
    bundle = check(json.loads(out))
    assert bundle["type"] == "transaction"
    assert bundle["entry"][0]["request"]["url"].startswith(f"CarePlan?identifier={base}/")
    code, out, _ = _run("--format", "plandefinition")
    assert code == 0
    assert check(json.loads(out))["entry"][0]["resource"]["resourceType"] == "PlanDefinition"


def test_fhir_for_a_course() -> None:
    out, err = io.StringIO(), io.StringIO()
    argv = [
        "export", "--ended-at", "2026-11-25T23:30:00Z", "--ended-at", "2026-11-27T23:30:00Z",
        "--timezone", "America/New_York", "--format", "fhir", "--subject", "Patient/1",
    ]  # fmt: skip
    assert main(argv, out=out, err=err) == 0
    assert "2 ketamine sessions" in json.loads(out.getvalue())["description"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--format", "fhir-bundle"), "export --format fhir-bundle needs --subject"),
        (("--format", "json", "--base-url", "https://x"), "--base-url applies only"),
        (("--format", "plandefinition", "--at", "2026-11-26T02:00Z"), "--at does not apply"),
        (("--format", "plandefinition", "--base-url", "ftp://x"), "base_url must be an http"),
    ],
)
def test_bad_fhir_options(argv: tuple[str, ...], message: str) -> None:
    code, out, err = _run(*argv)
    assert (code, out) == (2, "")
    assert message in err


def test_plan_and_check_never_show_a_lift_earlier_than_true(tmp_path: Path) -> None:
    rules = tmp_path / "hours.toml"
    rules.write_text(
        'id = "h"\nversion = "1"\ntitle = "H"\n[[rules]]\nactivity = "driving"\n'
        'label = "Driving"\nuntil = { hours = 24 }\nreason = "Wait."\n'
        'source = { title = "T", section = "S" }\n',
        encoding="utf-8",
    )
    session = ["--ended-at", "2026-11-25T23:30:00.25Z", "--timezone", "America/New_York"]
    for argv in (["plan"], ["check", "driving", "--at", "2026-11-26T23:30:00Z"]):
        out = io.StringIO()
        main([*argv, *session, "--ruleset", str(rules)], out=out, err=io.StringIO())
        # Permitted from 18:30:00.25: shown to the minute, that is 18:31, never 18:30.
        assert "Thu 26 Nov 2026, 18:31 EST" in out.getvalue()
