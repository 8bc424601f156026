"""Courses of sessions (issue 4): named cases and the three laws."""

from __future__ import annotations

import datetime as dt
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketamine_guidance import (
    BeforeSessionEndError,
    CoursePlan,
    Ruleset,
    RulesetNotInEffectError,
    Session,
    Status,
    UnknownActivityError,
    default_ruleset,
    plan_for,
    plan_for_course,
)
from tests.strategies import UTC, ruleset_data, zones

LONDON = "Europe/London"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


MONDAY = Session(utc(2026, 11, 23, 18), LONDON)
WEDNESDAY = Session(utc(2026, 11, 25, 18), LONDON)


# Named cases


def test_between_sessions_only_the_ended_ones_count() -> None:
    course = plan_for_course([WEDNESDAY, MONDAY])
    assert course.sessions == (MONDAY, WEDNESDAY)
    assert not course.is_permitted("driving", utc(2026, 11, 23, 19))
    assert course.is_permitted("driving", utc(2026, 11, 24, 6))
    assert course.is_permitted("driving", utc(2026, 11, 25, 17, 59))
    assert not course.is_permitted("driving", utc(2026, 11, 25, 18))


def test_permitted_from_counts_sessions_still_to_come() -> None:
    course = plan_for_course([MONDAY, WEDNESDAY])
    decision = course.check("driving", utc(2026, 11, 24, 12))
    assert decision.status is Status.PERMITTED
    assert decision.session == MONDAY
    # Permitted now, but not for good: Wednesday's session restricts it again.
    assert decision.permitted_from_utc == utc(2026, 11, 26, 6)


def test_the_decision_names_the_governing_session() -> None:
    course = plan_for_course([MONDAY, WEDNESDAY])
    assert course.check("driving", utc(2026, 11, 25, 20)).session == WEDNESDAY
    assert course.check("recreational_drugs", utc(2026, 11, 25, 20)).session == WEDNESDAY
    assert course.check("recreational_drugs", utc(2026, 11, 24)).session == MONDAY


def test_the_longer_restriction_governs_even_if_its_session_ended_first() -> None:
    # Across the date line: the first session (18:00 at UTC-12) lifts at 18:00 UTC; the
    # second ends an hour later, at 21:00 at UTC+14, and its next morning comes sooner.
    first = Session(utc(2026, 11, 24, 6), dt.timezone(dt.timedelta(hours=-12)))
    second = Session(utc(2026, 11, 24, 7), dt.timezone(dt.timedelta(hours=14)))
    course = plan_for_course([second, first])
    decision = course.check("driving", utc(2026, 11, 24, 8))
    assert decision.session == first
    assert decision.permitted_from_utc == utc(2026, 11, 24, 18)
    assert plan_for(second).check("driving", utc(2026, 11, 24, 8)).permitted_from_utc == utc(
        2026, 11, 24, 16
    )


def test_sessions_in_different_zones_each_use_their_own_next_day() -> None:
    tokyo = Session(utc(2026, 11, 23, 9), "Asia/Tokyo")  # 18:00 in Tokyo
    new_york = Session(utc(2026, 11, 23, 23), "America/New_York")  # 18:00 in New York
    course = plan_for_course([tokyo, new_york])
    decision = course.check("driving", utc(2026, 11, 24))
    assert decision.session == new_york
    assert decision.permitted_from is not None
    assert decision.permitted_from.isoformat() == "2026-11-24T06:00:00-05:00"
    (entry,) = [e for e in course.timeline() if e.activity == "driving"]
    assert entry.permitted_from_utc == utc(2026, 11, 24, 11)


def test_an_override_ends_when_the_next_session_of_the_course_ends() -> None:
    course = plan_for_course([MONDAY, WEDNESDAY]).with_override(
        "prescription_pain_medication",
        status=Status.PERMITTED,
        effective_from=utc(2026, 11, 23, 20),
        clinician="Dr C",
    )
    assert course.is_permitted("prescription_pain_medication", utc(2026, 11, 23, 20))
    before = course.check("prescription_pain_medication", utc(2026, 11, 25, 17, 59))
    assert before.status is Status.PERMITTED
    assert before.override is not None
    assert before.override.until_utc == WEDNESDAY.ended_at_utc
    # Wednesday's session starts its restrictions afresh: the change made after Monday's
    # session does not carry into them.
    decision = course.check("prescription_pain_medication", utc(2026, 11, 25, 18))
    assert decision.status is Status.NOT_PERMITTED
    assert decision.override is None
    assert decision.permitted_from_utc == utc(2026, 11, 26, 6)
    assert len(course.overrides) == 1
    assert course.overrides[0].until is None


def test_timeline_uses_the_latest_session_and_the_strictest_status() -> None:
    course = plan_for_course([MONDAY, WEDNESDAY])
    by_activity = {e.activity: e for e in course.timeline()}
    assert by_activity["driving"].permitted_from_utc == utc(2026, 11, 26, 6)
    assert by_activity["recreational_drugs"].permitted_from is None
    assert course.timeline()[-1].activity == "recreational_drugs"


