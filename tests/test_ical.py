"""iCalendar reminders: parsed back, each event starts at the instant its restriction lifts."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import icalendar
import pytest

from ketamine_guidance import (
    AftercarePlan,
    MissingExtraError,
    Ruleset,
    Session,
    Status,
    plan_for,
    to_ical,
)
from tests.interop_fixtures import FOLD_DATA, UTC, clinic_plan


def _events(plan: AftercarePlan) -> dict[str, Any]:
    calendar = icalendar.Calendar.from_ical(to_ical(plan))
    return {str(e["uid"]).split("-")[0]: e for e in calendar.walk("VEVENT")}


def _expected(plan: AftercarePlan) -> dict[str, dt.datetime]:
    return {
        e.activity: e.permitted_from_utc
        for e in plan.timeline()
        if e.status_until_lift is not Status.PERMITTED and e.permitted_from_utc is not None
    }


def _starts(plan: AftercarePlan) -> dict[str, dt.datetime]:
    return {a: e.decoded("dtstart") for a, e in _events(plan).items()}


def test_one_event_per_lifting_restriction_at_its_instant() -> None:
    plan = clinic_plan()
    starts = _starts(plan)
    assert set(starts) == {"driving", "sedative_medications", "exercise", "flying"}
    assert starts == _expected(plan)  # aware datetimes compare as instants
    events = _events(plan)
    assert str(events["driving"]["summary"]) == "Driving is permitted again"
    assert str(events["exercise"]["summary"]) == "Exercise: no more need for extra care"
    assert events["driving"]["dtstart"].params["TZID"] == "America/New_York"
    assert events["driving"].decoded("dtstart").tzinfo.key == "America/New_York"
    assert len(events["driving"].walk("VALARM")) == 1


def test_the_session_zone_is_a_vtimezone() -> None:
    calendar = icalendar.Calendar.from_ical(to_ical(clinic_plan("Europe/Paris")))
    assert [str(tz["tzid"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    assert str(calendar["version"]) == "2.0"


@pytest.mark.parametrize(
    ("ended", "zone"),
    [
        # Across the spring change: 24 elapsed hours are 25 wall-clock hours later.
        (dt.datetime(2026, 3, 7, 23, 0, tzinfo=UTC), "America/New_York"),
        (dt.datetime(2026, 3, 28, 20, 0, tzinfo=UTC), "Europe/London"),
        # Across the autumn change, and in a zone with a 30-minute DST shift.
        (dt.datetime(2026, 10, 31, 20, 0, tzinfo=UTC), "America/New_York"),
        (dt.datetime(2026, 4, 4, 10, 0, tzinfo=UTC), "Australia/Lord_Howe"),
    ],
)
def test_events_across_a_dst_change(ended: dt.datetime, zone: str) -> None:
    plan = clinic_plan(zone)
    plan = plan_for(Session(ended, zone), plan.ruleset)
    assert _starts(plan) == _expected(plan)


def test_a_lift_inside_a_fold_is_written_in_utc() -> None:
    plan = plan_for(
        Session(dt.datetime(2026, 10, 31, 20, 0, tzinfo=UTC), "America/New_York"),
        Ruleset.from_dict(FOLD_DATA),
    )
    events = _events(plan)
    start = events["driving"].decoded("dtstart")
    # 01:30 on 1 November happens twice in New York; the later, EST one is meant.
    assert start == dt.datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    assert start.utcoffset() == dt.timedelta(0)
    assert "TZID" not in events["driving"]["dtstart"].params
    assert b"DTSTART:20261101T063000Z" in to_ical(plan)
    # The other event is unambiguous and keeps the zone.
    assert events["alcohol"]["dtstart"].params["TZID"] == "America/New_York"
    assert _starts(plan) == _expected(plan)


def test_a_zone_without_a_name_is_written_in_utc() -> None:
    tz = dt.timezone(dt.timedelta(hours=5, minutes=30))
    plan = plan_for(
        Session(dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC), tz), clinic_plan().ruleset
    )
    calendar = icalendar.Calendar.from_ical(to_ical(plan))
    assert calendar.walk("VTIMEZONE") == []
    assert _starts(plan) == _expected(plan)
    utc_plan = plan_for(Session(dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC), "UTC"), plan.ruleset)
    assert _starts(utc_plan) == _expected(utc_plan)


def test_output_is_the_same_for_the_same_plan() -> None:
    plan = clinic_plan()
    assert to_ical(plan) == to_ical(clinic_plan())
    stamped = to_ical(plan, stamp=dt.datetime(2026, 12, 1, 9, tzinfo=UTC))
    assert b"DTSTAMP:20261201T090000Z" in stamped


def test_only_never_lifting_restrictions_give_an_empty_calendar() -> None:
    ruleset = Ruleset.from_dict(
        {**FOLD_DATA, "rules": [{**FOLD_DATA["rules"][0], "until": "never"}]}
    )
    plan = plan_for(Session(dt.datetime(2026, 10, 31, 20, tzinfo=UTC), "America/New_York"), ruleset)
    assert icalendar.Calendar.from_ical(to_ical(plan)).walk("VEVENT") == []


def test_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "icalendar", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'ketamine-guidance\[ical\]'"):
        to_ical(clinic_plan())


def test_only_plans_are_accepted() -> None:
    with pytest.raises(TypeError, match="plan must be an AftercarePlan"):
        to_ical("plan")  # type: ignore[arg-type]
