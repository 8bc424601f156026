"""Plans: the default ruleset's answers, exact boundaries, overrides, and fail-closed."""

from __future__ import annotations

import datetime as dt
import pickle
import zoneinfo
from typing import Any

import pytest
import pytz
from dateutil import tz as dateutil_tz
from hypothesis import assume, given
from hypothesis import strategies as st

from ketamine_guidance import (
    AftercarePlan,
    BeforeSessionEndError,
    GuidanceError,
    NaiveDatetimeError,
    OverrideError,
    Ruleset,
    Session,
    Status,
    UnknownActivityError,
    default_ruleset,
    plan_for,
)
from tests.strategies import instants, zones

UTC = dt.timezone.utc
NY = zoneinfo.ZoneInfo("America/New_York")
US = dt.timedelta(microseconds=1)
ENDED = dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC)  # 18:30 EST
NEXT_MORNING = dt.datetime(2026, 11, 26, 11, 0, tzinfo=UTC)  # 06:00 EST

RULESET = default_ruleset()
ACTIVITIES = RULESET.activities
NOT_PERMITTED = Status.NOT_PERMITTED
CAUTION = Status.PERMITTED_WITH_CAUTION
PERMITTED = Status.PERMITTED


@pytest.fixture
def plan() -> AftercarePlan:
    return plan_for(Session(ENDED, "America/New_York"))


# The default ruleset, activity by activity (the table of the core issue).

DEFAULT_TABLE = {
    "driving": (NOT_PERMITTED, True),
    "operating_heavy_machinery": (NOT_PERMITTED, True),
    "important_decisions": (NOT_PERMITTED, True),
    "alcohol": (NOT_PERMITTED, True),
    "sedative_medications": (NOT_PERMITTED, True),
    "prescription_pain_medication": (NOT_PERMITTED, True),
    "vigorous_physical_activity": (NOT_PERMITTED, True),
    "regular_diet": (CAUTION, True),
    "recreational_drugs": (NOT_PERMITTED, False),
    "drinking_water": (PERMITTED, False),
    "mild_food": (PERMITTED, False),
    "regular_medications": (PERMITTED, False),
}


def test_the_default_ruleset_has_exactly_the_documented_activities():
    assert set(ACTIVITIES) == set(DEFAULT_TABLE)
    assert RULESET.id == "default"


@pytest.mark.parametrize(("activity", "row"), DEFAULT_TABLE.items())
def test_default_ruleset_until_and_after_the_next_morning(plan, activity, row):
    before, lifts_next_morning = row
    just_before = plan.check(activity, NEXT_MORNING - US)
    at_lift = plan.check(activity, NEXT_MORNING)
    if activity == "recreational_drugs":
        assert just_before.status is at_lift.status is NOT_PERMITTED
        assert at_lift.permitted_from is None
        assert at_lift.permitted_from_utc is None
    elif lifts_next_morning:
        assert just_before.status is before
        assert at_lift.status is PERMITTED
        assert at_lift.permitted_from_utc == NEXT_MORNING
        assert at_lift.permitted_from.isoformat() == "2026-11-26T06:00:00-05:00"
    else:
        assert plan.check(activity, ENDED).status is PERMITTED
        assert at_lift.permitted_from_utc == ENDED


def test_prescription_pain_medication_is_the_clinician_adjustable_rule():
    adjustable = [r.activity for r in RULESET.rules if r.clinician_adjustable]
    assert adjustable == ["prescription_pain_medication"]


def test_every_default_rule_cites_the_article():
    for rule in RULESET.rules:
        assert rule.source.title == "So You Just Had A Ketamine Therapy Session – Now What?"
        assert rule.source.section


def test_decision_fields(plan):
    decision = plan.check("driving", ENDED)
    assert decision.activity == "driving"
    assert decision.label == "Driving"
    assert decision.permitted is False
    assert decision.override is None
    assert decision.session == plan.session
    assert "next day" in decision.reason
    assert plan.check("regular_diet", ENDED).permitted is True
    assert plan.check("vigorous_physical_activity", ENDED).permitted is False


def test_the_session_zone_decides_the_next_day():
    # 03:30 UTC on the 26th is still the 25th in Los Angeles and already the 26th in Berlin.
    ended = dt.datetime(2026, 11, 26, 3, 30, tzinfo=UTC)
    la = plan_for(Session(ended, "America/Los_Angeles")).check("driving", ended)
    berlin = plan_for(Session(ended, "Europe/Berlin")).check("driving", ended)
    assert la.permitted_from is not None
    assert berlin.permitted_from is not None
    assert la.permitted_from.isoformat() == "2026-11-26T06:00:00-08:00"
    assert berlin.permitted_from.isoformat() == "2026-11-27T06:00:00+01:00"


