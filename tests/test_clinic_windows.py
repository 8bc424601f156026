"""Laws of the clinic windows: latest_of, day N at a time, end of day (issue 4)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from random import Random

from hypothesis import given
from hypothesis import strategies as st

from ketamine_guidance import (
    DayAt,
    EndOfDay,
    Hours,
    Immediately,
    LatestOf,
    Never,
    NextDay,
    Ruleset,
    Session,
    Window,
    plan_for,
)
from ketamine_guidance._engine.windows import lift_instant
from tests.strategies import UTC, zones

SOURCE = {"title": "Example Clinic aftercare sheet", "section": "Aftercare"}
NEVER = dt.datetime.max.replace(tzinfo=UTC)

times = st.times().map(lambda t: t.replace(microsecond=0))
simple_windows: st.SearchStrategy[Window] = st.one_of(
    st.sampled_from([Immediately(), NextDay(), EndOfDay(), Never()]),
    st.builds(Hours, st.integers(1, 240) | st.floats(0.01, 240.0)),
    st.builds(DayAt, st.integers(1, 7), times),
)
windows: st.SearchStrategy[Window] = st.recursive(
    simple_windows,
    lambda inner: st.lists(inner, min_size=1, max_size=3).map(lambda ws: LatestOf(tuple(ws))),
    max_leaves=6,
)
# 1980-2037: every zone's offsets are whole quarter hours there, which the oracle needs.
ends = st.datetimes(dt.datetime(1980, 1, 1), dt.datetime(2037, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)


def lift(
    window: Window, ended: dt.datetime, tz: dt.tzinfo, next_day_begins: dt.time = dt.time(6)
) -> dt.datetime:
    """The lift instant, with "never" as the largest datetime so instants compare."""
    local_day = ended.astimezone(tz).date()
    instant = lift_instant(window, ended, local_day, tz, next_day_begins)
    return NEVER if instant is None else instant


@given(st.lists(windows, min_size=1, max_size=4), ends, zones)
def test_latest_of_is_never_earlier_than_any_part(
    parts: list[Window], ended: dt.datetime, tz: dt.tzinfo
) -> None:
    combined = lift(LatestOf(tuple(parts)), ended, tz)
    assert combined == max(lift(w, ended, tz) for w in parts)


@given(st.lists(windows, min_size=1, max_size=4), st.randoms(), ends, zones)
def test_latest_of_is_commutative(
    parts: list[Window], random: Random, ended: dt.datetime, tz: dt.tzinfo
) -> None:
    shuffled = list(parts)
    random.shuffle(shuffled)
    assert lift(LatestOf(tuple(parts)), ended, tz) == lift(LatestOf(tuple(shuffled)), ended, tz)


@given(windows, ends, zones)
def test_latest_of_is_idempotent(window: Window, ended: dt.datetime, tz: dt.tzinfo) -> None:
    alone = lift(window, ended, tz)
    assert lift(LatestOf((window,)), ended, tz) == alone
    assert lift(LatestOf((window, window)), ended, tz) == alone
    assert lift(LatestOf((LatestOf((window,)), window)), ended, tz) == alone


@given(times, ends, zones)
def test_day_one_at_next_day_begins_is_next_day(
    begins: dt.time, ended: dt.datetime, tz: dt.tzinfo
) -> None:
    assert lift(DayAt(1, begins), ended, tz, begins) == lift(NextDay(), ended, tz, begins)


@given(st.integers(1, 5), times, ends, zones)
def test_day_n_is_never_before_day_n_minus_one(
    day: int, at: dt.time, ended: dt.datetime, tz: dt.tzinfo
) -> None:
    assert lift(DayAt(day + 1, at), ended, tz) >= lift(DayAt(day, at), ended, tz)


def _end_of_day_oracle(ended: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The instant after the last quarter hour whose local date is still the session's.

    Scanning quarter hours forward finds the midnight that ends the day however the
    zone moves its clocks: a midnight that happens twice ends the day the second time,
    and a midnight that never happens ends it at the jump.
    """
    step = dt.timedelta(minutes=15)
    day = ended.astimezone(tz).date()
    start = ended.replace(minute=ended.minute - ended.minute % 15, second=0, microsecond=0)
    last_of_day = start
    for i in range(4 * 24 * 3):
        instant = start + i * step
        if instant.astimezone(tz).date() <= day:
            last_of_day = instant
    return max(last_of_day + step, ended)


@given(ends, zones)
def test_end_of_day_is_the_last_local_midnight_ending_the_day(
    ended: dt.datetime, tz: dt.tzinfo
) -> None:
    assert lift(EndOfDay(), ended, tz) == _end_of_day_oracle(ended, tz)


def test_end_of_day_across_a_midnight_that_happens_twice() -> None:
    # Sao Paulo left summer time at 00:00 on 2018-02-18, setting clocks back to 23:00
    # on the 17th: the 17th ended twice, and the later one counts.
    tz = zoneinfo.ZoneInfo("America/Sao_Paulo")
    ended = dt.datetime(2018, 2, 18, 1, 30, tzinfo=UTC)  # 23:30 on the 17th, summer time
    assert lift(EndOfDay(), ended, tz) == dt.datetime(2018, 2, 18, 3, 0, tzinfo=UTC)


def test_end_of_day_across_a_midnight_that_never_happens() -> None:
    # Sao Paulo began summer time at 00:00 on 2018-11-04, jumping to 01:00.
    tz = zoneinfo.ZoneInfo("America/Sao_Paulo")
    ended = dt.datetime(2018, 11, 4, 2, 0, tzinfo=UTC)  # 23:00 on the 3rd
    assert lift(EndOfDay(), ended, tz) == dt.datetime(2018, 11, 4, 3, 0, tzinfo=UTC)


def _ruleset(window: Window) -> Ruleset:
    from ketamine_guidance._rules.model import Rule, Source

    rule = Rule(
        activity="driving",
        label="Driving",
        until=window,
        reason="Clinic's reason.",
        source=Source(**SOURCE),
    )
    return Ruleset(id="c", version="1", title="C", rules=(rule,))


@given(windows, ends, zones)
def test_the_lift_instant_is_inclusive(window: Window, ended: dt.datetime, tz: dt.tzinfo) -> None:
    plan = plan_for(Session(ended, tz), _ruleset(window))
    (entry,) = plan.timeline()
    lifted = entry.permitted_from_utc
    if lifted is None:
        assert not plan.is_permitted("driving", ended + dt.timedelta(days=3650))
        return
    assert plan.is_permitted("driving", lifted)
    if lifted > ended:
        assert not plan.is_permitted("driving", lifted - dt.timedelta(microseconds=1))
