"""Clinical safety (issue 11): the patient's zone always named, overrides scoped, ordered
and attributed, the default's readings on the safe side.

Each named case is one a clinical-safety review found; docs/explanation/hazards.md
names the tests here that would fail if the hazard came back.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zoneinfo
from pathlib import Path
from typing import Any

import attrs
import pytest
import pytz
from dateutil import tz as dateutil_tz
from hypothesis import given
from hypothesis import strategies as st

import ketamine_guidance as kg
from ketamine_guidance import (
    AftercarePlan,
    GuidanceError,
    MissingTimezoneError,
    NaiveDatetimeError,
    Override,
    OverrideError,
    Session,
    SheetWarning,
    Status,
    UnknownActivityError,
    UnknownTimezoneError,
    default_ruleset,
    plan_for,
    plan_for_course,
    render_sheet,
)
from ketamine_guidance._cli import main
from ketamine_guidance._formats.text import format_local
from tests.strategies import instants, zones

UTC = dt.timezone.utc
NY = zoneinfo.ZoneInfo("America/New_York")
PERMITTED, CAUTION, NOT_PERMITTED = (
    Status.PERMITTED,
    Status.PERMITTED_WITH_CAUTION,
    Status.NOT_PERMITTED,
)
#: The default's "until the next day" rules (and hard exercise, read the same way).
NEXT_DAY_RULES = (
    "driving",
    "operating_heavy_machinery",
    "important_decisions",
    "vigorous_physical_activity",
    "alcohol",
    "regular_diet",
    "sedative_medications",
    "prescription_pain_medication",
)
ISO_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def utc(  # noqa: PLR0917  (a datetime's own fields)
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


# --- Zones: always the patient's, always named ---------------------------------------


def test_honolulu_driving_is_not_permitted_on_the_evening_of_the_session() -> None:
    # Ended 13:30 in Honolulu; 06:00 UTC the next day is 20:00 the same evening there.
    argv = ("check", "driving", "--ended-at", "2026-11-25T23:30:00Z")
    status, out, err = run(*argv, "--at", "2026-11-26T06:00:00Z")
    assert (status, out) == (2, "")
    assert err.count("\n") == 1
    assert "--timezone" in err
    status, out, _ = run(*argv, "--at", "2026-11-26T06:00:00Z", "--timezone", "Pacific/Honolulu")
    assert status == 1
    assert out.startswith("Driving: not permitted")
    session = Session(utc(2026, 11, 25, 23, 30), "Pacific/Honolulu")
    assert plan_for(session).is_permitted("driving", utc(2026, 11, 26, 6)) is False


@pytest.mark.parametrize("command", ["plan", "check", "sheet", "export"])
def test_every_session_command_needs_the_timezone(command: str) -> None:
    extra = {"check": ["driving", "--at", "2026-11-26T06:00:00Z"], "export": ["--format", "json"]}
    argv = [command, *extra.get(command, []), "--ended-at", "2026-11-25T23:30:00Z"]
    status, out, err = run(*argv)
    assert (status, out) == (2, "")
    assert err == (
        f"ketamine-guidance: error: {command} needs --timezone, the patient's IANA time zone "
        "(such as America/New_York)\n"
    )
    assert run(*argv, "--timezone", "America/New_York")[0] in {0, 1}


def _fixed_zones() -> list[Any]:
    return [
        UTC,
        dt.timezone(dt.timedelta(hours=-5)),
        zoneinfo.ZoneInfo("UTC"),
        zoneinfo.ZoneInfo("Etc/UTC"),
        zoneinfo.ZoneInfo("Etc/GMT+5"),
        zoneinfo.ZoneInfo("EST"),
        pytz.utc,
        pytz.FixedOffset(-300),
        pytz.timezone("EST"),
        dateutil_tz.tzutc(),
        dateutil_tz.tzoffset("EST", -5 * 3600),
        dateutil_tz.gettz("UTC"),
    ]


@pytest.mark.parametrize("tz", _fixed_zones(), ids=repr)
def test_a_utc_or_fixed_offset_end_without_a_zone_is_refused(tz: Any) -> None:
    ended = utc(2026, 11, 25, 23, 30).astimezone(tz)
    with pytest.raises(MissingTimezoneError, match="pass the patient's zone") as info:
        Session(ended)
    assert isinstance(info.value, GuidanceError)
    assert isinstance(info.value, ValueError)
    # An explicit zone is a choice: UTC too.
    assert Session(ended, "UTC").zone_name == "UTC"
    assert Session(ended, tz).ended_at_utc == utc(2026, 11, 25, 23, 30)
    assert Session(ended, "America/New_York").zone_name == "America/New_York"


@pytest.mark.parametrize(
    "tz",
    [
        NY,
        pytz.timezone("America/New_York"),
        dateutil_tz.gettz("America/New_York"),
        zoneinfo.ZoneInfo("US/Eastern"),
    ],
    ids=repr,
)
def test_a_region_zone_on_the_end_is_enough(tz: Any) -> None:
    local = dt.datetime(2026, 11, 25, 18, 30)
    ended = tz.localize(local) if hasattr(tz, "localize") else local.replace(tzinfo=tz)
    session = Session(ended)
    assert session.ended_at_utc == utc(2026, 11, 25, 23, 30)
    assert isinstance(session.timezone, zoneinfo.ZoneInfo)  # read through zoneinfo


def test_a_naive_end_is_refused_as_naive_first() -> None:
    with pytest.raises(NaiveDatetimeError):
        Session(dt.datetime(2026, 11, 25, 23, 30))


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("EST", "America/New_York"),
        ("MST", "America/Denver"),
        ("HST", "Pacific/Honolulu"),
        ("Etc/GMT+5", "America/New_York"),
        ("Etc/GMT-14", "America/New_York"),
    ],
)
def test_fixed_offset_names_that_read_like_regions_are_refused(name: str, suggestion: str) -> None:
    with pytest.raises(UnknownTimezoneError, match=f"fixed UTC offset.*such as '{suggestion}'"):
        Session(utc(2026, 11, 25, 23, 30), name)
    status, _, err = run("plan", "--ended-at", "2026-11-25T23:30:00Z", "--timezone", name)
    assert status == 2
    assert err.count("\n") == 1
    assert "give the patient's region" in err


@pytest.mark.parametrize(
    "name", ["right/America/New_York", "posix/America/New_York", "america/new_york", "localtime"]
)
def test_names_the_tz_database_does_not_list_are_refused(name: str) -> None:
    with pytest.raises(UnknownTimezoneError, match=f"unknown time zone {name!r}"):
        Session(utc(2026, 11, 25, 23, 30), name)


def test_a_dateutil_right_zone_is_refused_not_misread() -> None:
    right = dateutil_tz.gettz("/usr/share/zoneinfo/right/America/New_York")
    if right is None:  # pragma: no cover (a tz database without leap-second zones)
        pytest.skip("this machine's tz database has no right/ zones")
    with pytest.raises(UnknownTimezoneError, match="right/America/New_York"):
        Session(utc(2026, 11, 25, 23, 30), right)


def test_pytz_after_2037_answers_as_zoneinfo() -> None:
    # pytz's table ends in 2037; read by its name through zoneinfo it keeps the rules.
    sydney = pytz.timezone("Australia/Sydney")
    ended = utc(2040, 7, 1, 8)  # 18:00 AEST, in the southern winter
    zoneinfo_plan = plan_for(Session(ended, "Australia/Sydney"))
    for session in (Session(ended, sydney), Session(ended.astimezone(sydney))):
        assert isinstance(session.timezone, zoneinfo.ZoneInfo)
        decision = plan_for(session).check("driving", ended)
        assert decision.permitted_from_utc == utc(2040, 7, 1, 20)  # 06:00 AEST on 2 July
        assert plan_for(session).timeline() == zoneinfo_plan.timeline()


# --- Overrides: scoped, ordered, attributed -------------------------------------------


def test_a_course_override_does_not_carry_into_the_next_session() -> None:
    s1 = Session(utc(2026, 11, 23, 23, 30), "America/New_York")  # Mon 18:30 EST
    s2 = Session(utc(2026, 11, 25, 23, 30), "America/New_York")  # Wed 18:30 EST
    after_s1 = utc(2026, 11, 24, 11)  # 06:00 EST on Tuesday
    course = plan_for_course([s1, s2]).with_override(
        "driving", status=PERMITTED, effective_from=after_s1, clinician="Dr Rivera"
    )
    assert course.is_permitted("driving", after_s1)
    fifteen_after_s2 = utc(2026, 11, 25, 23, 45)
    decision = course.check("driving", fifteen_after_s2)
    assert decision.status is NOT_PERMITTED
    assert decision.override is None
    assert decision.permitted_from_utc == utc(2026, 11, 26, 11)
    # ``until`` earlier than the next session ends it there.
    short = plan_for_course([s1, s2]).with_override(
        "driving",
        status=NOT_PERMITTED,
        effective_from=after_s1,
        until=utc(2026, 11, 24, 17),
        clinician="Dr Rivera",
    )
    assert short.is_permitted("driving", utc(2026, 11, 24, 16, 59)) is False
    assert short.is_permitted("driving", utc(2026, 11, 24, 17)) is True


def test_a_later_restriction_beats_an_earlier_permission() -> None:
    plan = plan_for(Session(utc(2026, 11, 25, 23, 30), "America/New_York"))
    permission = plan.with_override(
        "sedative_medications",
        status=PERMITTED,
        effective_from=utc(2026, 11, 26, 6),  # 01:00 EST
        clinician="Dr Rivera",
        note="Needs a sleeping pill tonight.",
    )
    restricted = permission.with_override(
        "sedative_medications",
        status=NOT_PERMITTED,
        effective_from=utc(2026, 11, 26, 5, 30),  # 00:30 EST
        clinician="Nurse Kim",
        note="Took a benzodiazepine at home.",
    )
    for at in (utc(2026, 11, 26, 5, 30), utc(2026, 11, 26, 6), utc(2026, 11, 26, 12)):
        decision = restricted.check("sedative_medications", at)
        assert decision.status is NOT_PERMITTED
        assert decision.override is not None
        assert decision.override.clinician == "Nurse Kim"
    assert restricted.check("sedative_medications", utc(2026, 11, 26, 6)).permitted_from_utc is None
    # Made the other way round, the permission is the later decision and wins from 01:00.
    other = plan.with_override(
        "sedative_medications",
        status=NOT_PERMITTED,
        effective_from=utc(2026, 11, 26, 5, 30),
        clinician="Nurse Kim",
    ).with_override(
        "sedative_medications",
        status=PERMITTED,
        effective_from=utc(2026, 11, 26, 6),
        clinician="Dr Rivera",
        note="Reviewed: safe tonight.",
    )
    assert other.is_permitted("sedative_medications", utc(2026, 11, 26, 5, 59)) is False
    assert other.is_permitted("sedative_medications", utc(2026, 11, 26, 6)) is True


@pytest.mark.parametrize(
    "clinician", [".", "\u200b", " - ", "\u00ad", "\u202e\u202c", "\ufeff", "\u2060\u200d", ""]
)
def test_a_clinician_must_be_named_with_a_letter_or_digit(clinician: str) -> None:
    plan = plan_for(Session(utc(2026, 11, 25, 23, 30), "America/New_York"))
    with pytest.raises(OverrideError, match="clinician must name who made the override"):
        plan.with_override(
            "recreational_drugs",
            status=PERMITTED,
            effective_from=utc(2026, 11, 26),
            clinician=clinician,
            note="x",
        )


def test_override_fields_are_checked() -> None:
    plan = plan_for(Session(utc(2026, 11, 25, 23, 30), "America/New_York"))
    base: dict[str, Any] = {
        "status": NOT_PERMITTED,
        "effective_from": utc(2026, 11, 26),
        "clinician": "Dr A",
    }
    with pytest.raises(OverrideError, match="at most 200 characters, not 201"):
        plan.with_override("driving", **{**base, "clinician": "A" * 201})
    assert plan.with_override("driving", **{**base, "clinician": "A" * 200}).overrides
    assert plan.with_override("driving", **{**base, "clinician": "李医生"}).overrides
    with pytest.raises(TypeError, match="clinician must be a str"):
        plan.with_override("driving", **{**base, "clinician": 7})
    with pytest.raises(TypeError, match="note must be a str, not bytes"):
        plan.with_override("driving", **{**base, "note": b"x"})
    with pytest.raises(TypeError, match="clinician_id must be a str"):
        plan.with_override("driving", **{**base, "clinician_id": 1234567890})
    with pytest.raises(OverrideError, match=r"until \(.*\) must be after effective_from"):
        plan.with_override("driving", **{**base, "until": utc(2026, 11, 26)})
    with pytest.raises(NaiveDatetimeError, match="until is naive"):
        plan.with_override("driving", **{**base, "until": dt.datetime(2026, 11, 27)})
    by_value = plan.with_override("driving", **{**base, "status": "not_permitted"})
    assert by_value.overrides[0].status is NOT_PERMITTED


def test_widening_a_fixed_rule_needs_a_clinical_reason() -> None:
    plan = plan_for(Session(utc(2026, 11, 25, 23, 30), "America/New_York"))
    when = utc(2026, 11, 26, 1)
    for note in ("", "   "):
        with pytest.raises(OverrideError, match="'recreational_drugs' is not clinician-adjustable"):
            plan.with_override(
                "recreational_drugs",
                status=PERMITTED,
                effective_from=when,
                clinician="Dr A",
                note=note,
            )
    with pytest.raises(OverrideError, match="from not permitted to permitted with caution"):
        plan.with_override("driving", status=CAUTION, effective_from=when, clinician="Dr A")
    # Tightening never needs one; neither does an adjustable rule, nor a rule already lifted.
    plan.with_override("regular_diet", status=NOT_PERMITTED, effective_from=when, clinician="A")
    plan.with_override("drinking_water", status=CAUTION, effective_from=when, clinician="A")
    plan.with_override(
        "prescription_pain_medication", status=PERMITTED, effective_from=when, clinician="A"
    )
    plan.with_override("driving", status=PERMITTED, effective_from=utc(2026, 11, 27), clinician="A")
    course = plan_for_course([plan.session])
    with pytest.raises(OverrideError, match="needs a note giving the clinical reason"):
        course.with_override("alcohol", status=PERMITTED, effective_from=when, clinician="Dr A")
    course.with_override(
        "alcohol", status=PERMITTED, effective_from=utc(2026, 11, 27), clinician="A"
    )


def test_an_override_reads_in_the_patients_words_not_iso_text() -> None:
    # Ended 18:30 EST on Sat 7 Mar 2026; the change applies from 20:00 local.
    plan = plan_for(Session(utc(2026, 3, 7, 23, 30), "America/New_York")).with_override(
        "recreational_drugs",
        status=PERMITTED,
        effective_from=dt.datetime(2026, 3, 7, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        until=utc(2026, 3, 8, 16, 0, 30),
        clinician="Dr. Ana Rivera",
        clinician_id="Practitioner/ana-rivera",
        note="Prescribed cannabis oil, as agreed.",
    )
    decision = plan.check("recreational_drugs", utc(2026, 3, 8, 2))
    assert decision.status is PERMITTED
    assert decision.reason == (
        "Dr. Ana Rivera changed this to permitted from Sat 7 Mar 2026, 20:00 EST "
        "until Sun 8 Mar 2026, 12:00 EDT. Prescribed cannabis oil, as agreed."
    )  # the permission ends at 12:00:30: shown ending at 12:00, never later (H38)
    assert not ISO_TEXT.search(decision.reason)
    assert "Do not take them" not in decision.reason
    assert decision.override is not None
    assert decision.override.clinician_id == "Practitioner/ana-rivera"
    # From ``until`` on, the rule applies again, with its own reason.
    after = plan.check("recreational_drugs", utc(2026, 3, 8, 16, 0, 30))
    assert (after.status, after.override) == (NOT_PERMITTED, None)
    assert after.reason == default_ruleset().rule("recreational_drugs").reason
    assert after.permitted_from_utc is None


def test_the_sheet_does_not_show_the_rules_reason_as_the_answer_under_a_change() -> None:
    ruleset = attrs.evolve(default_ruleset(), contact="Call the clinic on 555-0100.")
    session = Session(utc(2026, 11, 25, 23, 30), "America/New_York")
    plan = plan_for(session, ruleset).with_override(
        "recreational_drugs",
        status=PERMITTED,
        effective_from=utc(2026, 11, 26, 1),
        clinician="Dr. Ana Rivera",
        note="Prescribed cannabis oil, as agreed.",
    )
    sheet = render_sheet(plan, now=utc(2026, 11, 26, 2))
    right_now = sheet[sheet.index("Right now") : sheet.index("Not allowed yet")]
    assert "Taking recreational drugs" not in right_now  # allowed now, so not listed
    entry = sheet[sheet.index("- Taking recreational drugs") : sheet.index("- Driving: Not before")]
    flat = " ".join(entry.split())
    assert "Usual advice: Street and party drugs" in flat
    assert "Changed by Dr. Ana Rivera: allowed from Wed 25 Nov 2026, 20:00 EST." in flat
    assert flat.index("Changed by") > flat.index("Usual advice")
    limited = plan.with_override(
        "regular_diet",
        status=CAUTION,
        effective_from=utc(2026, 11, 26, 1),
        clinician="Dr B",
        until=utc(2026, 11, 26, 9, 0, 30),
    )
    text = " ".join(render_sheet(limited).split())
    assert "Usual advice: Start with mild food" in text
    # The end of the change is shown rounded up, never earlier than true.
    assert "from Wed 25 Nov 2026, 20:00 EST until Thu 26 Nov 2026, 04:01 EST." in text


def test_stored_overrides_of_unknown_activities_are_refused() -> None:
    session = Session(utc(2026, 11, 25, 23, 30), "America/New_York")
    stored = Override(
        activity="flying", status=PERMITTED, effective_from=utc(2026, 11, 26), clinician="Dr A"
    )
    with pytest.raises(UnknownActivityError, match="unknown activity 'flying'"):
        AftercarePlan(session, default_ruleset(), (stored,))
    with pytest.raises(UnknownActivityError):
        kg.CoursePlan([session], default_ruleset(), (stored,))
    with pytest.raises(TypeError, match="overrides must hold Override objects, not str"):
        AftercarePlan(session, default_ruleset(), ("driving",))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="overrides must hold Override objects, not str"):
        kg.CoursePlan([session], default_ruleset(), ("driving",))  # type: ignore[arg-type]


def test_permitted_from_accounts_for_until() -> None:
    plan = plan_for(Session(utc(2026, 11, 25, 23, 30), "America/New_York"))
    later = plan.with_override(
        "driving",
        status=NOT_PERMITTED,
        effective_from=utc(2026, 11, 26, 11),
        until=utc(2026, 11, 26, 17),
        clinician="Dr A",
    )
    decision = later.check("driving", utc(2026, 11, 26, 12))
    assert decision.status is NOT_PERMITTED
    assert decision.permitted_from_utc == utc(2026, 11, 26, 17)
    entry = next(e for e in later.timeline() if e.activity == "driving")
    assert entry.permitted_from_utc == utc(2026, 11, 26, 17)
    # A permission with an end does not move permitted_from before the rule's lift.
    brief = plan.with_override(
        "driving",
        status=PERMITTED,
        effective_from=utc(2026, 11, 26, 1),
        until=utc(2026, 11, 26, 2),
        clinician="Dr A",
        note="A short drive to the pharmacy.",
    )
    assert brief.is_permitted("driving", utc(2026, 11, 26, 1, 30)) is True
    assert brief.is_permitted("driving", utc(2026, 11, 26, 2)) is False
    assert brief.check("driving", utc(2026, 11, 26, 1)).permitted_from_utc == utc(2026, 11, 26, 11)


# --- The default ruleset's readings ---------------------------------------------------


def test_a_session_ending_at_2359_lifts_eight_hours_later() -> None:
    ended = dt.datetime(2026, 11, 25, 23, 59, tzinfo=NY)
    plan = plan_for(Session(ended))
    for activity in NEXT_DAY_RULES:
        decision = plan.check(activity, ended)
        assert decision.permitted_from is not None
        assert decision.permitted_from.isoformat() == "2026-11-26T07:59:00-05:00", activity
    # Earlier in the evening, 06:00 is later than 8 hours: the next morning governs.
    early = plan_for(Session(dt.datetime(2026, 11, 25, 18, 30, tzinfo=NY)))
    assert early.check("driving", utc(2026, 11, 25, 23, 30)).permitted_from_utc == utc(
        2026, 11, 26, 11
    )


def test_hard_exercise_is_not_permitted_until_the_same_lift_as_driving() -> None:
    plan = plan_for(Session(dt.datetime(2026, 11, 25, 18, 30, tzinfo=NY)))
    ended = utc(2026, 11, 25, 23, 30)
    exercise = plan.check("vigorous_physical_activity", ended)
    assert exercise.status is NOT_PERMITTED
    assert exercise.permitted_from_utc == plan.check("driving", ended).permitted_from_utc


def test_the_default_texts_name_exceptions_when_to_call_and_where_to_look() -> None:
    ruleset = default_ruleset()
    medicines = ruleset.rule("regular_medications").reason
    assert "sedatives" in medicines
    assert "prescription pain medicine" in medicines
    sleepy = next(a for a in ruleset.advice if a.id == "sleepy_and_tired")
    assert any("next morning" in a and "call your clinic" in a for a in sleepy.actions)
    settle = next(a for a in ruleset.advice if a.id == "let_it_settle")
    assert f'"{settle.title}"' in ruleset.rule("important_decisions").reason


def test_caution_reads_take_care_until_and_never_lifting_says_no_end() -> None:
    status, out, _ = run(
        "plan", "--ended-at", "2026-11-25T23:30:00Z", "--timezone", "America/New_York"
    )
    assert status == 0
    assert (
        "Eating your usual food             take care until Thu 26 Nov 2026, 06:00 EST; "
        "after that permitted"
    ) in out
    assert "permitted with caution until" not in out
    assert "Taking recreational drugs          not permitted; no end is given\n" in out
    assert "clinician" not in out
    status, out, _ = run(
        "check",
        "regular_diet",
        "--ended-at",
        "2026-11-25T23:30:00Z",
        "--timezone",
        "America/New_York",
        "--at",
        "2026-11-26T00:00:00Z",
    )
    expected = (
        "Eating your usual food: permitted with caution (take care until Thu 26 Nov 2026, "
        "06:00 EST; after that permitted)"
    )
    assert (status, out.split(". ")[0]) == (0, expected)
    with pytest.warns(SheetWarning, match="no contact line"):
        sheet = render_sheet(plan_for(Session(utc(2026, 11, 25, 23, 30), "America/New_York")))
    assert "No end is given." in sheet
    assert "clinician can lift" not in sheet


def test_a_lift_at_233059_is_shown_as_2331() -> None:
    moment = dt.datetime(2026, 11, 26, 23, 30, 59, tzinfo=NY)
    assert format_local(moment) == "Thu 26 Nov 2026, 23:31 EST"
    assert format_local(moment.replace(second=0)) == "Thu 26 Nov 2026, 23:30 EST"
    assert format_local(moment.replace(second=0, microsecond=1)) == "Thu 26 Nov 2026, 23:31 EST"
    # 23:59:30 rounds into the next day, and across a DST change into the new offset.
    assert format_local(dt.datetime(2026, 12, 31, 23, 59, 30, tzinfo=NY)) == (
        "Fri 1 Jan 2027, 00:00 EST"
    )
    assert format_local(dt.datetime(2026, 3, 8, 1, 59, 30, tzinfo=NY)) == (
        "Sun 8 Mar 2026, 03:00 EDT"
    )


def test_a_lift_with_seconds_is_shown_rounded_up_by_the_cli(tmp_path: Path) -> None:
    data: dict[str, Any] = {
        "id": "r",
        "version": "1",
        "title": "R",
        "rules": [
            {
                "activity": "driving",
                "label": "Driving",
                "until": {"hours": 5},
                "reason": "Wait.",
                "source": {"title": "t", "section": "s"},
            }
        ],
    }
    rules = kg.Ruleset.from_dict(data)
    plan = plan_for(Session(dt.datetime(2026, 11, 26, 18, 30, 59, tzinfo=NY)), rules)
    decision = plan.check("driving", utc(2026, 11, 26, 23, 30, 59))
    assert decision.permitted_from is not None
    assert decision.permitted_from.isoformat() == "2026-11-26T23:30:59-05:00"
    assert format_local(decision.permitted_from) == "Thu 26 Nov 2026, 23:31 EST"
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    status, out, _ = run(
        "plan",
        "--ended-at",
        "2026-11-26T18:30:59-05:00",
        "--timezone",
        "America/New_York",
        "--ruleset",
        str(path),
    )
    assert status == 0
    assert "Driving  not permitted until Thu 26 Nov 2026, 23:31 EST\n" in out


# --- Properties ------------------------------------------------------------------------


@given(ended=instants, tz=zones)
def test_no_next_day_rule_lifts_before_eight_hours_nor_before_the_next_local_0600(
    ended: dt.datetime, tz: dt.tzinfo
) -> None:
    plan = plan_for(Session(ended, tz))
    local_day = ended.astimezone(tz).date()
    morning = dt.datetime.combine(local_day + dt.timedelta(days=1), dt.time(6))
    for activity in NEXT_DAY_RULES:
        lift = plan.check(activity, ended).permitted_from_utc
        assert lift is not None
        assert lift >= ended + dt.timedelta(hours=8)
        # Read on the wall clock: the lift is never before the next day's 06:00.
        assert lift.astimezone(tz).replace(tzinfo=None) >= morning


_statuses = st.sampled_from(list(Status))


@given(
    ended=instants,
    specs=st.lists(
        st.tuples(_statuses, st.integers(-300, 3000), st.none() | st.integers(1, 3000)),
        min_size=1,
        max_size=5,
    ),
    probe=st.integers(0, 6000),
)
def test_the_override_added_last_wins(
    ended: dt.datetime, specs: list[tuple[Status, int, int | None]], probe: int
) -> None:
    plan = plan_for(Session(ended, "Europe/London"))
    for i, (status, start, length) in enumerate(specs):
        begin = ended + dt.timedelta(minutes=start)
        plan = plan.with_override(
            "alcohol",
            status=status,
            effective_from=begin,
            until=None if length is None else begin + dt.timedelta(minutes=length),
            clinician=f"Dr {i}",
            note="reviewed",
        )
    at = ended + dt.timedelta(minutes=probe)
    in_force = [
        o
        for o in plan.overrides
        if max(o.effective_from_utc, ended) <= at and (o.until_utc is None or at < o.until_utc)
    ]
    decision = plan.check("alcohol", at)
    if in_force:
        assert decision.override is in_force[-1]
        assert decision.status is in_force[-1].status
    else:
        assert decision.override is None


@given(
    first=instants,
    gaps=st.lists(st.integers(60, 4000), min_size=1, max_size=3),
    specs=st.lists(st.tuples(_statuses, st.integers(-600, 9000)), min_size=1, max_size=3),
    probes=st.lists(st.integers(0, 12000), min_size=1, max_size=5),
)
def test_no_override_outlives_the_next_session_of_a_course(
    first: dt.datetime, gaps: list[int], specs: list[tuple[Status, int]], probes: list[int]
) -> None:
    ends = [first]
    for gap in gaps:
        ends.append(ends[-1] + dt.timedelta(minutes=gap))
    course = plan_for_course([Session(e, "America/New_York") for e in ends])
    for i, (status, start) in enumerate(specs):
        course = course.with_override(
            "driving",
            status=status,
            effective_from=first + dt.timedelta(minutes=start),
            clinician=f"Dr {i}",
            note="reviewed",
        )
    for probe in probes:
        at = first + dt.timedelta(minutes=probe)
        decision = course.check("driving", at)
        if decision.override is None:
            continue
        (made,) = [o for o in course.overrides if o.clinician == decision.override.clinician]
        begun = max(made.effective_from_utc, ends[0])
        later = [e for e in ends if e > begun]
        assert not later or at < later[0], "an override carried into the next session"


def test_zones_without_a_name_are_a_choice_but_never_a_default() -> None:
    path = Path(zoneinfo.TZPATH[0]) / "America" / "New_York" if zoneinfo.TZPATH else None
    if path is None or not path.exists():  # pragma: no cover (no system tz database)
        pytest.skip("no system tz database to read a zone file from")
    with path.open("rb") as file:
        from_file = zoneinfo.ZoneInfo.from_file(file)
    ended = utc(2026, 11, 25, 23, 30).astimezone(from_file)
    with pytest.raises(MissingTimezoneError):
        Session(ended)
    assert Session(ended, from_file).timezone is from_file


def test_a_dateutil_bundled_zone_is_read_by_its_name() -> None:
    from dateutil.zoneinfo import get_zonefile_instance

    bundled = get_zonefile_instance().get("America/New_York")
    assert bundled is not None
    session = Session(dt.datetime(2026, 11, 25, 18, 30, tzinfo=bundled))
    assert session.timezone is zoneinfo.ZoneInfo("America/New_York")
