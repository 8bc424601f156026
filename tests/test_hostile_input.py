"""Issue 12: hostile and broken input never crashes, hangs or slips through.

One test (or a few) per case the issue lists; each failed on the code before the fix.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import html5lib
import pytest

import ketamine_guidance as kg
from ketamine_guidance._cli import main
from tests.rendered import markdown_html, markdown_words

UTC = dt.timezone.utc
ENDED = dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent

SOURCE = {"title": "Clinic sheet", "section": "Aftercare"}


def rule(activity: str = "driving", until: object = "next_day", **more: object) -> dict[str, Any]:
    return {
        "activity": activity,
        "label": activity.title(),
        "until": until,
        "reason": "Because.",
        "source": SOURCE,
        **more,
    }


def clinic(**more: object) -> dict[str, Any]:
    return {"id": "clinic", "version": "1", "title": "Clinic", "rules": [rule()], **more}


CLINIC_TOML = """\
id = "clinic"
version = "1"
title = "Clinic"
[[rules]]
activity = "driving"
label = "Driving"
reason = "Because."
source = { title = "Clinic sheet", section = "Aftercare" }
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def problems(call: Any, *args: object) -> list[str]:
    with pytest.raises(kg.RulesetError) as info:
        call(*args)
    return [str(p) for p in info.value.problems]


# --- Deep nesting -----------------------------------------------------------------


def test_a_4_kb_file_nested_2000_levels_is_a_problem_not_a_recursion_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 2000 + "]" * 2000 + "\n", encoding="utf-8")
    assert path.stat().st_size < 4100
    (problem,) = problems(kg.load_ruleset, path)
    assert "nested too deeply" in problem or "nested more than 32" in problem
    code, out, err = run("validate", str(path))
    assert (code, err) == (1, "")
    assert out.count("\n") == 1
    assert out.startswith(f"{path}: ")


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_latest_of_nested_150_deep_is_a_problem_with_its_path(tmp_path: Path, suffix: str) -> None:
    window: object = "next_day"
    for _ in range(150):
        window = {"latest_of": [window]}
    data = clinic(rules=[rule(until=window)])
    with pytest.raises(kg.RulesetError) as info:
        kg.Ruleset.from_dict(data)
    (problem,) = info.value.problems
    assert problem.path.startswith("rules[0].until.latest_of[0].latest_of[0]")
    assert problem.message == "is nested more than 32 tables and lists deep"
    path = tmp_path / f"deep{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(data), encoding="utf-8")
    else:
        inline = "next_day"
        for _ in range(150):
            inline = f"{{ latest_of = [{inline}] }}".replace("[next_day]", '["next_day"]')
        path.write_text(CLINIC_TOML + f"until = {inline}\n", encoding="utf-8")
    assert problems(kg.load_ruleset, path)
    code, _, err = run("validate", str(path))
    assert (code, err) == (1, "")


def test_a_json_file_nested_beyond_the_parsers_limit_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    (problem,) = problems(kg.load_ruleset, path)
    assert problem.startswith("<root>: not valid JSON: nested too deeply")


def test_a_structure_that_contains_itself_is_a_problem() -> None:
    data = clinic()
    loop: dict[str, list[object]] = {"latest_of": []}
    data["rules"][0]["until"] = loop
    loop["latest_of"].append(loop)
    (problem,) = problems(kg.Ruleset.from_dict, data)
    assert "nested more than 32" in problem


def test_heavily_shared_data_is_refused_quickly() -> None:
    shared: list[object] = ["next_day"]
    for _ in range(12):
        shared = [shared] * 20  # 20**12 leaves if walked as a tree
    start = time.perf_counter()
    assert problems(kg.Ruleset.from_dict, clinic(extra=shared))
    assert time.perf_counter() - start < 5