def test_decisions_at_gives_one_decision_per_activity_in_ruleset_order(plan):
    decisions = plan.decisions_at(NEXT_MORNING - US)
    assert tuple(d.activity for d in decisions) == ACTIVITIES
    assert decisions == tuple(plan.check(a, NEXT_MORNING - US) for a in ACTIVITIES)


def test_timeline_is_in_lift_order_with_never_last(plan):
    timeline = plan.timeline()
    assert len(timeline) == len(ACTIVITIES)
    lifts = [e.permitted_from_utc for e in timeline]
    assert lifts[-1] is None
    assert timeline[-1].activity == "recreational_drugs"
    assert lifts[:-1] == sorted(lifts[:-1])
    first = timeline[0]
    assert first.status_until_lift is PERMITTED
    assert first.permitted_from_utc == ENDED
    driving = next(e for e in timeline if e.activity == "driving")
    assert driving.status_until_lift is NOT_PERMITTED
    assert driving.label == "Driving"
    assert driving.permitted_from.isoformat() == "2026-11-26T06:00:00-05:00"


def test_timeline_orders_instants_not_wall_readings():
    """In a fold, 01:30 EST (second) is after 01:45 EDT (first); a wall-clock sort gets
    this wrong."""
    data = _ruleset_data(next_day_begins="01:30")
    data["rules"].append({**data["rules"][0], "activity": "b", "until": {"hours": 1}})
    ended = dt.datetime(2026, 11, 1, 4, 45, tzinfo=UTC) - dt.timedelta(hours=1)  # 23:45 EDT
    plan = plan_for(Session(ended, NY), Ruleset.from_dict(data))
    timeline = plan.timeline()
    assert [e.activity for e in timeline] == ["b", "a"]
    b, a = timeline
    assert a.permitted_from is not None
    assert b.permitted_from is not None
    assert (b.permitted_from.hour, b.permitted_from.minute) == (0, 45)
    assert (a.permitted_from.hour, a.permitted_from.minute, a.permitted_from.fold) == (1, 30, 1)


def _ruleset_data(**top: object) -> dict[str, Any]:
    return {
        "id": "t",
        "version": "1",
        "title": "Test",
        "rules": [
            {
                "activity": "a",
                "label": "A",
                "until": "next_day",
                "reason": "Because.",
                "source": {"title": "T", "section": "S"},
            }
        ],
        **top,
    }


# Errors: fail closed, refuse what cannot be answered.


def test_unknown_activity_raises_and_names_the_closest(plan):
    with pytest.raises(UnknownActivityError, match="did you mean 'driving'") as info:
        plan.is_permitted("drivng", NEXT_MORNING)
    assert "driving" in info.value.suggestions
    with pytest.raises(UnknownActivityError):
        plan.check("drivng", NEXT_MORNING)
    assert isinstance(info.value, LookupError)
    assert isinstance(info.value, GuidanceError)


def test_unknown_activity_with_no_close_match_lists_the_known_ones(plan):
    with pytest.raises(UnknownActivityError, match="known: alcohol, drinking_water, driving,"):
        plan.check("zzzzzzzz", NEXT_MORNING)


def test_an_activity_that_is_not_a_string_is_a_type_error_naming_it(plan):
    with pytest.raises(
        TypeError, match=r"^activity must be an activity id \(a string\), not list$"
    ):
        plan.is_permitted(["driving"], NEXT_MORNING)  # type: ignore[arg-type,unused-ignore]
    # check(at, "driving"): the arguments swapped
    with pytest.raises(TypeError, match=r"^activity must be .*, not datetime$"):
        plan.check(NEXT_MORNING, "driving")  # type: ignore[arg-type,unused-ignore]
    with pytest.raises(TypeError, match=r"^activity must be .*, not datetime$"):
        plan.is_permitted(NEXT_MORNING, "driving")  # type: ignore[arg-type,unused-ignore]


def test_at_before_the_session_end_is_refused(plan):
    with pytest.raises(BeforeSessionEndError, match="before the session ended"):
        plan.is_permitted("driving", ENDED - US)
    with pytest.raises(BeforeSessionEndError):
        plan.decisions_at(ENDED - US)
    assert plan.is_permitted("drinking_water", ENDED) is True


