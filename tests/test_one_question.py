"""``is_permitted(activity, at, ended_at=..., timezone=...)``: one question for a new
session, with the answer and every error of ``plan_for(Session(...)).is_permitted``."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketamine_guidance import (
    BeforeSessionEndError,
    GuidanceError,
    Ruleset,
    RulesetNotInEffectError,
    Session,
    UnknownActivityError,
    default_ruleset,
    is_permitted,
    plan_for,
)
from tests.strategies import instants, valid_rulesets, zone_names

UTC = dt.timezone.utc
NY = zoneinfo.ZoneInfo("America/New_York")
ENDED = dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC)  # 18:30 EST
NEXT_MORNING = dt.datetime(2026, 11, 26, 11, 0, tzinfo=UTC)  # 06:00 EST
US = dt.timedelta(microseconds=1)


def both(activity: Any, at: Any, ended: Any, zone: Any, rules: Any = None) -> tuple[Any, Any]:
    """Each path's answer, or the type and text of its error."""

    def outcome(ask: Any) -> Any:
        try:
            return ask()
        except (GuidanceError, TypeError) as error:
            return type(error), str(error)

    plan_path = outcome(lambda: plan_for(Session(ended, zone), rules).is_permitted(activity, at))
    one = outcome(lambda: is_permitted(activity, at, ended_at=ended, timezone=zone, ruleset=rules))
    return plan_path, one


@given(
    rules=valid_rulesets,
    ended=instants,
    zone=zone_names,
    after=st.one_of(st.timedeltas(dt.timedelta(0), dt.timedelta(days=30)), st.just(None)),
    pick=st.integers(0, 100),
)
def test_the_answer_is_the_plans_for_any_ruleset_zone_and_instant(
    rules: Ruleset, ended: dt.datetime, zone: str, after: dt.timedelta | None, pick: int
) -> None:
    rules = attrs.evolve(rules, effective_from=None)
    activity = rules.activities[pick % len(rules.activities)]
    at = ended + (after if after is not None else dt.timedelta(0))
    # The lift instant itself, a microsecond before it, and an arbitrary later instant.
    plan = plan_for(Session(ended, zone), rules)
    lift = plan.check(activity, at).permitted_from_utc
    for instant in {at, *([lift, max(lift - US, ended)] if lift is not None else [])}:
        # The end as stored (UTC) and in the patient's zone: the same session.
        for end in (ended, ended.astimezone(zoneinfo.ZoneInfo(zone))):
            want, got = both(activity, instant, end, zone, rules)
            assert got == want
            assert got is plan.is_permitted(activity, instant)


def test_the_driving_rule_lifts_at_six_the_next_morning() -> None:
    def ask(at: dt.datetime) -> bool:
        return is_permitted("driving", at, ended_at=ENDED, timezone="America/New_York")

    assert not ask(NEXT_MORNING - US)
    assert ask(NEXT_MORNING)
    assert ask(NEXT_MORNING.astimezone(NY))  # at may be in any zone
    assert not ask(NEXT_MORNING.astimezone(NY) - US)


@pytest.mark.parametrize(
    ("activity", "at", "ended", "zone", "error"),
    [
        ("skydiving", NEXT_MORNING, ENDED, NY, UnknownActivityError),
        (["driving"], NEXT_MORNING, ENDED, NY, TypeError),
        ("driving", ENDED - US, ENDED, NY, BeforeSessionEndError),
        ("driving", NEXT_MORNING.replace(tzinfo=None), ENDED, NY, GuidanceError),
        ("driving", "tomorrow", ENDED, NY, TypeError),
        ("driving", NEXT_MORNING, ENDED.replace(tzinfo=None), NY, GuidanceError),
        ("driving", NEXT_MORNING, ENDED, "EST", GuidanceError),
        ("driving", NEXT_MORNING, ENDED, "Mars/Olympus_Mons", GuidanceError),
        ("driving", NEXT_MORNING, ENDED, 5, TypeError),
        ("driving", dt.datetime.max.replace(tzinfo=NY), ENDED, NY, GuidanceError),
        ("driving", NEXT_MORNING, dt.datetime.max.replace(tzinfo=UTC), "Asia/Tokyo", GuidanceError),
    ],
)
def test_bad_input_gets_the_plans_own_error(
    activity: Any, at: Any, ended: Any, zone: Any, error: type[Exception]
) -> None:
    want, got = both(activity, at, ended, zone)
    assert got == want
    assert isinstance(got, tuple)
    assert issubclass(got[0], error)


def test_a_ruleset_not_yet_in_effect_is_refused_with_the_plans_words() -> None:
    later = attrs.evolve(default_ruleset(), effective_from=dt.date(2027, 1, 1))
    want, got = both("driving", NEXT_MORNING, ENDED, NY, later)
    assert got == want
    assert got[0] is RulesetNotInEffectError


def test_the_ruleset_must_be_a_ruleset() -> None:
    with pytest.raises(TypeError, match="ruleset must be a Ruleset, not dict"):
        is_permitted("driving", NEXT_MORNING, ended_at=ENDED, timezone=NY, ruleset={})  # type: ignore[arg-type]


def test_the_zone_is_required_even_where_a_session_would_read_it_off_the_end() -> None:
    with pytest.raises(TypeError, match="timezone must be an IANA name or a tzinfo"):
        is_permitted("driving", NEXT_MORNING, ended_at=ENDED.astimezone(NY), timezone=None)  # type: ignore[arg-type]
