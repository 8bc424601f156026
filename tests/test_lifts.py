"""The compiled windows that plans and the batch share: the engine's instants, worked out
only when asked, once per (zone, local date)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ketamine_guidance import (
    Hours,
    LatestOf,
    NextDay,
    Rule,
    Ruleset,
    Session,
    Source,
    Status,
    Window,
    default_ruleset,
    lift_times,
    plan_for,
)
from ketamine_guidance._engine import lifts as _lifts
from ketamine_guidance._engine.windows import lift_instant
from tests.strategies import instants, valid_windows, zones

UTC = dt.timezone.utc
NY = zoneinfo.ZoneInfo("America/New_York")
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
ENDED = dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC)  # 18:30 EST
NEXT_MORNING = dt.datetime(2026, 11, 26, 11, 0, tzinfo=UTC)  # 06:00 EST
SOURCE = Source(title="Test", section="Test")


def one_rule(window: Window) -> Ruleset:
    rule = Rule(activity="a", label="A", until=window, reason="r", source=SOURCE)
    return Ruleset(id="t", version="1", title="t", rules=(rule,))


# Near both ends of what a datetime holds, where the engine reports "beyond range".
edge_instants = st.one_of(
    instants,
    st.datetimes(min_value=dt.datetime(9999, 12, 1), max_value=dt.datetime(9999, 12, 31, 23)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
)


@given(window=valid_windows, ended=edge_instants, tz=zones)
def test_every_compiled_window_gives_the_engines_own_instant(
    window: Window, ended: dt.datetime, tz: dt.tzinfo
) -> None:
    """The reference is lift_instant itself, which the compiled form never calls for
    elapsed hours: the two are independent ways to the same instant."""
    made = _lifts.Compiled(one_rule(window))
    try:
        local_day = ended.astimezone(tz).date()
    except OverflowError:  # no local reading: a Session refuses such an end when made
        assume(False)
    want = lift_instant(window, ended, local_day, tz, dt.time(6))
    assert made.slot_of["a"](ended, made.days(local_day, tz), tz) == want


def test_hours_past_the_last_local_reading_never_lift_on_every_path() -> None:
    """9999-12-31 18:00 UTC exists, but not in Tokyo (+09:00): beyond range, everywhere."""
    rules = one_rule(Hours(30))
    ended = dt.datetime(9999, 12, 30, 12, tzinfo=UTC)
    session = Session(ended, TOKYO)
    (entry,) = plan_for(session, rules).timeline()
    assert entry.permitted_from_utc is None
    assert entry.lifts_beyond_range
    assert lift_times([session], rules).rows == ((None,),)
    assert not plan_for(session, rules).is_permitted("a", dt.datetime.max.replace(tzinfo=UTC))


def counted(monkeypatch: pytest.MonkeyPatch) -> list[Window]:
    """Every window the time engine is asked to resolve from here on."""
    calls: list[Window] = []

    def counting(window: Window, *args: object) -> dt.datetime | None:
        calls.append(window)
        return lift_instant(window, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(_lifts, "lift_instant", counting)
    monkeypatch.setattr(_lifts, "_COMPILED", {})
    return calls


def test_making_a_plan_resolves_nothing_until_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = counted(monkeypatch)
    plan = plan_for(Session(ENDED, NY))
    assert calls == []
    assert not plan.is_permitted("driving", NEXT_MORNING - dt.timedelta(microseconds=1))
    # The default's one calendar window ("next day", in "latest of next day and 8 hours").
    assert calls == [NextDay()]
    assert plan.is_permitted("driving", NEXT_MORNING)
    assert plan.check("alcohol", NEXT_MORNING).permitted_from_utc == NEXT_MORNING
    assert len(calls) == 1


def test_plans_share_the_calendar_of_their_zone_and_local_date(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = counted(monkeypatch)
    later_that_evening = ENDED + dt.timedelta(hours=2)  # 20:30 EST, the same local date
    first = plan_for(Session(ENDED, NY)).timeline()
    assert plan_for(Session(later_that_evening, NY)).check("driving", NEXT_MORNING).permitted
    assert len(calls) == 1
    # Another zone, or another local date, is resolved anew, and answered for itself.
    tokyo = plan_for(Session(ENDED, TOKYO)).check("driving", ENDED).permitted_from_utc
    assert tokyo == dt.datetime(2026, 11, 26, 21, 0, tzinfo=UTC)  # 06:00 on the 27th, JST
    assert len(calls) == 2
    assert plan_for(Session(ENDED, NY)).timeline() == first


def test_the_shared_caches_are_bounded_and_still_right(monkeypatch: pytest.MonkeyPatch) -> None:
    counted(monkeypatch)
    monkeypatch.setattr(_lifts, "_COMPILED_MAX", 1)
    monkeypatch.setattr(_lifts, "_DAYS_MAX", 1)
    other = Ruleset.from_dict(default_ruleset().to_dict())
    first = plan_for(Session(ENDED, NY)).timeline()
    assert plan_for(Session(ENDED, NY), other).timeline() == first
    assert len(_lifts._COMPILED) == 1
    tokyo = plan_for(Session(ENDED, TOKYO)).timeline()
    assert len(_lifts.compiled(default_ruleset())._days) == 1
    assert plan_for(Session(ENDED, NY)).timeline() == first
    assert tokyo != first


def test_a_cached_zone_is_the_same_object_not_one_with_the_same_id() -> None:
    """The cache keys zones by identity and keeps each zone, so a new zone object that
    happens to reuse a freed id is never given another zone's instants."""
    made = _lifts.Compiled(one_rule(LatestOf((NextDay(), Hours(8)))))
    day = dt.date(2026, 11, 25)
    utc_days = made.days(day, UTC)
    made._days[(id(NY), day)] = (UTC, utc_days)  # as if NY had UTC's id
    assert made.days(day, NY) == made.calendar(day, NY) != utc_days