@pytest.mark.parametrize("method", ["is_permitted", "check"])
def test_naive_at_is_refused(plan, method):
    with pytest.raises(NaiveDatetimeError, match="at is naive"):
        getattr(plan, method)("driving", dt.datetime(2026, 11, 27, 12))


def test_at_must_be_a_datetime(plan):
    with pytest.raises(TypeError, match="at must be a timezone-aware datetime, not str"):
        plan.is_permitted("driving", "2026-11-27T12:00:00Z")


def test_plan_for_checks_its_arguments():
    with pytest.raises(TypeError, match="session must be a Session"):
        plan_for(ENDED)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ruleset must be a Ruleset"):
        plan_for(Session(ENDED, "America/New_York"), {"id": "x"})  # type: ignore[arg-type,unused-ignore]


def test_a_ruleset_not_yet_in_effect_is_refused():
    ruleset = Ruleset.from_dict(_ruleset_data(effective_from="2027-01-01"))
    with pytest.raises(GuidanceError, match="takes effect on 2027-01-01"):
        plan_for(Session(ENDED, NY), ruleset)
    later = dt.datetime(2027, 1, 1, 5, 0, tzinfo=UTC)  # 00:00 EST on the day it takes effect
    assert plan_for(Session(later, NY), ruleset).session.ended_at_utc == later


# Overrides.


def test_override_applies_from_its_instant_and_leaves_the_old_plan_alone(plan):
    effective = ENDED + dt.timedelta(hours=2)
    overridden = plan.with_override(
        "prescription_pain_medication",
        status=PERMITTED,
        effective_from=effective,
        clinician="Dr Rivera",
        note="Post-operative pain; low dose agreed.",
    )
    before = overridden.check("prescription_pain_medication", effective - US)
    after = overridden.check("prescription_pain_medication", effective)
    assert before.status is NOT_PERMITTED
    assert before.override is None
    assert after.status is PERMITTED
    assert after.override is not None
    assert after.override.clinician == "Dr Rivera"
    assert "Dr Rivera" in after.reason
    assert "low dose agreed" in after.reason
    assert after.permitted_from_utc == effective
    assert plan.check("prescription_pain_medication", effective).status is NOT_PERMITTED
    assert plan.overrides == ()
    assert overridden.timeline()[0].activity == "drinking_water"
    entry = next(e for e in overridden.timeline() if e.activity == "prescription_pain_medication")
    assert entry.overrides == overridden.overrides
    assert entry.permitted_from_utc == effective


def test_an_override_that_restricts_again_moves_permitted_from_to_never(plan):
    later = NEXT_MORNING + dt.timedelta(days=1)
    overridden = plan.with_override(
        "driving", status=NOT_PERMITTED, effective_from=later, clinician="Dr Okafor"
    )
    assert overridden.is_permitted("driving", NEXT_MORNING) is True
    assert overridden.is_permitted("driving", later - US) is True
    assert overridden.is_permitted("driving", later) is False
    decision = overridden.check("driving", NEXT_MORNING)
    assert decision.status is PERMITTED
    assert decision.permitted_from_utc is None
    assert overridden.check("driving", later).reason.endswith(".")


def test_an_override_can_lift_a_never_rule(plan):
    when = NEXT_MORNING + dt.timedelta(days=30)
    overridden = plan.with_override(
        "recreational_drugs",
        status=CAUTION,
        effective_from=when,
        clinician="Dr Lee",
        note="Reviewed at the clinic.",
    )
    assert overridden.check("recreational_drugs", when).status is CAUTION
    assert overridden.check("recreational_drugs", when).permitted_from_utc is None
    assert overridden.is_permitted("recreational_drugs", when) is True
    assert overridden.is_permitted("recreational_drugs", when - US) is False


def test_a_later_override_wins_and_an_early_one_applies_from_the_session_end(plan):
    overridden = plan.with_override(
        "driving",
        status=PERMITTED,
        effective_from=ENDED - dt.timedelta(days=1),
        clinician="A",
        note="Driven home by a friend; no driving needed.",
    ).with_override("driving", status=NOT_PERMITTED, effective_from=NEXT_MORNING, clinician="B")
    assert overridden.check("driving", ENDED).override.clinician == "A"
    assert overridden.check("driving", NEXT_MORNING).override.clinician == "B"
    assert overridden.is_permitted("driving", ENDED) is True
    assert overridden.is_permitted("driving", NEXT_MORNING) is False


