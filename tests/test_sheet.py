"""The patient's aftercare sheet: order, help first, courses, times, languages, escaping."""

from __future__ import annotations

import datetime as dt
import html
import io
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import attrs
import html5lib
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketamine_guidance import (
    AftercarePlan,
    BeforeSessionEndError,
    CoursePlan,
    GuidanceError,
    NaiveDatetimeError,
    Ruleset,
    RuleTranslation,
    Session,
    SheetWarning,
    Status,
    Translation,
    default_ruleset,
    load_ruleset,
    plan_for,
    plan_for_course,
    render_sheet,
)
from ketamine_guidance._cli import main
from ketamine_guidance._formats.text import format_local
from tests.readability import fk_grade
from tests.strategies import instants, zone_names

UTC = dt.timezone.utc
ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden"
SPANISH_CLINIC = ROOT / "docs" / "examples" / "clinic-spanish.toml"
ARTICLE = "So You Just Had A Ketamine Therapy Session \N{EN DASH} Now What?"
SECTION = "Take It Easy On The Day Of Your Ketamine Session"
HOSTILE = '<script>alert("x")</script> & <b>bold</b>'
XHTML = "{http://www.w3.org/1999/xhtml}"
CONTACT = "Call the clinic on 555-0100, day or night."
ENDED_AT = dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC)  # 18:30 EST
FIXED_NOW = dt.datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # 20:00 EST
PRINTED = dt.datetime(2026, 11, 26, 1, 5, tzinfo=UTC)


def with_contact(ruleset: Ruleset | None = None) -> Ruleset:
    return attrs.evolve(ruleset or default_ruleset(), contact=CONTACT)


def fixed_plan(ruleset: Ruleset | None = None, zone: str = "America/New_York") -> AftercarePlan:
    """The golden session: ended 18:30 EST on 25 Nov 2026, with a contact line and an override."""
    return plan_for(Session(ENDED_AT, zone), ruleset or with_contact()).with_override(
        "prescription_pain_medication",
        status=Status.PERMITTED,
        effective_from=dt.datetime(2026, 11, 26, 2, 0, tzinfo=UTC),
        clinician="Dr. Ana Rivera",
        note="Your usual dose is fine tonight.",
    )


def fixed_course(ruleset: Ruleset | None = None, zone: str = "America/New_York") -> CoursePlan:
    """Two sessions two days apart; the sheet is for the second."""
    first = Session(ENDED_AT - dt.timedelta(days=2), zone)
    return plan_for_course([first, Session(ENDED_AT, zone)], ruleset or with_contact())


def small_ruleset(**changes: Any) -> Ruleset:
    source = {"title": ARTICLE, "section": SECTION}
    data: dict[str, Any] = {
        "id": "clinic",
        "version": "7",
        "title": "Clinic aftercare",
        "contact": "Ring 555-0199.",
        "rules": [
            {
                "activity": "driving",
                "label": "Driving",
                "until": "next_day",
                "reason": "Wait.",
                "source": source,
            },
            {
                "activity": "flying",
                "label": "Flying a plane",
                "until": {"hours": 24},
                "reason": "Wait a full day.",
                "source": source,
            },
            {
                "activity": "walking",
                "label": "Walking",
                "until": "immediately",
                "reason": "Walk when you like.",
                "source": source,
            },
            {
                "activity": "running",
                "label": "Running",
                "while_restricted": "permitted_with_caution",
                "until": "next_day",
                "reason": "Go slowly.",
                "source": source,
            },
        ],
        "advice": [
            {
                "id": "rest",
                "category": "after_effects",
                "title": "Rest",
                "text": "Rest today.",
                "actions": ["Lie down."],
                "source": source,
                "symptoms": ["sedation"],
            },
            {
                "id": "journal",
                "category": "integration",
                "title": "Write it down",
                "text": "Keep a journal.",
                "source": source,
            },
        ],
    }
    data.update(changes)
    return Ruleset.from_dict(data)


def small_plan(zone: str = "America/New_York", **changes: Any) -> AftercarePlan:
    return plan_for(Session(ENDED_AT, zone), small_ruleset(**changes))


# Golden files: English, Spanish and German; one session and a course; text and Markdown


def markdown_read(plan: AftercarePlan | CoursePlan, **options: Any) -> str:
    """The Markdown sheet with its escapes removed, to find the words a reader sees.

    The sheet escapes every ASCII punctuation character of its text
    (``Nov 2026\\, 06\\:00``); structure (``#``, ``-``, ``**``) is not escaped.
    """
    sheet = render_sheet(plan, format="markdown", **options)
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", sheet)


def golden_plan(language: str, kind: str) -> AftercarePlan | CoursePlan:
    ruleset = load_ruleset(SPANISH_CLINIC) if language == "es" else with_contact()
    zone = "Europe/Berlin" if language == "de" else "America/New_York"
    return fixed_plan(ruleset, zone) if kind == "session" else fixed_course(ruleset, zone)


GOLDENS = [
    (lang, locale, kind, fmt)
    for lang, locale in (("en", "en_US"), ("es", "es"), ("de", "de_DE"))
    for kind in ("session", "course")
    for fmt in ("text", "markdown")
]


