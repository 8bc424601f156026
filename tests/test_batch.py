"""lift_times: the batch gives exactly the instants of the per-session plans, fast."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import attrs
import pytest
from dateutil import tz as dateutil_tz
from hypothesis import given
from hypothesis import strategies as st

from ketamine_guidance import (
    DayAt,
    EndOfDay,
    Hours,
    Immediately,
    LatestOf,
    LiftTable,
    Never,
    NextDay,
    Rule,
    Ruleset,
    RulesetNotInEffectError,
    Session,
    Source,
    Status,
    UnknownActivityError,
    Window,
    default_ruleset,
    lift_times,
    plan_for,
)
from tests.strategies import ZONE_NAMES, instants, valid_rulesets, zones

UTC = dt.timezone.utc
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
SOURCE = Source("test", "batch")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def ruleset(*windows: Window, next_day_begins: dt.time = dt.time(6)) -> Ruleset:
    """A hand-built ruleset with one rule per window: activities ``a0``, ``a1``, ..."""
    rules = tuple(
        Rule(activity=f"a{i}", label=f"A{i}", until=w, reason="-", source=SOURCE)
        for i, w in enumerate(windows)
    )
    return Ruleset(id="t", version="1", title="t", rules=rules, next_day_begins=next_day_begins)


def timeline_instants(session: Session, rules: Ruleset | None) -> dict[str, dt.datetime | None]:
    """The per-session path: each activity's ``permitted_from_utc`` in the plan's timeline."""
    return {e.activity: e.permitted_from_utc for e in plan_for(session, rules).timeline()}


def assert_same_as_plans(table: LiftTable, rules: Ruleset | None) -> None:
    assert table.activities == (rules or default_ruleset()).activities  # in order, each once
    assert len(table.rows) == len(table.sessions)
    for session, row in zip(table.sessions, table.rows, strict=True):
        expected = timeline_instants(session, rules)
        assert dict(zip(table.activities, row, strict=True)) == expected, session


# The law: every row equals the plan's timeline, in every zone, for every ruleset.

sessions = st.lists(st.builds(Session, instants, zones), max_size=12)


@given(sessions=sessions)
def test_default_ruleset_rows_equal_the_plans_timelines(sessions: list[Session]) -> None:
    assert_same_as_plans(lift_times(sessions), None)


@given(sessions=sessions, rules=valid_rulesets)
def test_any_valid_ruleset_rows_equal_the_plans_timelines(
    sessions: list[Session], rules: Ruleset
) -> None:
    rules = attrs.evolve(rules, effective_from=None)  # checked on its own below
    assert_same_as_plans(lift_times(sessions, rules), rules)


@given(
    ended=instants,
    zone=zones,
    offsets=st.lists(st.integers(-3 * 24 * 60, 3 * 24 * 60), min_size=1, max_size=8),
    rules=valid_rulesets,
)
def test_sessions_sharing_zone_and_days_share_nothing_wrong(
    ended: dt.datetime, zone: dt.tzinfo, offsets: list[int], rules: Ruleset
) -> None:
    """Many sessions on the same few local days in one zone: the cache per (zone, local
    date) must give each session its own clamp and its own elapsed hours."""
    rules = attrs.evolve(rules, effective_from=None)
    batch = [Session(ended + dt.timedelta(minutes=m), zone) for m in offsets]
    assert_same_as_plans(lift_times(batch, rules), rules)


@given(sessions=sessions, rules=valid_rulesets)
def test_a_ruleset_not_yet_in_effect_is_refused_as_plan_for_refuses_it(
    sessions: list[Session], rules: Ruleset
) -> None:
    refused: list[Session] = []
    for s in sessions:
        try:
            plan_for(s, rules)
        except RulesetNotInEffectError:
            refused.append(s)
    if refused:
        with pytest.raises(RulesetNotInEffectError, match=r"after sessions\[\d+\] ended"):
            lift_times(sessions, rules)
    else:
        assert_same_as_plans(lift_times(sessions, rules), rules)


# Named cases, with instants worked out by hand.


def test_the_spring_dst_change_in_new_york() -> None:
    # Ended 23:30 EST on 2026-03-07; the clocks go on at 02:00 the next morning.
    session = Session(dt.datetime(2026, 3, 7, 23, 30, tzinfo=NEW_YORK))
    rules = ruleset(NextDay(), Hours(24), EndOfDay(), Immediately(), Never())
    (row,) = lift_times([session], rules).rows
    assert row == (
        utc(2026, 3, 8, 10, 0),  # 06:00 EDT
        utc(2026, 3, 9, 4, 30),  # 24 real hours: 00:30 EDT on the 9th, not 23:30
        utc(2026, 3, 8, 5, 0),  # midnight EST
        utc(2026, 3, 8, 4, 30),  # the end itself
        None,
    )
    assert_same_as_plans(lift_times([session], rules), rules)


def test_the_autumn_fold_in_new_york_means_the_later_reading() -> None:
    session = Session(dt.datetime(2026, 10, 31, 20, 0, tzinfo=NEW_YORK))
    rules = ruleset(NextDay(), next_day_begins=dt.time(1, 30))
    # 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST): the later one.
    assert lift_times([session], rules).rows == ((utc(2026, 11, 1, 6, 30),),)


def test_apias_skipped_day() -> None:
    # Apia skipped 2011-12-30.  A session ending 10:00 on the 29th (-10:00): "the next day
    # at 06:00" did not exist, so it is read with the offset before the jump, which is
    # 06:00 on the 31st (+14:00); the restriction never lifts early.
    apia = zoneinfo.ZoneInfo("Pacific/Apia")
    session = Session(utc(2011, 12, 29, 20, 0), apia)
    table = lift_times([session])
    (driving,) = table.column("driving")
    assert driving == utc(2011, 12, 30, 16, 0)
    assert driving is not None
    assert driving.astimezone(apia).isoformat() == "2011-12-31T06:00:00+14:00"
    assert_same_as_plans(table, None)


def test_a_day_of_sessions_in_fifty_zones() -> None:
    names = ZONE_NAMES
    batch = [
        Session(utc(2026, 3, 28, 0, 0) + dt.timedelta(minutes=37 * i), names[i * 7 % len(names)])
        for i in range(200)
    ]
    assert_same_as_plans(lift_times(batch), None)


def test_latest_of_takes_the_latest_part_and_never_wins() -> None:
    session = Session(dt.datetime(2026, 6, 1, 22, 0, tzinfo=NEW_YORK))  # 02:00 UTC on the 2nd
    rules = ruleset(
        LatestOf((NextDay(), Hours(8))),
        LatestOf((NextDay(), Hours(12))),
        LatestOf((Hours(2), Never())),
        LatestOf((Immediately(),)),
    )
    (row,) = lift_times([session], rules).rows
    # Next day 06:00 EDT is 10:00 UTC; 8 hours is 10:00 UTC too; 12 hours is 14:00 UTC.
    assert row == (utc(2026, 6, 2, 10, 0), utc(2026, 6, 2, 14, 0), None, utc(2026, 6, 2, 2, 0))
    assert_same_as_plans(lift_times([session], rules), rules)


def test_instants_beyond_the_last_datetime_never_lift() -> None:
    session = Session(utc(9999, 12, 31, 20, 0), "UTC")
    rules = ruleset(NextDay(), Hours(24), LatestOf((Hours(1), EndOfDay())), Hours(1))
    (row,) = lift_times([session], rules).rows
    assert row == (None, None, None, utc(9999, 12, 31, 21, 0))
    assert_same_as_plans(lift_times([session], rules), rules)


def test_hand_built_windows_behave_as_the_engine_says() -> None:
    """Windows the loader refuses still get the plans' answers: never before the end."""
    session = Session(utc(2026, 6, 1, 12, 0), "Europe/Paris")
    rules = ruleset(
        Hours(0),
        Hours(-5),
        Hours(10**12),  # more than a timedelta holds
        DayAt(day=0, at=dt.time(0)),  # a calendar lift before the end
        LatestOf((DayAt(day=0, at=dt.time(0)), Hours(-1))),
    )
    (row,) = lift_times([session], rules).rows
    end = session.ended_at_utc
    assert row == (end, end, None, end, end)
    assert_same_as_plans(lift_times([session], rules), rules)