# --- Numbers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("until", "path"),
    [
        ({"hours": 10**400}, "rules[0].until.hours"),
        ({"day": 10**400, "at": "06:00"}, "rules[0].until.day"),
    ],
)
def test_a_huge_number_is_a_problem_not_an_overflow_error(
    tmp_path: Path, until: dict[str, object], path: str
) -> None:
    (problem,) = problems(kg.Ruleset.from_dict, clinic(rules=[rule(until=until)]))
    assert problem.startswith(f"{path}: must be at most ")
    assert len(problem) < 200
    toml = tmp_path / "huge.toml"
    key = "hours" if "hours" in until else "day"
    value = f"{{ {key} = {'9' * 400}" + (', at = "06:00" }' if key == "day" else " }")
    toml.write_text(CLINIC_TOML + f"until = {value}\n", encoding="utf-8")
    (problem,) = problems(kg.load_ruleset, toml)
    assert problem.startswith(f"{path}: must be at most ")
    code, out, err = run("validate", str(toml))
    assert (code, err) == (1, "")
    assert f"{path}: must be at most" in out


def test_a_huge_number_in_json_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    text = json.dumps(clinic(rules=[rule(until={"hours": 1})])).replace(
        '"hours": 1', '"hours": 1e400'
    )
    path.write_text(text, encoding="utf-8")
    (problem,) = problems(kg.load_ruleset, path)
    assert problem == "rules[0].until.hours: must be a positive number of hours, not inf"


# --- Duplicate JSON keys ------------------------------------------------------------


def test_a_duplicate_json_key_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "dup.json"
    text = json.dumps(clinic()).replace(
        '"until": "next_day"', '"until": "never", "until": "immediately"'
    )
    path.write_text(text, encoding="utf-8")
    assert problems(kg.load_ruleset, path) == [
        "rules[0].until: is given more than once in this table (only one value may be given)"
    ]
    assert kg.validate_ruleset(path)


# --- Paths ------------------------------------------------------------------------


def test_a_nul_in_a_path_is_a_file_error() -> None:
    with pytest.raises(kg.RulesetFileError) as info:
        kg.load_ruleset("a\x00b")
    assert str(info.value.problems[0]) == "<root>: cannot read file: the path holds a NUL character"


def write_child(tmp_path: Path, extends: str) -> Path:
    path = tmp_path / "child.toml"
    head = 'id = "c"\nversion = "1"\ntitle = "C"\n'
    path.write_text(head + f"extends = {json.dumps(extends)}\n", encoding="utf-8")
    return path


def test_an_extends_with_a_nul_is_a_problem(tmp_path: Path) -> None:
    (problem,) = problems(kg.load_ruleset, write_child(tmp_path, "a\x00b.toml"))
    assert problem.startswith("extends: holds the invisible or control character '\\x00'")


def test_an_extends_through_a_symlink_loop_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "a.toml").symlink_to(tmp_path / "b.toml")
    (tmp_path / "b.toml").symlink_to(tmp_path / "a.toml")
    (problem,) = problems(kg.load_ruleset, write_child(tmp_path, "a.toml"))
    assert problem.startswith("extends: ")
    assert "symbolic links" in problem


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_validate_on_a_fifo_and_an_extends_naming_one_do_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    start = time.perf_counter()
    code, out, err = run("validate", str(fifo))
    assert (code, out) == (2, "")
    reason = "cannot read file: it is a named pipe, not a regular file"
    assert err == f"ketamine-guidance: error: {fifo}: {reason}\n"
    (problem,) = problems(kg.load_ruleset, write_child(tmp_path, "pipe.toml"))
    assert (
        problem
        == "extends: base 'pipe.toml': cannot read file: it is a named pipe, not a regular file"
    )
    assert time.perf_counter() - start < 5


def test_a_directory_is_not_a_ruleset_file(tmp_path: Path) -> None:
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(kg.RulesetFileError, match="it is a directory, not a regular file"):
        kg.load_ruleset(tmp_path / "dir.toml")