@pytest.mark.parametrize(("lang", "locale", "kind", "fmt"), GOLDENS)
def test_golden(lang: str, locale: str, kind: str, fmt: Any) -> None:
    rendered = render_sheet(
        golden_plan(lang, kind),
        format=fmt,
        now=FIXED_NOW,
        locale=locale,
        patient="Jane Doe (MRN 0042)",
        printed_at=PRINTED,
    )
    path = GOLDEN / f"sheet-{lang}-{kind}.{'txt' if fmt == 'text' else 'md'}"
    if os.environ.get("UPDATE_GOLDEN") == "1":  # pragma: no cover (regenerating by hand)
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8")


def test_the_golden_sheets_say_what_a_reader_expects() -> None:
    en = (GOLDEN / "sheet-en-session.txt").read_text(encoding="utf-8")
    assert "Your session ended: Wed Nov 25, 2026, 6:30 PM EST" in en
    assert "All times on this sheet are New York time." in en
    assert "Your clinic: Call the clinic on 555-0100, day or night." in en
    es = (GOLDEN / "sheet-es-session.txt").read_text(encoding="utf-8")
    assert "Cuándo pedir ayuda" in es
    assert "- Conducir: No antes del jue, 26 nov 2026, 6:00 EST." in es
    de = (GOLDEN / "sheet-de-course.txt").read_text(encoding="utf-8")
    assert "Dieses Blatt gilt für Sitzung 2 von 2 Ihrer Behandlung." in de
    assert "Einige Texte auf diesem Blatt sind auf Englisch." in de


# Order: help first, then what is not allowed yet, take care, fine already, advice, sources


def _flat(sheet: str) -> str:
    """The sheet's words: Markdown's backslashes gone, lines joined."""
    return " ".join(sheet.replace("\\", "").split())


def _positions(sheet: str, *needles: str) -> list[int]:
    sheet = _flat(sheet)
    found = [sheet.find(n) for n in needles]
    assert -1 not in found, [n for n, i in zip(needles, found, strict=True) if i == -1]
    return found


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_blocks_come_in_the_issue_order(fmt: Any) -> None:
    sheet = render_sheet(fixed_plan(), format=fmt, now=FIXED_NOW)
    if fmt == "markdown":
        sheet = markdown_read(fixed_plan(), now=FIXED_NOW)
    order = _positions(
        sheet,
        "Ketamine therapy aftercare",
        "Your session ended",
        "When to get help",
        "555-0100",
        "If you feel very unwell or unsafe",
        "Right now",
        "Not allowed yet",
        "Take care with",
        "Fine already",
        "Advice",
        "After-effects",
        "Integration",
        "What to expect",
        "Sources",
    )
    assert order == sorted(order)


def _section(sheet: str, start: str, end: str) -> str:
    return sheet[sheet.index(start) : sheet.index(end)]


def test_not_allowed_yet_lists_what_is_restricted_in_lift_order() -> None:
    plan = fixed_plan()
    sheet = render_sheet(plan, format="text")
    part = _section(sheet, "Not allowed yet", "Take care with")
    labels = [m.group(1) for m in re.finditer(r"^- ([^:\n]+):", part, re.MULTILINE)]
    expected = [
        e.label
        for e in plan.timeline()
        if e.status_until_lift is Status.NOT_PERMITTED
        and e.permitted_from_utc != plan.session.ended_at_utc
    ]
    assert labels == expected
    lifts = [e.permitted_from_utc for e in plan.timeline() if e.label in labels]
    finite = [x for x in lifts if x is not None]
    assert finite == sorted(finite)
    assert lifts[-1] is None  # the never-lifting one comes last
    assert "Drinking water" not in part


def test_take_care_says_until_when_and_that_it_is_allowed_after() -> None:
    sheet = render_sheet(small_plan(), format="text")
    part = _flat(_section(sheet, "Take care with", "Fine already"))
    assert "- Running: Take care until Thu 26 Nov 2026, 06:00 EST; after that it is allowed." in (
        part
    )


def test_fine_already_lists_what_was_allowed_when_the_session_ended() -> None:
    sheet = render_sheet(small_plan(), format="markdown")
    part = _section(sheet, "## Fine already", "## Advice")
    assert "- **Walking**\\\n  Walk when you like\\." in part
    assert "Driving" not in part


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_each_reason_appears_once(fmt: Any) -> None:
    plan = fixed_plan()
    sheet = render_sheet(plan, format=fmt, now=FIXED_NOW)
    if fmt == "html":  # entities such as &quot; hold letters: compare the text
        sheet = html.unescape(sheet)
    for rule in plan.ruleset.rules:
        words = re.findall(r"\w+", rule.reason)  # the escaping differs per format; words do not
        pattern = r"\W+".join(words)
        assert len(re.findall(pattern, sheet)) == 1, rule.activity


def test_no_help_heading_is_ever_missing() -> None:
    for plan in (fixed_plan(), small_plan(), fixed_course()):
        assert render_sheet(plan).count("When to get help") == 1


def test_lists_left_empty_are_left_out() -> None:
    plan = small_plan(rules=[small_ruleset().to_dict()["rules"][2]])  # walking only
    sheet = render_sheet(plan)
    assert "Not allowed yet" not in sheet
    assert "Take care with" not in sheet
    assert "Fine already" in sheet


# When to get help: the contact, or a blank line to write it on; the emergency line


def test_the_default_ruleset_has_a_generic_emergency_line() -> None:
    emergency = default_ruleset().emergency
    assert emergency == "If you feel very unwell or unsafe, call your local emergency number now."