def test_bad_input_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="at least one session"):
        plan_for_course([])
    with pytest.raises(TypeError, match="iterable of Session"):
        plan_for_course(MONDAY)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got a str"):
        plan_for_course(["monday"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="ruleset must be a Ruleset"):
        plan_for_course([MONDAY], "default")  # type: ignore[arg-type]
    course = plan_for_course([MONDAY, WEDNESDAY])
    with pytest.raises(BeforeSessionEndError, match="first session"):
        course.check("driving", utc(2026, 11, 23, 17))
    with pytest.raises(UnknownActivityError, match="driving"):
        course.is_permitted("drivng", utc(2026, 11, 24))
    with pytest.raises(UnknownActivityError):
        course.with_override(
            "drivng", status=Status.PERMITTED, effective_from=utc(2026, 11, 24), clinician="Dr C"
        )


def test_a_ruleset_not_yet_in_effect_is_refused_for_any_session() -> None:
    data = default_ruleset()
    from attrs import evolve

    later = evolve(data, effective_from=dt.date(2026, 11, 24))
    with pytest.raises(RulesetNotInEffectError):
        plan_for_course([WEDNESDAY, MONDAY], later)


# Laws

session_ends = st.datetimes(dt.datetime(2020, 1, 1), dt.datetime(2030, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)
sessions = st.builds(Session, session_ends, zones)
# Sessions of a course lie within a few weeks, so their restrictions overlap.
courses = st.builds(
    lambda first, gaps, tz: [
        Session(first + dt.timedelta(hours=sum(gaps[: i + 1])), tz) for i in range(len(gaps))
    ],
    session_ends,
    st.lists(st.floats(0, 120), min_size=1, max_size=4),
    zones,
)
# A ruleset that takes effect later is refused for early sessions (tested above).
rulesets = st.just(default_ruleset()) | ruleset_data.map(
    lambda d: Ruleset.from_dict({k: v for k, v in d.items() if k != "effective_from"})
)


def probe_instants(course: CoursePlan, extra: list[float]) -> list[dt.datetime]:
    """Every instant where an answer may change, a microsecond either side, and some more."""
    first = course.sessions[0].ended_at_utc
    edges = {first}
    for s in course.sessions:
        plan = plan_for(s, course.ruleset)
        edges.add(s.ended_at_utc)
        edges.update(e.permitted_from_utc for e in plan.timeline() if e.permitted_from_utc)
    tick = dt.timedelta(microseconds=1)
    found = {e + d for e in edges for d in (-tick, dt.timedelta(0), tick)}
    found.update(first + dt.timedelta(hours=h) for h in extra)
    return sorted(i for i in found if i >= first)


def restrictiveness(course: CoursePlan, activity: str, at: dt.datetime) -> int:
    return course.check(activity, at).status.restrictiveness


@given(courses, sessions, rulesets, st.lists(st.floats(0, 400), max_size=5))
def test_adding_a_session_never_loosens_any_answer(
    given_sessions: list[Session], added: Session, ruleset: Ruleset, extra: list[float]
) -> None:
    before = plan_for_course(given_sessions, ruleset)
    after = plan_for_course([*given_sessions, added], ruleset)
    for at in probe_instants(before, extra):
        for activity in ruleset.activities:
            assert restrictiveness(after, activity, at) >= restrictiveness(before, activity, at)
    # From the instant the old course began, the new one lifts nothing sooner.
    never = dt.datetime.max.replace(tzinfo=UTC)
    began = before.sessions[0].ended_at_utc
    old = {e.activity: e.permitted_from_utc or never for e in before.timeline()}
    new = {e.activity: e.permitted_from_utc or never for e in after.timeline()}
    assert all(max(new[a], began) >= old[a] for a in ruleset.activities)


@given(sessions, rulesets, st.lists(st.floats(0, 400), max_size=5), st.data())
def test_a_course_of_one_answers_as_its_plan(
    session: Session, ruleset: Ruleset, extra: list[float], data: st.DataObject
) -> None:
    plan = plan_for(session, ruleset)
    course = plan_for_course([session], ruleset)
    activity = data.draw(st.sampled_from(ruleset.activities))
    when = data.draw(session_ends)
    plan = plan.with_override(
        activity, status=Status.PERMITTED, effective_from=when, clinician="A", note="n"
    )
    course = course.with_override(
        activity, status=Status.PERMITTED, effective_from=when, clinician="A", note="n"
    )
    assert course.timeline() == plan.timeline()
    for at in probe_instants(course, extra):
        assert course.decisions_at(at) == plan.decisions_at(at)
        for a in ruleset.activities:
            assert course.is_permitted(a, at) == plan.is_permitted(a, at)


@given(courses, rulesets, st.randoms(), st.lists(st.floats(0, 400), max_size=5))
def test_the_order_of_sessions_does_not_matter(
    given_sessions: list[Session], ruleset: Ruleset, random: Random, extra: list[float]
) -> None:
    shuffled = list(given_sessions)
    random.shuffle(shuffled)
    one, other = plan_for_course(given_sessions, ruleset), plan_for_course(shuffled, ruleset)
    assert one == other
    assert one.timeline() == other.timeline()
    for at in probe_instants(one, extra):
        assert one.decisions_at(at) == other.decisions_at(at)
