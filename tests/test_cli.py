"""The command line: outputs, exit codes, and one clear line for bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ketamine_guidance._cli import main
from ketamine_guidance._formats.text import format_local

SESSION = ["--ended-at", "2026-11-25T23:30:00Z", "--timezone", "America/New_York"]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_plan_prints_local_lift_times():
    code, out, err = run("plan", *SESSION)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "Ketamine therapy aftercare (ruleset default 2026.1)"
    assert lines[1] == "Session ended: Wed 25 Nov 2026, 18:30 EST (America/New_York)"
    assert any(
        line.split()
        == ["Driving", "not", "permitted", "until", "Thu", "26", "Nov", "2026,", "06:00", "EST"]
        for line in lines
    )
    assert "Drinking water" in lines[3]
    assert lines[3].endswith("permitted from the end of the session")
    assert lines[-1].split()[:4] == ["Taking", "recreational", "drugs", "not"]
    assert "no end is given" in lines[-1]


def test_plan_json_is_tagged_and_uses_offsets():
    code, out, _ = run("plan", *SESSION, "--format", "json")
    document = json.loads(out)
    assert code == 0
    assert document["schema"] == "ketamine-guidance/plan/v1"
    assert document["timezone"] == "America/New_York"
    assert document["session"] == {
        "ended_at": "2026-11-25T18:30:00-05:00",
        "ended_at_utc": "2026-11-25T23:30:00+00:00",
    }
    driving = next(e for e in document["timeline"] if e["activity"] == "driving")
    assert driving["permitted_from"] == "2026-11-26T06:00:00-05:00"
    assert driving["permitted_from_utc"] == "2026-11-26T11:00:00+00:00"
    assert document["timeline"][-1]["permitted_from"] is None


@pytest.mark.parametrize(
    ("activity", "at", "code", "status"),
    [
        ("driving", "2026-11-26T10:59:59Z", 1, "not permitted"),
        ("driving", "2026-11-26T11:00:00Z", 0, "permitted"),
        ("driving", "2026-11-26T06:00:00-05:00", 0, "permitted"),
        ("vigorous_physical_activity", "2026-11-26T00:00:00Z", 1, "not permitted"),
        ("regular_diet", "2026-11-26T00:00:00Z", 0, "permitted with caution"),
        ("recreational_drugs", "2030-01-01T00:00:00Z", 1, "not permitted"),
    ],
)
def test_check_exit_codes(activity, at, code, status):
    got, out, err = run("check", activity, *SESSION, "--at", at)
    assert (got, err) == (code, "")
    assert out.split(":")[1].strip().startswith(status)


def test_check_json():
    code, out, _ = run(
        "check", "driving", *SESSION, "--at", "2026-11-26T10:00:00Z", "--format", "json"
    )
    document = json.loads(out)
    assert code == 1
    assert document["schema"] == "ketamine-guidance/decision/v1"
    assert document["status"] == "not_permitted"
    assert document["permitted"] is False
    assert document["at"] == "2026-11-26T05:00:00-05:00"
    assert document["timezone"] == "America/New_York"


def test_rules_lists_every_rule():
    code, out, _ = run("rules")
    assert code == 0
    assert "driving" in out
    assert (
        "prescription_pain_medication  not permitted until: latest of next day 06:00 and 8 hours"
        " (clinician may adjust)" in out
    )
    assert "drinking_water                permitted from the end of the session" in out


def test_rules_json():
    code, out, _ = run("rules", "--format", "json")
    document = json.loads(out)
    assert code == 0
    assert document["schema"] == "ketamine-guidance/ruleset/v1"
    assert document["rules"][0]["until"] == {"latest_of": ["next_day", {"hours": 8}]}
    assert document["next_day_begins"] == "06:00"


def test_a_clinic_ruleset_file_is_used(tmp_path: Path):
    path = tmp_path / "clinic.toml"
    path.write_text(
        'id = "c"\nversion = "1"\ntitle = "Clinic"\n[[rules]]\nactivity = "driving"\n'
        'label = "Driving"\nuntil = { hours = 24 }\nreason = "R."\n'
        '[rules.source]\ntitle = "T"\nsection = "S"\n',
        encoding="utf-8",
    )
    code, out, _ = run(
        "check", "driving", *SESSION, "--at", "2026-11-26T23:30:00Z", "--ruleset", str(path)
    )
    assert code == 0
    assert "permitted from Thu 26 Nov 2026, 18:30 EST" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["plan", "--ended-at", "2026-11-25T23:30:00"], "has no UTC offset"),
        (["plan", "--ended-at", "yesterday"], "'yesterday' is not an ISO 8601 date and time"),
        (["plan", *SESSION[:2], "--timezone", "Mars/Base"], "unknown time zone 'Mars/Base'"),
        (["check", "drivng", *SESSION, "--at", "2026-11-26T12:00:00Z"], "did you mean 'driving'"),
        (
            ["check", "driving", *SESSION, "--at", "2026-11-25T12:00:00Z"],
            "before the session ended",
        ),
        (["plan", *SESSION, "--ruleset", "/nonexistent/clinic.toml"], "cannot read file"),
        (["plan", *SESSION, "--format", "xml"], "invalid choice: 'xml'"),
        (["plan"], "the following arguments are required: --ended-at"),
        ([], "the following arguments are required: COMMAND"),
        (["fly"], "invalid choice: 'fly'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message):
    code, out, err = run(*argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("ketamine-guidance: error: ")
    assert message in err
    assert "Traceback" not in err


def test_a_broken_ruleset_is_one_line_naming_the_field(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text('id = "c"\nversion = "1"\ntitle = "t"\nrules = [{ activity = "x" }]\n')
    code, _, err = run("rules", "--ruleset", str(path))
    assert code == 2
    assert "rules[0].label: is required" in err
    assert err.count("\n") == 1


def test_python_dash_m_runs_the_command_line():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ketamine_guidance",
            "check",
            "driving",
            *SESSION,
            "--at",
            "2026-11-26T11:00:00Z",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("Driving: permitted")


def test_version():
    code, out, err = run("--version")
    assert (code, err) == (0, "")
    assert out.startswith("ketamine-guidance 0.")


def test_the_module_entry_point_exits_with_the_status(monkeypatch: pytest.MonkeyPatch):
    import runpy

    monkeypatch.setattr(sys, "argv", ["ketamine-guidance", "rules"])
    with pytest.raises(SystemExit) as info:
        runpy.run_module("ketamine_guidance", run_name="__main__")
    assert info.value.code == 0


def test_plan_takes_a_course_and_gives_the_courses_times() -> None:
    import datetime as dt

    from ketamine_guidance import Session, plan_for_course

    ends = ["2026-11-25T23:30:00Z", "2026-11-23T23:30:00Z"]  # in any order
    out, err = io.StringIO(), io.StringIO()
    argv = ["plan", "--timezone", "America/New_York"]
    for end in ends:
        argv += ["--ended-at", end]
    assert main(argv, out=out, err=err) == 0
    text = out.getvalue()
    assert "A course of 2 sessions; the times count every one." in text
    assert "Latest session ended: Wed 25 Nov 2026, 18:30 EST" in text
    course = plan_for_course(
        Session(dt.datetime.fromisoformat(e.replace("Z", "+00:00")), "America/New_York")
        for e in ends
    )
    driving = next(e for e in course.timeline() if e.activity == "driving")
    assert driving.permitted_from is not None
    assert f"not permitted until {format_local(driving.permitted_from)}" in text
    # Water was permitted from the first session's end: never "until" a past time.
    assert "Drinking water                     permitted from the end of the session" in text
    json_out, json_err = io.StringIO(), io.StringIO()
    assert main([*argv, "--format", "json"], out=json_out, err=json_err) == 2
    assert json_err.getvalue().count("\n") == 1
    assert "takes one --ended-at" in json_err.getvalue()