def test_an_absolute_extends_is_refused_and_nothing_is_read(tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere" / "secret.toml"
    secret.parent.mkdir()
    secret.write_text('api_token = "hunter2"\n', encoding="utf-8")
    (problem,) = problems(kg.load_ruleset, write_child(tmp_path / "elsewhere", str(secret)))
    assert problem.endswith("give a path relative to this file, not an absolute one")


def test_an_extends_must_name_a_toml_or_json_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x = 1\n", encoding="utf-8")
    (problem,) = problems(kg.load_ruleset, write_child(tmp_path, "notes.txt"))
    assert problem.endswith("a base must be a .toml or .json ruleset file")


def test_an_error_about_a_base_never_quotes_its_content(tmp_path: Path) -> None:
    (tmp_path / "other.toml").write_text(
        'api_token = "hunter2"\nid = "sekrit-value"\n', encoding="utf-8"
    )
    (problem,) = problems(kg.load_ruleset, write_child(tmp_path, "other.toml"))
    assert "api_token" not in problem
    assert "hunter2" not in problem
    assert "sekrit" not in problem
    assert problem.startswith("extends: base 'other.toml' is not a valid ruleset (")


# --- Unsafe characters --------------------------------------------------------------

HIDDEN = ["\x1b[1A\x1b[2K", "\x07", "\x00", "\x7f", "\x1b]0;title\x07", "\u202e", "\u200b"]


@pytest.mark.parametrize("hidden", HIDDEN)
def test_the_loader_refuses_terminal_controls_bidi_and_zero_width_text(
    tmp_path: Path, hidden: str
) -> None:
    data = clinic(rules=[rule(reason=f"Wait.{hidden}Not allowed")])
    (problem,) = problems(kg.Ruleset.from_dict, data)
    assert problem.startswith("rules[0].reason: holds the invisible or control character ")
    path = tmp_path / "hidden.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    code, out, err = run("validate", str(path))
    assert (code, err) == (1, "")
    assert out.isprintable() or out.rstrip("\n").isprintable()
    assert "\x1b" not in out
    assert "\u202e" not in out


def test_an_overlong_text_is_refused() -> None:
    (problem,) = problems(kg.Ruleset.from_dict, clinic(title="x" * 10_001))
    assert problem == "title: is 10001 characters long; the limit is 10000"


def hostile_plan(text: str) -> kg.AftercarePlan:
    """A plan whose ruleset (built by hand, past the loader) holds ``text`` everywhere."""
    ruleset = kg.Ruleset.from_dict(clinic())
    (driving,) = ruleset.rules
    source = kg.Source(title=text, section=text)
    ruleset = attrs.evolve(
        ruleset,
        title=text,
        rules=(attrs.evolve(driving, label=text, reason=text, source=source),),
        contact=text,
    )
    return kg.plan_for(kg.Session(ENDED, "America/New_York"), ruleset)


@pytest.mark.parametrize("hidden", HIDDEN)
def test_no_control_character_reaches_the_text_sheet(hidden: str) -> None:
    sheet = kg.render_sheet(hostile_plan(f"Driving{hidden}ok"))
    assert kg.render_sheet(hostile_plan(f"Driving{hidden}ok")) == sheet
    assert all(c == "\n" or c.isprintable() for c in sheet), repr(sheet)


@pytest.mark.parametrize("hidden", HIDDEN)
def test_the_html_sheet_with_controls_is_valid_html5(hidden: str) -> None:
    page = kg.render_sheet(hostile_plan(f"Driving{hidden}ok"), format="html")
    html5lib.HTMLParser(strict=True).parse(page)
    assert hidden not in page


# --- iCalendar ----------------------------------------------------------------------

FORGED = (
    "Clinic\r\nEND:VCALENDAR\r\nBEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n"
    "SUMMARY:Driving is permitted again\r\nDTSTART:20261125T233100Z\r\nEND:VEVENT"
)


def _events(data: bytes) -> list[bytes]:
    """The lines that begin a component, read without icalendar (unfolded by hand)."""
    lines = data.replace(b"\r\n ", b"").split(b"\r\n")
    return [line for line in lines if line.startswith(b"BEGIN:")]


def test_a_newline_in_the_title_is_escaped_in_the_calendar() -> None:
    ruleset = attrs.evolve(kg.Ruleset.from_dict(clinic()), title=FORGED)
    plan = kg.plan_for(kg.Session(ENDED, "America/New_York"), ruleset)
    data = kg.to_ical(plan)
    assert _events(data).count(b"BEGIN:VEVENT") == 1
    assert _events(data).count(b"BEGIN:VCALENDAR") == 1
    lines = data.replace(b"\r\n ", b"").split(b"\r\n")
    (name,) = [line for line in lines if line.startswith(b"X-WR-CALNAME:")]
    assert name.startswith(b"X-WR-CALNAME:Clinic\\")
    assert b"\\nEND:VCALENDAR\\nBEGIN:VCALENDAR\\nBEGIN:VEVENT" in name


def test_under_python_dash_o_a_crafted_title_cannot_forge_an_event() -> None:
    script = f"""
import datetime as dt, attrs, sys
import ketamine_guidance as kg
ruleset = attrs.evolve(kg.Ruleset.from_dict({clinic()!r}), title={FORGED!r})
ended = dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.timezone.utc)
plan = kg.plan_for(kg.Session(ended, "America/New_York"), ruleset)
sys.stdout.buffer.write(kg.to_ical(plan))
"""
    result = subprocess.run(
        [sys.executable, "-O", "-c", script], capture_output=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr.decode()
    assert _events(result.stdout).count(b"BEGIN:VEVENT") == 1
    assert _events(result.stdout).count(b"BEGIN:VCALENDAR") == 1


# --- Markdown -----------------------------------------------------------------------

MARKDOWN_ATTACKS = [
    "<script>alert(1)</script>",
    "![x](https://example.org/track.png)",
    "[click](https://example.org)",
    "&amp; ~~struck~~",
    "1. listed",
    "+ listed",
    "2) listed",
    "Heading\n---",
    "Heading\n===",
    "| a | b |\n|---|---|",
    "`code`",
    "    indented code",
    "https://example.org/autolink",
]

STRUCTURE = (
    "<script",
    "<img",
    "<a ",
    "<del",
    "<ol",
    "<h1",
    "<h2",
    "<hr",
    "<table",
    "<code",
    "<pre",
)


def _no_structure(page: str) -> None:
    for tag in STRUCTURE:
        assert tag not in page, (tag, page)


@pytest.mark.parametrize("attack", MARKDOWN_ATTACKS)
def test_fhir_careplan_notes_show_advice_markdown_as_text(attack: str) -> None:
    ruleset = kg.Ruleset.from_dict(
        clinic(
            advice=[
                {"id": "a", "category": "integration", "title": attack, "text": attack}
                | {"source": {"title": attack, "section": attack}, "actions": [attack]}
            ]
        )
    )
    plan = kg.plan_for(kg.Session(ENDED, "America/New_York"), ruleset)
    (note,) = kg.to_fhir_careplan(plan, subject="Patient/1")["note"]
    page = markdown_html(note["text"])
    _no_structure(page)
    shown = markdown_words(note["text"])
    assert attack.split("\n", maxsplit=1)[0].strip() in shown


@pytest.mark.parametrize("attack", MARKDOWN_ATTACKS)
def test_cds_detail_shows_reason_markdown_as_text(attack: str) -> None:
    plan = hostile_plan("Driving")
    decision = attrs.evolve(plan.check("driving", ENDED), reason=attack, label=attack)
    card = kg.to_cds_card(decision)
    assert card is not None
    page = markdown_html(card["detail"])
    _no_structure(page)
    assert attack.split("\n", maxsplit=1)[0].strip() in markdown_words(card["detail"])


def _tags(page: str) -> list[str]:
    import re

    return re.findall(r"</?[a-z0-9]+", page)


@pytest.mark.parametrize("attack", MARKDOWN_ATTACKS)
def test_the_markdown_sheets_structure_does_not_change_with_clinic_text(attack: str) -> None:
    plain = kg.render_sheet(hostile_plan("Plain words"), format="markdown")
    crafted = kg.render_sheet(hostile_plan(attack), format="markdown")
    assert _tags(markdown_html(crafted)) == _tags(markdown_html(plain))


# --- Extreme instants ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("ended", "zone"),
    [
        # A fixed offset must be named as the zone on purpose (issue 11).
        (dt.datetime(1, 1, 1), dt.timezone(dt.timedelta(hours=5))),
        (dt.datetime.max, dt.timezone(dt.timedelta(hours=-5))),  # noqa: DTZ901  (the zone: next)
        (dt.datetime(1, 1, 1, tzinfo=UTC), "America/New_York"),
        (dt.datetime(9999, 12, 31, 23, tzinfo=UTC), "Asia/Tokyo"),
    ],
)
def test_an_instant_with_no_reading_in_the_zone_is_a_guidance_error(
    ended: dt.datetime, zone: str | dt.tzinfo
) -> None:
    if ended.tzinfo is None:
        assert isinstance(zone, dt.tzinfo)
        ended = ended.replace(tzinfo=zone)
    with pytest.raises(kg.GuidanceError, match=r"too close to the first or last date"):
        kg.Session(ended, zone)


def test_an_at_with_no_reading_is_a_guidance_error() -> None:
    plan = kg.plan_for(kg.Session(ENDED, "America/New_York"))
    at = dt.datetime.max.replace(tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    with pytest.raises(
        kg.GuidanceError, match=r"^at \(9999-12-31T23:59:59.999999-05:00\) is too close"
    ):
        plan.check("driving", at)


def test_the_cli_says_a_sentence_for_year_1() -> None:
    code, out, err = run(
        "plan", "--ended-at", "0001-01-01T00:00:00Z", "--timezone", "America/New_York"
    )
    assert (code, out) == (2, "")
    assert err.startswith(
        "ketamine-guidance: error: ended_at (0001-01-01T00:00:00+00:00) is too close"
    )
    assert "date value out of range" not in err
    assert err.count("\n") == 1


def test_a_restriction_lifting_after_datetime_max_is_beyond_range_not_no_end() -> None:
    ruleset = kg.Ruleset.from_dict(
        clinic(
            rules=[
                rule("driving", "next_day"),
                rule("flying", {"hours": 48}),
                rule("skydiving", "never"),
            ]
        )
    )
    session = kg.Session(dt.datetime(9999, 12, 31, 12, tzinfo=UTC), "UTC")
    plan = kg.plan_for(session, ruleset)
    entries = {e.activity: e for e in plan.timeline()}
    assert entries["driving"].permitted_from is None
    assert entries["driving"].lifts_beyond_range
    assert entries["flying"].lifts_beyond_range
    assert not entries["skydiving"].lifts_beyond_range
    decision = plan.check("driving", session.ended_at)
    assert (decision.permitted, decision.lifts_beyond_range) == (False, True)
    assert not plan.check("skydiving", session.ended_at).lifts_beyond_range
    with pytest.warns(kg.SheetWarning):  # no contact line in this ruleset
        sheet = kg.render_sheet(plan)
    assert "beyond the dates this library can represent" in " ".join(sheet.split())
    card = kg.to_cds_card(decision)
    assert card is not None
    assert "beyond the dates this library can represent" in card["detail"]


def test_the_cli_plan_says_beyond_range_for_a_session_ending_in_9999() -> None:
    code, out, err = run("plan", "--ended-at", "9999-12-31T12:00:00Z", "--timezone", "UTC")
    assert (code, err) == (0, "")
    driving = next(line for line in out.splitlines() if "Driving" in line)
    assert "beyond the dates this library can represent" in driving
    assert "no end is given" not in driving
    code, out, _ = run(
        "check", "driving", "--ended-at", "9999-12-31T12:00:00Z", "--timezone", "UTC",
        "--at", "9999-12-31T13:00:00Z",
    )  # fmt: skip
    assert code == 1
    assert "beyond the dates this library can represent" in out


# --- Time zones ---------------------------------------------------------------------


class _NoUtcOffset(dt.tzinfo):
    def utcoffset(self, _d: dt.datetime | None) -> dt.timedelta | None:
        return None

    def dst(self, _d: dt.datetime | None) -> dt.timedelta | None:
        return dt.timedelta(0)

    def tzname(self, _d: dt.datetime | None) -> str:
        return "X"


class _NoDst(dt.tzinfo):
    def utcoffset(self, _d: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(hours=1)

    def dst(self, _d: dt.datetime | None) -> dt.timedelta | None:
        return None

    def tzname(self, _d: dt.datetime | None) -> str:
        return "Y"


@pytest.mark.parametrize("zone", [_NoUtcOffset(), _NoDst()])
def test_a_tzinfo_that_gives_no_offset_is_an_unknown_timezone(zone: dt.tzinfo) -> None:
    with pytest.raises(kg.UnknownTimezoneError, match="gives no UTC offset"):
        kg.Session(ENDED, zone)


def test_a_session_keeps_the_tzinfo_object_it_was_given() -> None:
    cet = dt.timezone(dt.timedelta(hours=1), "CET")
    bst = dt.timezone(dt.timedelta(hours=1), "BST")
    assert cet == bst  # equal, so an equality-keyed cache would hand back the first
    assert kg.Session(ENDED, cet).timezone is cet
    session = kg.Session(ENDED, bst)
    assert session.timezone is bst
    with pytest.warns(kg.SheetWarning):  # the default ruleset has no contact line
        assert "BST" in kg.render_sheet(kg.plan_for(session))


# --- Types at the public boundary --------------------------------------------------


def test_cds_response_of_strings_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"^decisions\[0\] must be a Decision, not str$"):
        kg.cds_response(["driving"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"^decisions must be an iterable of Decision, not str$"):
        kg.cds_response("driving")  # type: ignore[arg-type]


def test_lift_times_of_a_string_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"^sessions must be an iterable of Sessions"):
        kg.lift_times("driving")  # type: ignore[arg-type]


def test_a_load_ruleset_path_of_the_wrong_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"^path must be a str or a path-like object, not int$"):
        kg.load_ruleset(3)  # type: ignore[arg-type]


def test_an_unknown_activitys_message_cuts_a_100_kb_id() -> None:
    plan = kg.plan_for(kg.Session(ENDED, "America/New_York"))
    with pytest.raises(kg.UnknownActivityError) as info:
        plan.check("x" * 100_000, ENDED)
    message = str(info.value)
    assert len(message) < 1000
    assert "(100002 characters)" in message
    assert info.value.given == "x" * 100_000


# --- FHIR subject ------------------------------------------------------------------


def test_the_fhir_subject_check_is_linear() -> None:
    plan = kg.plan_for(kg.Session(ENDED, "America/New_York"))
    start = time.perf_counter()
    with pytest.raises(kg.ExportError) as info:
        kg.to_fhir_careplan(plan, subject="a:" * 25000 + " ")
    assert time.perf_counter() - start < 0.05
    assert len(str(info.value)) < 300
    start = time.perf_counter()
    code, _, err = run(
        "export", "--format", "fhir", "--ended-at", "2026-11-25T23:30:00Z",
        "--timezone", "America/New_York", "--subject", "a:" * 25000 + " ",
    )  # fmt: skip
    assert time.perf_counter() - start < 2
    assert code == 2
    assert err.count("\n") == 1


# --- The command line ---------------------------------------------------------------


def test_python_m_exits_quietly_when_the_reader_goes_away() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "ketamine_guidance", "schema"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()  # before the command has written anything
    with process.stderr:
        err = process.stderr.read().decode()
    process.wait(timeout=60)
    assert "Traceback" not in err
    assert err == ""
    assert process.returncode == 1


def test_python_m_gives_the_console_scripts_exit_codes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ketamine_guidance", "check", "nope", "--ended-at", "x"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("given", ["dri\nving", "dri\x1b[2Kving", "a\r\nb", "\u202eevil"])
@pytest.mark.parametrize("where", ["activity", "ruleset"])
def test_cli_errors_are_one_line_with_controls_escaped(given: str, where: str) -> None:
    activity, ruleset = (given, []) if where == "activity" else ("driving", ["--ruleset", given])
    code, out, err = run(
        "check", activity, "--ended-at", "2026-11-25T23:30:00Z", "--timezone", "America/New_York",
        "--at", "2026-11-26T12:00:00Z", *ruleset,
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert err.endswith("\n")
    assert err[:-1].isprintable()


def test_validate_says_ok_for_a_clean_file(tmp_path: Path) -> None:
    path = tmp_path / "clinic.json"
    path.write_text(json.dumps(clinic()), encoding="utf-8")
    assert run("validate", str(path)) == (0, f"ok: {path}\n", "")


def test_validate_lists_a_bad_remove_and_a_bad_rule_in_one_pass() -> None:
    data = {
        "id": "c", "version": "1", "title": "C", "extends": "default",
        "remove": ["flying"], "rules": [rule(until="tomorrow")],
    }  # fmt: skip
    found = [p.path for p in kg.validate_ruleset(data)]
    assert found == ["rules[0].until", "remove[0]"]


def test_diff_formats_hours_exactly(tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    new = tmp_path / "new.json"
    old.write_text(json.dumps(clinic(rules=[rule(until={"hours": 24})])), encoding="utf-8")
    new.write_text(json.dumps(clinic(rules=[rule(until={"hours": 23.99999})])), encoding="utf-8")
    code, out, _ = run("diff", str(old), str(new))
    assert code == 1
    assert "24 hours -> 23.99999 hours" in out


def test_json_output_writes_hidden_characters_as_escapes() -> None:
    subject = "urn:uuid:ab\u202ecd\u200b"
    code, out, err = run(
        "export", "--format", "fhir", "--ended-at", "2026-11-25T23:30:00Z",
        "--timezone", "America/New_York", "--subject", subject,
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert "\u202e" not in out
    assert "\\u202e" in out
    assert json.loads(out)["subject"]["reference"] == subject


def test_the_zone_check_cache_stays_bounded_and_correct() -> None:
    from ketamine_guidance._engine import session as session_module

    zones = [dt.timezone(dt.timedelta(minutes=m)) for m in range(-700, 700)]
    for zone in zones:
        assert kg.Session(ENDED, zone).timezone is zone
    assert len(session_module._BY_ZONE) <= session_module._ZONES_MAX


@pytest.mark.parametrize(
    ("hours", "words"), [(24.0, "24 hours"), (1.5, "1.5 hours"), (8, "8 hours")]
)
def test_hours_are_described_exactly(hours: float, words: str) -> None:
    from ketamine_guidance._rules.model import describe_window

    assert describe_window(kg.Hours(hours), dt.time(6)) == words


def test_a_sheet_format_of_the_wrong_type_is_a_type_error() -> None:
    plan = kg.plan_for(kg.Session(ENDED, "America/New_York"))
    with pytest.raises(
        TypeError, match=r"^format must be a string \(one of text, markdown, html\), not int$"
    ):
        kg.render_sheet(plan, format=5)  # type: ignore[arg-type]


def test_a_zone_object_is_checked_once_and_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    from ketamine_guidance._engine import session as session_module

    seen: list[dt.tzinfo] = []
    check = session_module._check_zone

    def counting(value: dt.tzinfo) -> dt.tzinfo:
        seen.append(value)
        return check(value)

    monkeypatch.setattr(session_module, "_check_zone", counting)
    zone = dt.timezone(dt.timedelta(hours=3), "MSK-like")
    first = kg.Session(ENDED, zone)
    second = kg.Session(ENDED + dt.timedelta(hours=1), zone)
    assert first.timezone is zone
    assert second.timezone is zone
    assert seen == [zone]  # the second session found it in the cache