def test_without_a_contact_the_sheet_warns_and_leaves_a_labelled_blank_line() -> None:
    plan = plan_for(Session(ENDED_AT, "America/New_York"))
    with pytest.warns(SheetWarning, match="'default' has no contact line"):
        text = render_sheet(plan)
    assert "Your clinic's phone number: ____________________________\n" in text
    with pytest.warns(SheetWarning):
        page = render_sheet(plan, format="html")
    document = _parse(page)
    (blank,) = [e for e in document.iter() if e.get("class") == "blank"]
    assert blank.tag == f"{XHTML}span"
    assert ".blank { display: inline-block; min-width: 16em; border-bottom: 1px solid" in page


def test_a_contact_line_means_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sheet = render_sheet(fixed_plan())
    assert f"Your clinic: {CONTACT}" in sheet
    assert "____" not in sheet


def test_the_clinics_emergency_line_replaces_the_generic_one() -> None:
    sheet = render_sheet(small_plan(emergency="Dial 112, or the crisis line 555-0111."))
    assert "In an emergency: Dial 112, or the crisis line 555-0111." in sheet
    assert "local emergency number" not in sheet


def test_the_generic_emergency_line_is_shown_in_the_patients_language() -> None:
    pytest.importorskip("babel")
    sheet = _flat(render_sheet(fixed_plan(), locale="es"))
    assert (
        "En una emergencia: Si se siente muy mal o en peligro, llame ahora al número de "
        "emergencias de su zona." in sheet
    )
    # A clinic's own emergency line is clinical text: only a reviewed translation changes it.
    clinic = _flat(render_sheet(small_plan(emergency="Dial 112."), locale="es"))
    assert "En una emergencia: Dial 112." in clinic


def test_a_ruleset_without_an_emergency_line_gets_the_generic_one() -> None:
    assert small_ruleset().emergency is None
    sheet = render_sheet(small_plan())
    assert "In an emergency: If you feel very unwell or unsafe, call your local" in sheet


# Right now


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_right_now_only_with_now(fmt: Any) -> None:
    assert "Right now" not in render_sheet(fixed_plan(), format=fmt)
    assert "Right now" in render_sheet(fixed_plan(), format=fmt, now=FIXED_NOW)


def test_right_now_gives_the_until_times_of_what_is_limited() -> None:
    plan = fixed_plan()
    sheet = render_sheet(plan, now=FIXED_NOW)
    part = _flat(_section(sheet, "Right now", "Not allowed yet"))
    for d in plan.decisions_at(FIXED_NOW):
        if d.status is Status.PERMITTED:
            assert d.label not in part
        elif d.permitted_from is None:
            assert f"- {d.label}: Not allowed. There is no end date." in part
        else:
            verb = "Not allowed" if d.status is Status.NOT_PERMITTED else "Take care"
            assert f"- {d.label}: {verb} until {format_local(d.permitted_from)}." in part


def test_right_now_when_nothing_is_limited() -> None:
    plan = small_plan(rules=[small_ruleset().to_dict()["rules"][2]])
    sheet = render_sheet(plan, now=ENDED_AT + dt.timedelta(days=2))
    assert "Nothing on this sheet is limited right now." in sheet


def test_right_now_shows_a_clinicians_later_ban() -> None:
    later = dt.datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    plan = fixed_plan().with_override(
        "alcohol", status=Status.NOT_PERMITTED, effective_from=later, clinician="Nurse Kim"
    )
    sheet = render_sheet(plan, now=dt.datetime(2026, 11, 27, tzinfo=UTC))
    assert "- Drinks with alcohol: Not allowed. There is no end date." in sheet
    assert "Changed by Nurse Kim: not allowed from Wed 25 Nov 2026, 22:00 EST." in sheet


def test_clinician_overrides_show_who_made_them() -> None:
    sheet = render_sheet(fixed_plan(), format="markdown")
    line = next(s for s in sheet.splitlines() if "Rivera" in s)
    assert line == (
        "  Changed by Dr\\. Ana Rivera\\: allowed from Wed 25 Nov 2026\\, 21\\:00 EST\\. "
        "Your usual dose is fine tonight\\."
    )


def test_an_override_that_ends_a_caution_early_still_reads_as_care() -> None:
    plan = small_plan().with_override(
        "running",
        status=Status.PERMITTED,
        effective_from=ENDED_AT + dt.timedelta(hours=1),
        clinician="Dr. B",
        note="Cleared to run after the check-up.",
    )
    sheet = render_sheet(plan)
    assert "- Running: Take care until Wed 25 Nov 2026, 19:30 EST; after that" in sheet


def test_an_override_that_bans_a_cautioned_activity_moves_it_to_not_allowed() -> None:
    plan = small_plan().with_override(
        "running", status=Status.NOT_PERMITTED, effective_from=ENDED_AT, clinician="Dr. B"
    )
    sheet = render_sheet(plan)
    part = _section(sheet, "Not allowed yet", "Advice")
    assert "- Running: No end is given." in part
    assert "Take care with" not in sheet


def test_caution_without_an_end() -> None:
    rules = small_ruleset().to_dict()["rules"]
    rules[3]["until"] = "never"
    sheet = render_sheet(small_plan(rules=rules))
    assert "- Running: Take care. There is no end date." in sheet
    sheet = render_sheet(small_plan(rules=rules), now=ENDED_AT + dt.timedelta(days=3))
    assert sheet.count("- Running: Take care. There is no end date.") == 2


# A course of sessions