def test_an_empty_latest_of_is_refused_not_read_as_immediately() -> None:
    with pytest.raises(ValueError, match="LatestOf needs at least one window"):
        LatestOf(())


def test_a_rule_permitted_while_restricted_lifts_at_the_end() -> None:
    # Only a hand-built ruleset says this; the plan reports the end, and so does the batch.
    rule = Rule(
        activity="tea",
        label="Tea",
        until=Never(),
        reason="-",
        source=SOURCE,
        while_restricted=Status.PERMITTED,
    )
    rules = Ruleset(id="t", version="1", title="t", rules=(rule,))
    session = Session(utc(2026, 6, 1, 12, 0), "Asia/Tokyo")
    assert lift_times([session], rules).rows == ((session.ended_at_utc,),)
    assert_same_as_plans(lift_times([session], rules), rules)


def test_every_tzinfo_flavour_gives_the_same_table() -> None:
    """dateutil's zones cannot be hashed; the batch keys its cache by identity instead."""
    ended = utc(2026, 3, 7, 23, 30)
    flavours: list[dt.tzinfo] = [NEW_YORK, dateutil_tz.gettz("America/New_York")]  # type: ignore[list-item]
    tables = [lift_times([Session(ended, z), Session(ended, z)]).rows for z in flavours]
    assert tables[0] == tables[1]
    assert tables[0][0] == tables[0][1]