def test_an_override_that_goes_permitted_then_caution_then_permitted(plan):
    one = ENDED + dt.timedelta(hours=1)
    two = ENDED + dt.timedelta(hours=2)
    overridden = plan.with_override(
        "alcohol", status=NOT_PERMITTED, effective_from=one, clinician="A"
    ).with_override("alcohol", status=PERMITTED, effective_from=two, clinician="B", note="n")
    assert overridden.check("alcohol", two).permitted_from_utc == two
    assert overridden.is_permitted("alcohol", two - US) is False


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"status": "allowed"}, OverrideError, "status must be a Status or one of 'permitted'"),
        ({"status": 1}, TypeError, "status must be a Status or one of 'permitted'"),
        ({"clinician": "  "}, ValueError, "clinician must name who made the override"),
        ({"effective_from": dt.datetime(2026, 11, 26)}, NaiveDatetimeError, "effective_from"),
    ],
)
def test_override_arguments_are_checked(plan, kwargs, error, message):
    arguments = {"status": PERMITTED, "effective_from": NEXT_MORNING, "clinician": "Dr A"}
    with pytest.raises(error, match=message):
        plan.with_override("driving", **{**arguments, **kwargs})


def test_override_of_an_unknown_activity_is_refused(plan):
    with pytest.raises(UnknownActivityError):
        plan.with_override("flying", status=PERMITTED, effective_from=ENDED, clinician="Dr A")


def test_plans_are_values(plan):
    again = plan_for(Session(ENDED, "America/New_York"))
    assert again == plan
    assert hash(again) == hash(plan)
    assert pickle.loads(pickle.dumps(plan)) == plan
    assert pickle.loads(pickle.dumps(plan)).check("driving", ENDED) == plan.check("driving", ENDED)


# Properties over every zone and session ends across 1900-2100.


@given(zone=zones, ended=instants, activity=st.sampled_from(ACTIVITIES))
def test_status_flips_exactly_at_permitted_from(zone, ended, activity):
    plan = plan_for(Session(ended, zone))
    lift = plan.check(activity, ended).permitted_from_utc
    if lift is None:
        assert not plan.is_permitted(activity, ended + dt.timedelta(days=3650))
        return
    at_lift = plan.check(activity, lift)
    assert at_lift.status is PERMITTED
    assert plan.is_permitted(activity, lift)
    if lift > ended:
        before = plan.check(activity, lift - US)
        assert before.status is RULESET.rule(activity).while_restricted
        assert plan.is_permitted(activity, lift - US) is before.permitted


@given(
    zone=zones,
    ended=instants,
    offsets=st.lists(st.integers(0, 3 * 86400 * 10**6), min_size=2, max_size=6),
)
def test_once_permitted_stays_permitted(zone, ended, offsets):
    plan = plan_for(Session(ended, zone))
    moments = sorted(ended + dt.timedelta(microseconds=o) for o in offsets)
    for activity in ACTIVITIES:
        answers = [plan.check(activity, m).status.restrictiveness for m in moments]
        assert answers == sorted(answers, reverse=True)


@given(
    zone=zones,
    ended=st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2037, 12, 1)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
    delay=st.integers(0, 3 * 86400 * 10**6),
    view=zones,
)
def test_the_same_instant_in_any_representation_gives_the_same_answer(zone, ended, delay, view):
    plan = plan_for(Session(ended, zone))
    at = ended + dt.timedelta(microseconds=delay)
    offset = at.astimezone(view).utcoffset()
    assert offset is not None
    key = view.key
    representations = [
        at,
        at.astimezone(dt.timezone(offset)),
        at.astimezone(view),
        at.astimezone(pytz.timezone(key)) if key in pytz.all_timezones_set else at,
        at.astimezone(dateutil_tz.gettz(key)),
    ]
    expected = plan.decisions_at(at)
    for moment in representations:
        assert plan.decisions_at(moment) == expected
        assert [plan.is_permitted(a, moment) for a in ACTIVITIES] == [d.permitted for d in expected]


@given(
    ended=st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2037, 12, 1)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
    name=st.sampled_from(
        [
            "America/New_York",
            "Europe/London",
            "Australia/Lord_Howe",
            "Pacific/Apia",
            "Asia/Kathmandu",
            "America/Santiago",
        ]
    ),
)
def test_every_tzinfo_flavour_of_the_session_zone_gives_the_same_plan(ended, name):
    flavours = [zoneinfo.ZoneInfo(name), pytz.timezone(name), dateutil_tz.gettz(name), name]
    timelines = {
        tuple(e.permitted_from_utc for e in plan_for(Session(ended, tz)).timeline())
        for tz in flavours
    }
    assert len(timelines) == 1