def test_a_course_sheet_is_for_the_latest_session_and_says_which_it_is() -> None:
    course = fixed_course()
    sheet = _flat(render_sheet(course, now=FIXED_NOW))
    assert "Your session ended: Wed 25 Nov 2026, 18:30 EST" in sheet
    assert "This sheet is for session 2 of 2 in your course." in sheet
    assert "The times below count every session so far." in sheet
    assert "This sheet is for session" not in render_sheet(fixed_plan())


def test_a_course_sheet_uses_the_courses_times() -> None:
    # A clinician's ban after the latest session, for three days, is the course's answer.
    first = Session(ENDED_AT - dt.timedelta(hours=12), "America/New_York")
    course = plan_for_course([first, Session(ENDED_AT, "America/New_York")], small_ruleset())
    course = course.with_override(
        "walking",
        status=Status.NOT_PERMITTED,
        effective_from=ENDED_AT,
        until=ENDED_AT + dt.timedelta(days=3),
        clinician="Dr. B",
    )
    sheet = _flat(render_sheet(course))
    for entry in course.timeline():
        if entry.permitted_from is not None and entry.permitted_from_utc != ENDED_AT:
            shown = format_local(entry.permitted_from)
            assert f"Not before {shown}." in sheet or f"Take care until {shown};" in sheet
    assert "- Walking: Not before Sat 28 Nov 2026, 18:30 EST." in sheet


def test_a_course_sheet_lists_what_was_never_restricted_as_fine_already() -> None:
    # The course's answer for water is "permitted since the first session ended", which is
    # before this session ended: still fine already, never "take care until" a past time.
    course = fixed_course()
    water = next(e for e in course.timeline() if e.activity == "drinking_water")
    assert water.permitted_from_utc < ENDED_AT  # type: ignore[operator]
    sheet = render_sheet(course)
    fine = _section(sheet, "Fine already", "Advice")
    assert "- Drinking water\n" in fine
    assert "Drinking water" not in _section(sheet, "Take care with", "Fine already")


def test_now_before_the_courses_latest_session_ended() -> None:
    with pytest.raises(BeforeSessionEndError, match="before the session ended"):
        render_sheet(fixed_course(), now=ENDED_AT - dt.timedelta(hours=1))


# Times as the patient reads them


def test_the_clock_follows_the_locale() -> None:
    pytest.importorskip("babel")
    us = render_sheet(fixed_plan(), locale="en_US")
    assert "Not before Thu Nov 26, 2026, 6:00 AM EST." in us
    gb = render_sheet(fixed_plan(zone="Europe/London"), locale="en_GB")
    # 23:30 GMT: the later of the next 06:00 and eight hours on is 07:30.
    assert re.search(r"Not before Thu, 26 Nov 2026, 07:30 GMT\.", gb)
    de = render_sheet(fixed_plan(zone="Europe/Berlin"), locale="de_DE")
    assert "Nicht vor Fr., 27. Nov. 2026, 06:00 CET." in de
    for sheet in (gb, de):
        assert not re.search(r"\b(AM|PM)\b", sheet)


def test_en_and_en_us_need_no_babel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "babel", None)
    assert "Thu 26 Nov 2026, 06:00 EST" in render_sheet(fixed_plan(), locale="en")
    assert "Thu Nov 26, 2026, 6:00 AM EST" in render_sheet(fixed_plan(), locale="en_US")
    assert "Thu 26 Nov 2026, 06:00 EST" in render_sheet(fixed_plan())  # None: "en"


def test_the_zone_is_named_in_words_once_and_its_id_never() -> None:
    for fmt in ("text", "markdown", "html"):
        sheet = _flat(render_sheet(fixed_plan(), format=fmt))
        assert "America/New_York" not in sheet
        assert "America" not in sheet
        assert sheet.count("New York time") == 1


def test_a_zone_with_a_two_word_city_and_babels_city_names() -> None:
    sheet = render_sheet(fixed_plan(zone="America/Argentina/Buenos_Aires"))
    assert "All times on this sheet are Buenos Aires time." in sheet
    pytest.importorskip("babel")
    assert "hora de Nueva York" in render_sheet(fixed_plan(), locale="es")


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("Asia/Kolkata", "06:00 IST (UTC+05:30)"),  # IST is also Ireland's and Israel's
        ("America/Chicago", "06:00 CST (UTC-06:00)"),  # CST is also China's and Cuba's
        ("America/Sao_Paulo", "06:00 -03 (UTC-03:00)"),  # a numeric abbreviation
        ("America/New_York", "06:00 EST."),  # unambiguous: no offset
    ],
)
def test_ambiguous_and_numeric_abbreviations_get_the_offset(zone: str, shown: str) -> None:
    assert shown in render_sheet(small_plan(zone))


def test_utc_and_fixed_offsets_are_named_by_their_offset() -> None:
    assert "All times on this sheet are in UTC+00:00." in render_sheet(small_plan("UTC"))
    fixed = plan_for(Session(ENDED_AT, dt.timezone(dt.timedelta(hours=-5))), small_ruleset())
    sheet = render_sheet(fixed)
    assert "All times on this sheet are in UTC-05:00." in sheet
    assert "Your session ended: Wed 25 Nov 2026, 18:30 UTC-05:00\n" in sheet


def test_times_are_never_rounded_down() -> None:
    rules = small_ruleset().to_dict()["rules"]
    rules[1]["until"] = {"hours": 1}
    ended = dt.datetime(2026, 11, 26, 3, 30, 59, tzinfo=UTC)  # 22:30:59 EST
    plan = plan_for(Session(ended, "America/New_York"), small_ruleset(rules=rules))
    sheet = render_sheet(plan)
    assert "Your session ended: Wed 25 Nov 2026, 22:31 EST" in sheet
    assert "- Flying a plane: Not before Wed 25 Nov 2026, 23:31 EST." in sheet  # 23:30:59
    html_times = re.findall(r'datetime="([^"]+)"', render_sheet(plan, format="html"))
    assert "2026-11-25T23:30:59-05:00" in html_times  # the exact instant for machines