# The table.


def test_the_table_lists_activities_once_in_ruleset_order() -> None:
    session = Session(utc(2026, 11, 25, 23, 30), "America/New_York")
    table = lift_times(iter([session, session]))  # any iterable, read once
    assert table.activities == default_ruleset().activities
    assert table.sessions == (session, session)
    assert len(table) == 2
    assert table.column("driving") == (utc(2026, 11, 26, 11, 0),) * 2
    assert table.column("recreational_drugs") == (None, None)


def test_an_empty_batch_is_an_empty_table() -> None:
    table = lift_times([])
    assert table == LiftTable(default_ruleset().activities, (), ())
    assert len(table) == 0
    assert table.column("driving") == ()


def test_an_unknown_column_is_refused_with_suggestions() -> None:
    table = lift_times([])
    with pytest.raises(UnknownActivityError, match="did you mean 'driving'"):
        table.column("drivng")
    with pytest.raises(UnknownActivityError, match="unknown activity '3'"):
        table.column(3)  # type: ignore[arg-type]


# Bad input.


def test_sessions_must_be_sessions() -> None:
    session = Session(utc(2026, 11, 25, 23, 30), "UTC")
    with pytest.raises(TypeError, match=r"sessions\[1\] must be a Session, not datetime"):
        lift_times([session, utc(2026, 11, 25, 23, 30)])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="iterable of Sessions; for one session use plan_for"):
        lift_times(session)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="iterable of Sessions, not int"):
        lift_times(5)  # type: ignore[call-overload]


def test_the_ruleset_must_be_a_ruleset() -> None:
    with pytest.raises(TypeError, match="ruleset must be a Ruleset, not str"):
        lift_times([], "default")  # type: ignore[call-overload]


def test_a_session_before_the_ruleset_takes_effect_is_refused() -> None:
    rules = attrs.evolve(default_ruleset(), effective_from=dt.date(2026, 3, 1))
    before = Session(dt.datetime(2026, 2, 28, 23, 0, tzinfo=NEW_YORK))  # 04:00 UTC on 1 March
    after = Session(dt.datetime(2026, 3, 1, 0, 30, tzinfo=NEW_YORK))
    assert len(lift_times([after], rules)) == 1
    with pytest.raises(RulesetNotInEffectError, match=r"after sessions\[1\] ended \(2026-02-28"):
        lift_times([after, before], rules)
    with pytest.raises(RulesetNotInEffectError):
        plan_for(before, rules)


def test_a_table_pickles_for_worker_processes() -> None:
    import pickle

    table = lift_times([Session(utc(2026, 11, 25, 23, 30), "America/New_York")])
    assert pickle.loads(pickle.dumps(table)) == table