@given(zone=zones, ended=instants, activity=st.text(max_size=30))
def test_unknown_activities_never_permit(zone, ended, activity):
    assume(activity not in ACTIVITIES)
    plan = plan_for(Session(ended, zone))
    with pytest.raises(UnknownActivityError):
        plan.is_permitted(activity, ended)
    with pytest.raises(UnknownActivityError):
        plan.check(activity, ended)


def test_a_hand_built_rule_that_permits_while_restricted_is_permitted_from_the_end():
    from ketamine_guidance import NextDay, Rule, Source

    rule = Rule(
        activity="walk",
        label="Walking",
        until=NextDay(),
        reason="Fine.",
        source=Source(title="T", section="S"),
        while_restricted=PERMITTED,
    )
    ruleset = Ruleset(id="hand", version="1", title="Hand-built", rules=(rule,))
    plan = plan_for(Session(ENDED, NY), ruleset)
    (entry,) = plan.timeline()
    assert entry.status_until_lift is PERMITTED
    assert entry.permitted_from_utc == ENDED
    assert plan.check("walk", ENDED).status is PERMITTED


def test_the_shared_timeline_cache_is_bounded(monkeypatch: pytest.MonkeyPatch):
    from ketamine_guidance._engine import plan as _plan

    monkeypatch.setattr(_plan, "_SHARED_MAX", 1)
    monkeypatch.setattr(_plan, "_SHARED", {})
    first = plan_for(Session(ENDED, "America/New_York")).timeline()
    second = plan_for(Session(ENDED, "Europe/Paris")).timeline()
    assert len(_plan._SHARED) == 1
    assert first != second
    assert plan_for(Session(ENDED, "America/New_York")).timeline() == first


def test_messages_name_the_argument_exactly(plan):
    with pytest.raises(NaiveDatetimeError, match=r"^effective_from is naive "):
        plan.with_override(
            "driving", status=PERMITTED, effective_from=dt.datetime(2026, 11, 26), clinician="A"
        )
    with pytest.raises(
        ValueError,
        match=r"^clinician must name who made the override "
        r"\(with at least one letter or digit\), not ''$",
    ):
        plan.with_override("driving", status=PERMITTED, effective_from=ENDED, clinician="")
    with pytest.raises(TypeError, match=r"^session must be a Session, not datetime$"):
        plan_for(ENDED)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^ruleset must be a Ruleset, not dict$"):
        plan_for(Session(ENDED, "America/New_York"), {})  # type: ignore[arg-type]
    with pytest.raises(
        TypeError, match=r"^activity must be an activity id \(a string\), not list$"
    ):
        plan.check(["driving"], ENDED)


def test_instants_are_held_in_utc_whatever_zone_they_came_in(plan):
    at = NEXT_MORNING.astimezone(NY)
    decision = plan.check("driving", at)
    assert decision.at == at
    assert decision.at is not None
    assert decision.at.tzinfo is dt.timezone.utc
    overridden = plan.with_override("driving", status=PERMITTED, effective_from=at, clinician="A")
    assert overridden.overrides[0].effective_from_utc.tzinfo is dt.timezone.utc
    assert overridden.overrides[0].effective_from is at


@pytest.mark.parametrize(
    ("status", "shown"),
    [
        # A ban starts no later and ends no earlier than shown; a permission the reverse.
        (Status.NOT_PERMITTED, "from Thu 26 Nov 2026, 13:00 EST until Thu 26 Nov 2026, 15:01 EST"),
        (Status.PERMITTED, "from Thu 26 Nov 2026, 13:01 EST until Thu 26 Nov 2026, 15:00 EST"),
        (CAUTION, "from Thu 26 Nov 2026, 13:01 EST until Thu 26 Nov 2026, 15:00 EST"),
    ],
)
def test_override_times_are_rounded_to_the_minute_on_the_safe_side(
    status: Status, shown: str
) -> None:
    plan = plan_for(Session(ENDED, NY)).with_override(
        "driving",
        status=status,
        effective_from=dt.datetime(2026, 11, 26, 18, 0, 30, tzinfo=UTC),
        until=dt.datetime(2026, 11, 26, 20, 0, 30, tzinfo=UTC),
        clinician="Dr Chen",
        note="reviewed",
    )
    reason = plan.check("driving", dt.datetime(2026, 11, 26, 19, tzinfo=UTC)).reason
    assert reason == f"Dr Chen changed this to {status.text} {shown}. reviewed"