@given(ended=instants, zone=zone_names)
def test_no_time_on_the_sheet_is_earlier_than_the_plans(ended: dt.datetime, zone: str) -> None:
    plan = plan_for(Session(ended, zone), small_ruleset())
    page = render_sheet(plan, format="html")
    exact = [dt.datetime.fromisoformat(t) for t in re.findall(r'datetime="([^"]+)"', page)]
    lifts = {e.permitted_from_utc for e in plan.timeline() if e.permitted_from_utc}
    assert lifts <= {t.astimezone(UTC) for t in exact}
    text = _flat(render_sheet(plan))
    for entry in plan.timeline():
        if entry.permitted_from is not None and entry.permitted_from_utc != ended:
            shown = format_local(entry.permitted_from)  # the next minute, if part-way through
            assert f"{entry.label}: Not before {shown}" in text or (
                f"{entry.label}: Take care until {shown}" in text
            )


def test_a_clock_change_in_the_window_gets_one_sentence() -> None:
    # The US springs forward at 02:00 on Sun 8 Mar 2026; the session ends the evening before.
    spring = plan_for(
        Session(dt.datetime(2026, 3, 8, 4, 30, tzinfo=UTC), "America/New_York"), small_ruleset()
    )
    sheet = _flat(render_sheet(spring))
    assert sheet.count("The clocks change on Sun 8 Mar 2026.") == 1
    assert "The times on this sheet already allow for it." in sheet
    assert "- Driving: Not before Sun 8 Mar 2026, 06:00 EDT." in sheet
    assert "- Flying a plane: Not before Mon 9 Mar 2026, 00:30 EDT." in sheet  # 24 real hours
    # The UK falls back at 02:00 BST on Sun 25 Oct 2026.
    autumn = plan_for(
        Session(dt.datetime(2026, 10, 24, 21, tzinfo=UTC), "Europe/London"), small_ruleset()
    )
    assert "The clocks change on Sun 25 Oct 2026." in render_sheet(autumn)
    assert "clocks change" not in render_sheet(fixed_plan())


def test_a_clock_change_after_the_last_lift_is_not_mentioned() -> None:
    ended = dt.datetime(2026, 3, 6, 4, 30, tzinfo=UTC)  # two days before the change
    assert "clocks change" not in render_sheet(
        plan_for(Session(ended, "America/New_York"), small_ruleset())
    )


# Patient line and printed-on time


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_patient_and_printed_on_come_first_when_given(fmt: Any) -> None:
    sheet = render_sheet(fixed_plan(), format=fmt, patient="Jane Doe", printed_at=PRINTED)
    order = _positions(
        sheet, "Patient", "Jane Doe", "Printed on", "20:05 EST", "Your session ended"
    )
    assert order == sorted(order)
    assert "Patient" not in render_sheet(fixed_plan(), format=fmt)
    assert "Printed on" not in render_sheet(fixed_plan(), format=fmt)


def test_html_repeats_patient_printed_on_and_page_numbers_in_the_page_margins() -> None:
    page = render_sheet(fixed_plan(), format="html", patient="Jane Doe", printed_at=PRINTED)
    style = _parse(page).find(f"{XHTML}head/{XHTML}style").text
    page_numbers = '"Page\\000020" counter(page) "\\000020of\\000020" counter(pages)'
    assert f"@bottom-center {{ content: {page_numbers}; }}" in style
    assert '@top-left { content: "Patient\\00003a\\000020Jane\\000020Doe"; }' in style
    assert "@top-right" in style


def test_hostile_patient_text_cannot_leave_the_css_string() -> None:
    page = render_sheet(fixed_plan(), format="html", patient='"; } </style><script>x</script>')
    document = _parse(page)
    assert document.findall(f".//{XHTML}script") == []
    style = document.find(f"{XHTML}head/{XHTML}style").text
    top_left = re.search(r"@top-left \{ content: (\"[^\"]*\"); \}", style)
    assert top_left is not None
    assert "<" not in top_left.group(1)
    assert '"; } </style><script>x</script>' in "".join(document.itertext())


@pytest.mark.parametrize("patient", ["", "   ", 3])
def test_bad_patient(patient: Any) -> None:
    with pytest.raises(GuidanceError, match="patient must be a name or identifier line"):
        render_sheet(fixed_plan(), patient=patient)


def test_naive_printed_at() -> None:
    with pytest.raises(NaiveDatetimeError, match="printed_at is naive"):
        render_sheet(fixed_plan(), printed_at=dt.datetime(2026, 11, 26, 1))


# Languages: the sheet's own words, and only reviewed translations of the ruleset's


def _spanish(reviewed: bool, **more: Any) -> Ruleset:
    tr = Translation(
        language="es",
        reviewed_by="Dra. Gómez" if reviewed else None,
        reviewed_on=dt.date(2026, 10, 1) if reviewed else None,
        source_digest=small_ruleset().texts_digest if reviewed else None,
        title="Cuidados de la clínica",
        rules=(RuleTranslation(activity="driving", label="Conducir", reason="Espere."),),
        **more,
    )
    return attrs.evolve(small_ruleset(), translations=(tr,))