def test_a_rule_permitted_while_restricted_is_permitted_from_the_end() -> None:
    rule = Rule(
        activity="a",
        label="A",
        until=Hours(5),
        while_restricted=Status.PERMITTED,
        reason="r",
        source=SOURCE,
    )
    plan = plan_for(Session(ENDED, NY), Ruleset(id="t", version="1", title="t", rules=(rule,)))
    assert plan.check("a", ENDED).permitted_from_utc == ENDED
    assert plan.is_permitted("a", ENDED)


def test_a_plans_decision_is_the_one_decisions_own_init_makes() -> None:
    """Plans make decisions by copying fields, not through __init__: the same fields, in
    the same order, equal, and with the same repr and hash."""
    import attrs

    from ketamine_guidance import Decision

    plan = plan_for(Session(ENDED, NY)).with_override(
        "alcohol", status="not_permitted", effective_from=ENDED, clinician="Dr A"
    )
    for decision in (*plan.decisions_at(NEXT_MORNING), plan.check("driving", ENDED)):
        built = Decision(**{a.name: getattr(decision, a.name) for a in attrs.fields(Decision)})
        assert list(vars(decision)) == list(vars(built)) == [a.name for a in attrs.fields(Decision)]
        assert decision == built
        assert repr(decision) == repr(built)
        assert hash(decision) == hash(built)
        assert vars(decision) == vars(built)


def test_a_ruleset_with_a_start_date_works_out_the_local_date_once() -> None:
    import attrs

    dated = attrs.evolve(default_ruleset(), effective_from=dt.date(2026, 1, 1))
    plan = plan_for(Session(ENDED, NY), dated)
    assert plan.check("driving", NEXT_MORNING).permitted_from_utc == NEXT_MORNING
    assert not plan.is_permitted("driving", NEXT_MORNING - dt.timedelta(microseconds=1))