def test_a_reviewed_translation_is_used() -> None:
    pytest.importorskip("babel")
    plan = plan_for(Session(ENDED_AT, "America/New_York"), _spanish(reviewed=True))
    sheet = render_sheet(plan, locale="es")
    assert sheet.startswith("Cuidados de la clínica\n")
    assert "- Conducir: No antes del jue, 26 nov 2026, 6:00 EST.\n  Espere." in sheet
    # Flying has no translation: English, and the sheet says so in Spanish.
    assert "- Flying a plane: No antes del" in sheet
    assert "Algunos textos de esta hoja están en inglés." in sheet


def test_an_unreviewed_translation_is_never_used() -> None:
    pytest.importorskip("babel")
    plan = plan_for(Session(ENDED_AT, "America/New_York"), _spanish(reviewed=False))
    sheet = render_sheet(plan, locale="es")
    assert "Conducir" not in sheet
    assert "Cuidados de la clínica" not in sheet
    assert "- Driving: No antes del" in sheet
    assert "Algunos textos de esta hoja están en inglés." in sheet


def test_a_complete_reviewed_translation_needs_no_note() -> None:
    pytest.importorskip("babel")
    plan = plan_for(Session(ENDED_AT, "America/New_York"), load_ruleset(SPANISH_CLINIC))
    sheet = render_sheet(plan, locale="es_MX", format="html")
    assert _parse(sheet).get("lang") == "es-MX"
    assert "Si se siente muy mal o en peligro, llame ahora al 911." in sheet
    assert "Algunos textos de esta hoja están en inglés." in sheet  # the advice is not all done
    english = render_sheet(plan)
    assert "Algunos textos" not in english
    assert "Some texts" not in english  # the ruleset's own language needs no note


def test_the_default_ruleset_ships_no_translations() -> None:
    assert default_ruleset().translations == ()
    assert default_ruleset().language == "en"


def test_the_note_names_the_rulesets_language_in_english_without_babel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    german = attrs.evolve(small_ruleset(), language="de")
    monkeypatch.setitem(sys.modules, "babel", None)
    sheet = render_sheet(plan_for(Session(ENDED_AT, "America/New_York"), german))
    assert "Some texts on this sheet are in German." in sheet


def test_the_note_uses_the_code_of_a_language_it_cannot_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ruleset = attrs.evolve(small_ruleset(), language="tlh")
    monkeypatch.setitem(sys.modules, "babel", None)
    assert "are in tlh." in render_sheet(plan_for(Session(ENDED_AT, "UTC"), ruleset))
    monkeypatch.undo()
    pytest.importorskip("babel")
    assert "están en tlh." in render_sheet(plan_for(Session(ENDED_AT, "UTC"), ruleset), locale="es")


def test_a_language_without_a_catalogue_is_refused() -> None:
    pytest.importorskip("babel")
    with pytest.raises(GuidanceError, match="no 'it' translation of its own words"):
        render_sheet(fixed_plan(), locale="it")


@pytest.mark.parametrize("locale", ["de_DE", "es", "fr"])
def test_every_heading_is_translated(locale: str) -> None:
    pytest.importorskip("babel")
    sheet = render_sheet(
        fixed_plan(), locale=locale, now=FIXED_NOW, patient="X", printed_at=PRINTED
    )
    for source in {r.source.section for r in default_ruleset().rules}:
        sheet = sheet.replace(source, "")
    for english in (
        "When to get help",
        "Right now",
        "Not allowed yet",
        "Take care with",
        "Fine already",
        "Advice",
        "What you can do:",
        "Your session ended",
        "Patient:",
        "Printed on",
    ):
        assert english not in sheet
    assert ("Sources" in sheet) is (locale == "fr")  # the same word in French


def test_other_locales_without_babel_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "babel", None)
    with pytest.raises(GuidanceError, match=re.escape("ketamine-guidance[i18n]")):
        render_sheet(fixed_plan(), locale="de")


@pytest.mark.parametrize("locale", ["", "de DE", "x", 3, "en_US<script>"])
def test_malformed_locale(locale: Any) -> None:
    with pytest.raises(GuidanceError, match="locale must be"):
        render_sheet(fixed_plan(), locale=locale)


def test_unknown_locale() -> None:
    pytest.importorskip("babel")
    with pytest.raises(GuidanceError, match="unknown locale 'xx_YY'"):
        render_sheet(fixed_plan(), locale="xx_YY")


def test_the_english_sentences_of_the_sheet_are_plain() -> None:
    from ketamine_guidance._formats import sheet as module

    sentences = [
        re.sub(r"\{\w+\}", "it", value)
        for name, value in vars(module).items()
        if name.startswith("_") and name.isupper() and isinstance(value, str)
        if value.endswith(".") and "{" not in value[:1]
    ]
    grades = [fk_grade(s) for s in sentences]
    assert len(grades) >= 15
    assert sum(grades) / len(grades) <= 8.0
    assert max(grades) <= 10.0


# Advice and sources


def test_advice_is_grouped_by_category_with_every_item() -> None:
    sheet = render_sheet(fixed_plan(), format="text")
    for advice in default_ruleset().advice:
        assert f"\n{advice.title}\n" in sheet
        assert sheet.index(f"\n{advice.category.title}\n") < sheet.index(f"\n{advice.title}\n")


def test_no_advice_no_advice_heading() -> None:
    assert "Advice" not in render_sheet(small_plan(advice=[]))


def test_sources_are_compact_each_document_once() -> None:
    sheet = render_sheet(fixed_plan(), format="text")
    sources = _flat(sheet[sheet.index("Sources\n") :])
    assert sources.count(ARTICLE) == 1
    for section in {r.source.section for r in default_ruleset().rules}:
        assert sources.count(section) == 1
    assert "(default, version 2026.1)." in sources


def test_reviewer_is_named_when_the_ruleset_has_one() -> None:
    assert "Reviewed by Dr. Q on 2026-01-02." in _flat(
        render_sheet(small_plan(reviewed_by="Dr. Q", reviewed_on="2026-01-02"))
    )
    assert "Reviewed by Dr. Q." in _flat(render_sheet(small_plan(reviewed_by="Dr. Q")))


# HTML


def _parse(page: str) -> Any:
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=True).parse(page)


def test_html_is_valid_standalone_html5() -> None:
    page = render_sheet(fixed_plan(), format="html", now=FIXED_NOW)
    assert page.startswith("<!DOCTYPE html>\n")
    document = _parse(page)  # strict: raises on any parse error
    assert document.get("lang") == "en"
    assert document.find(f"{XHTML}head/{XHTML}title").text == "Ketamine therapy aftercare"
    assert len(document.findall(f".//{XHTML}h1")) == 1
    body = document.find(f"{XHTML}body")
    assert [child.tag for child in body] == [f"{XHTML}header", f"{XHTML}main", f"{XHTML}footer"]
    first = document.find(f".//{XHTML}main/{XHTML}section")
    assert first.get("id") == "help"
    assert document.find(f".//{XHTML}section[@id='not-allowed']").get("class") == "keep"


def test_html_has_a_print_stylesheet_and_nothing_external() -> None:
    page = render_sheet(fixed_plan(), format="html")
    document = _parse(page)
    style = document.find(f"{XHTML}head/{XHTML}style").text
    assert "@media print" in style
    assert ".keep, .help, li, .advice { break-inside: avoid;" in style
    assert document.findall(f".//{XHTML}script") == []
    for tag in ("link", "img", "iframe", "object", "embed"):
        assert document.findall(f".//{XHTML}{tag}") == []
    assert "url(" not in style
    assert "@import" not in style


def hostile_plan() -> AftercarePlan:
    source = {"title": HOSTILE, "section": HOSTILE}
    ruleset = Ruleset.from_dict(
        {
            "id": "evil",
            "version": "<1>",
            "title": HOSTILE,
            "contact": HOSTILE,
            "emergency": HOSTILE,
            "rules": [
                {
                    "activity": "driving",
                    "label": HOSTILE,
                    "until": "next_day",
                    "reason": HOSTILE,
                    "source": source,
                }
            ],
            "advice": [
                {
                    "id": "a",
                    "category": "after_effects",
                    "title": HOSTILE,
                    "text": HOSTILE,
                    "actions": [HOSTILE],
                    "examples": [HOSTILE],
                    "source": source,
                }
            ],
        }
    )
    plan = plan_for(Session(ENDED_AT, "America/New_York"), ruleset)
    return plan.with_override(
        "driving",
        status=Status.NOT_PERMITTED,
        effective_from=ENDED_AT,
        clinician=HOSTILE,
        note=HOSTILE,
    )


def test_html_escapes_ruleset_and_caller_text() -> None:
    page = render_sheet(hostile_plan(), format="html", now=FIXED_NOW, patient=HOSTILE)
    document = _parse(page)
    assert document.findall(f".//{XHTML}script") == []
    assert document.findall(f".//{XHTML}b") == []
    text = "".join(document.itertext())
    assert text.count(HOSTILE) >= 13
    assert "<script" not in page


def test_markdown_escapes_ruleset_and_caller_text() -> None:
    sheet = render_sheet(hostile_plan(), format="markdown", patient=HOSTILE)
    assert re.search(r"(?<!\\)[<>&]", sheet) is None  # every < > & is backslash-escaped
    assert (
        sheet.count('\\<script\\>alert\\(\\"x\\"\\)\\<\\/script\\> \\& \\<b\\>bold\\<\\/b\\>') >= 11
    )


def test_text_shows_terminal_controls_as_escapes() -> None:
    # Built by hand, past the loader (which refuses such text in a file).
    ruleset = attrs.evolve(small_ruleset(), contact="Ring\x1b[2K 555.")
    plan = plan_for(Session(ENDED_AT, "America/New_York"), ruleset)
    sheet = render_sheet(plan, patient="Jane\u202eDoe")
    assert "\x1b" not in sheet
    assert "\u202e" not in sheet
    assert "Ring\\x1b[2K 555." in sheet
    assert "Patient: Jane\\u202eDoe" in sheet


def test_line_breaks_in_ruleset_text_do_not_change_the_layout() -> None:
    plan = plan_for(
        Session(ENDED_AT, "UTC"), attrs.evolve(small_ruleset(), title="Clinic\n# aftercare")
    )
    assert render_sheet(plan, format="markdown").startswith("# Clinic \\# aftercare\n")
    assert render_sheet(plan).startswith("Clinic # aftercare\n" + "=" * 18 + "\n")


# Bad input


def test_bad_format() -> None:
    with pytest.raises(GuidanceError, match="unknown sheet format 'pdf'"):
        render_sheet(fixed_plan(), format="pdf")  # type: ignore[arg-type]


def test_not_a_plan() -> None:
    with pytest.raises(TypeError, match="plan must be an AftercarePlan or a CoursePlan"):
        render_sheet(default_ruleset())  # type: ignore[arg-type]


def test_naive_now() -> None:
    with pytest.raises(NaiveDatetimeError, match="now is naive"):
        render_sheet(fixed_plan(), now=dt.datetime(2026, 11, 26, 1))


def test_now_before_the_session_ended() -> None:
    with pytest.raises(BeforeSessionEndError, match=r"now \(.*\) is before the session ended"):
        render_sheet(fixed_plan(), now=dt.datetime(2026, 11, 25, 23, 0, tzinfo=UTC))


@given(st.sampled_from(["text", "markdown", "html"]))
def test_every_format_ends_with_one_newline(fmt: Any) -> None:
    sheet = render_sheet(fixed_plan(), format=fmt)
    assert sheet.endswith("\n")
    assert not sheet.endswith("\n\n")


# The command line


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


ENDED = ("--ended-at", "2026-11-25T23:30:00Z", "--timezone", "America/New_York")
PRINTED_ARG = ("--printed-at", "2026-11-26T01:05:00Z")


def test_cli_sheet_matches_the_library_and_warns_of_the_missing_contact() -> None:
    code, out, err = _run("sheet", *ENDED, "--now", "2026-11-26T01:00:00Z", *PRINTED_ARG)
    assert code == 0
    assert err == (
        "ketamine-guidance: warning: ruleset 'default' has no contact line: the sheet leaves "
        "a blank line to write the clinic's phone number on\n"
    )
    plan = plan_for(Session(ENDED_AT, "America/New_York"))
    with pytest.warns(SheetWarning):
        assert out == render_sheet(plan, now=FIXED_NOW, printed_at=PRINTED)


def test_cli_sheet_patient_and_printed_on_default_to_now() -> None:
    before = dt.datetime.now(UTC)
    code, out, _ = _run("sheet", *ENDED, "--patient", "Jane Doe", "--locale", "en_US")
    assert code == 0
    assert "Patient: Jane Doe\n" in out
    printed = re.search(r"Printed on (.+)\n", out)
    assert printed is not None
    ny = plan_for(Session(before, "America/New_York")).session.timezone
    assert printed.group(1) in {
        format_local(before.astimezone(ny) + dt.timedelta(minutes=m), us=True) for m in (0, 1, 2)
    }


def test_cli_sheet_for_a_course() -> None:
    code, out, _ = _run(
        "sheet", "--ended-at", "2026-11-23T23:30:00Z", *ENDED, *PRINTED_ARG, "--format", "markdown"
    )
    assert code == 0
    assert "This sheet is for session 2 of 2 in your course\\." in out
    with pytest.warns(SheetWarning):
        assert out == render_sheet(
            plan_for_course(
                [
                    Session(ENDED_AT - dt.timedelta(days=2), "America/New_York"),
                    Session(ENDED_AT, "America/New_York"),
                ]
            ),
            format="markdown",
            printed_at=PRINTED,
        )


@pytest.mark.parametrize(("fmt", "start"), [("markdown", "# "), ("html", "<!DOCTYPE html>")])
def test_cli_sheet_formats(fmt: str, start: str) -> None:
    code, out, _ = _run("sheet", *ENDED, "--format", fmt)
    assert code == 0
    assert out.startswith(start)


def test_cli_sheet_with_a_ruleset_file(tmp_path: Path) -> None:
    path = tmp_path / "clinic.toml"
    path.write_text(
        'id = "c"\nversion = "1"\ntitle = "Clinic sheet"\ncontact = "Ring 555-0142."\n'
        '[[rules]]\nactivity = "driving"\nlabel = "Driving"\nuntil = "next_day"\n'
        f'reason = "Wait."\nsource = {{ title = "{ARTICLE}", section = "{SECTION}" }}\n',
        encoding="utf-8",
    )
    code, out, err = _run("sheet", *ENDED, "--ruleset", str(path))
    assert (code, err) == (0, "")
    assert out.startswith("Clinic sheet\n")
    assert "Your clinic: Ring 555-0142." in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--now", "2026-11-26T01:00:00"), "has no UTC offset"),
        (("--now", "2026-11-25T20:00:00Z"), "now (2026-11-25T20:00:00+00:00) is before"),
        (("--printed-at", "2026-11-26"), "has no UTC offset"),
        (("--patient", " "), "patient must be a name"),
        (("--format", "pdf"), "invalid choice: 'pdf'"),
        (("--locale", "de DE"), "locale must be"),
        (("--timezone", "Mars/Base"), "unknown time zone 'Mars/Base'"),
        (("--ruleset", "/no/such/file.toml"), "cannot read file"),
    ],
)
def test_cli_sheet_bad_input_exits_2_with_one_line(extra: tuple[str, ...], message: str) -> None:
    code, out, err = _run("sheet", *ENDED, *extra)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("ketamine-guidance: error: ")
    assert message in err


def test_the_clock_change_sentence_in_german() -> None:
    pytest.importorskip("babel")
    ended = dt.datetime(2026, 3, 28, 20, 0, tzinfo=UTC)  # Sat 28 Mar, 21:00 CET
    plan = plan_for(Session(ended, "Europe/Berlin"), small_ruleset())
    sheet = _flat(render_sheet(plan, locale="de_DE"))
    assert "Am So., 29. März 2026 wird die Uhr umgestellt." in sheet
    assert "- Driving: Nicht vor So., 29. März 2026, 06:00 CEST." in sheet
