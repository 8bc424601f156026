"""The time engine: named real transitions, and the laws as properties over every zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo

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
    Never,
    NextDay,
    Window,
)
from ketamine_guidance._engine.windows import latest_instant, lift_instant
from tests.strategies import instants, zones

UTC = dt.timezone.utc
SIX = dt.time(6)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def lift(
    window: Window, ended: dt.datetime, zone: str, next_day_begins: dt.time = SIX
) -> dt.datetime | None:
    tz = zoneinfo.ZoneInfo(zone)
    local_day = ended.astimezone(tz).date()
    return lift_instant(window, ended, local_day, tz, next_day_begins)


# Named cases: real transitions.  Each expected value is worked out by hand from the
# zone's published offsets, and written as UTC.


@pytest.mark.parametrize(
    ("zone", "wall", "expected_utc", "why"),
    [
        # New York springs forward at 02:00 EST to 03:00 EDT: 02:30 does not exist and is
        # read with the offset before the gap (-05:00), i.e. 03:30 EDT.
        ("America/New_York", dt.datetime(2026, 3, 8, 2, 30), utc(2026, 3, 8, 7, 30), "gap"),
        # New York falls back at 02:00 EDT to 01:00 EST: 01:30 happens twice; the
        # second (EST, -05:00) is the later instant.
        ("America/New_York", dt.datetime(2026, 11, 1, 1, 30), utc(2026, 11, 1, 6, 30), "fold"),
        ("America/New_York", dt.datetime(2026, 11, 1, 0, 59), utc(2026, 11, 1, 4, 59), "plain"),
        # London: 01:00 GMT -> 02:00 BST, and back at 02:00 BST -> 01:00 GMT.
        ("Europe/London", dt.datetime(2026, 3, 29, 1, 30), utc(2026, 3, 29, 1, 30), "gap"),
        ("Europe/London", dt.datetime(2026, 10, 25, 1, 30), utc(2026, 10, 25, 1, 30), "fold"),
        # Lord Howe moves by 30 minutes: +10:30 -> +11:00 at 02:00, back at 02:00 -> 01:30.
        ("Australia/Lord_Howe", dt.datetime(2026, 10, 4, 2, 15), utc(2026, 10, 3, 15, 45), "gap"),
        ("Australia/Lord_Howe", dt.datetime(2026, 4, 5, 1, 45), utc(2026, 4, 4, 15, 15), "fold"),
        # Santiago changes at midnight: 2026-09-06 00:00 -04 -> 01:00 -03, and
        # 2026-04-05 00:00 -03 -> 2026-04-04 23:00 -04.
        ("America/Santiago", dt.datetime(2026, 9, 6, 0, 0), utc(2026, 9, 6, 4, 0), "gap"),
        ("America/Santiago", dt.datetime(2026, 4, 4, 23, 30), utc(2026, 4, 5, 3, 30), "fold"),
        # Samoa skipped 2011-12-30 entirely (-10:00 -> +14:00): its 06:00 becomes
        # 2011-12-31 06:00 +14:00.
        ("Pacific/Apia", dt.datetime(2011, 12, 30, 6, 0), utc(2011, 12, 30, 16, 0), "skipped day"),
        # Kathmandu: +05:45, and a 15-minute gap when it moved from +05:30 in 1986.
        ("Asia/Kathmandu", dt.datetime(2026, 11, 26, 6, 0), utc(2026, 11, 26, 0, 15), "plain"),
        ("Asia/Kathmandu", dt.datetime(1986, 1, 1, 0, 10), utc(1985, 12, 31, 18, 40), "gap"),
    ],
)
def test_latest_instant_named_cases(zone, wall, expected_utc, why):
    assert latest_instant(wall, zoneinfo.ZoneInfo(zone)) == expected_utc, why


def test_skipped_day_next_day_lifts_on_the_day_after():
    # A session in Apia ending 2011-12-29 10:00 local (-10:00): its next day was skipped,
    # so the restriction holds until 06:00 on 2011-12-31.
    ended = utc(2011, 12, 29, 20, 0)
    lifted = lift(NextDay(), ended, "Pacific/Apia")
    assert lifted == utc(2011, 12, 30, 16, 0)
    assert lifted.astimezone(zoneinfo.ZoneInfo("Pacific/Apia")).isoformat() == (
        "2011-12-31T06:00:00+14:00"
    )


def test_santiago_end_of_day_in_a_midnight_gap():
    # 2026-09-05 evening in Santiago; the midnight that ends the day does not exist.
    ended = utc(2026, 9, 5, 22, 0)  # 18:00 -04
    assert lift(EndOfDay(), ended, "America/Santiago") == utc(2026, 9, 6, 4, 0)


def test_hours_count_elapsed_time_across_a_dst_change():
    # 18:00 EST the evening before New York springs forward: 24 elapsed hours later it
    # is 19:00 EDT on the wall clock.
    ended = utc(2026, 3, 7, 23, 0)
    lifted = lift(Hours(24), ended, "America/New_York")
    assert lifted == utc(2026, 3, 8, 23, 0)
    assert lifted.astimezone(zoneinfo.ZoneInfo("America/New_York")).hour == 19


def test_next_day_lift_inside_a_fold_is_the_second_occurrence():
    ended = utc(2026, 10, 31, 22, 0)
    lifted = lift(NextDay(), ended, "America/New_York", dt.time(1, 30))
    assert lifted == utc(2026, 11, 1, 6, 30)


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        (Immediately(), utc(2026, 11, 25, 23, 30)),
        (NextDay(), utc(2026, 11, 26, 11, 0)),
        (DayAt(day=2, at=dt.time(9, 15)), utc(2026, 11, 27, 14, 15)),
        (EndOfDay(), utc(2026, 11, 26, 5, 0)),
        (Hours(hours=1.5), utc(2026, 11, 26, 1, 0)),
        (Never(), None),
        (LatestOf((NextDay(), Hours(24))), utc(2026, 11, 26, 23, 30)),
        (LatestOf((NextDay(), Never())), None),
    ],
)
def test_each_window_for_an_evening_session_in_new_york(window, expected):
    assert lift(window, utc(2026, 11, 25, 23, 30), "America/New_York") == expected


def test_a_lift_past_the_last_representable_instant_never_lifts():
    ended = dt.datetime.max.replace(tzinfo=UTC) - dt.timedelta(hours=1)
    assert lift(Hours(2), ended, "UTC") is None


# Properties.


@given(
    zone=zones,
    moment=st.datetimes(min_value=dt.datetime(1900, 1, 3), max_value=dt.datetime(2100, 12, 29)),
)
def test_latest_instant_agrees_with_pep_495(zone, moment):
    """An independent oracle: zoneinfo's fold=0/fold=1 readings; ours is the later one."""
    first = moment.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = moment.replace(tzinfo=zone, fold=1).astimezone(UTC)
    assert latest_instant(moment, zone) == max(first, second)


@given(
    zone=zones,
    moment=st.datetimes(min_value=dt.datetime(1900, 1, 3), max_value=dt.datetime(2100, 12, 29)),
)
def test_latest_instant_means_the_wall_time_or_follows_a_gap(zone, moment):
    resolved = latest_instant(moment, zone)
    local = resolved.astimezone(zone).replace(tzinfo=None)
    if local == moment:
        # No later instant reads the same wall time an hour or more on (folds are shorter
        # than a day; check the other offsets in force nearby).
        for hours in (1, 2, 24):
            later = resolved + dt.timedelta(hours=hours)
            assert later.astimezone(zone).replace(tzinfo=None) != moment
    else:
        # A gap: the reading is the wall time pushed forward by the size of the gap.
        assert local > moment


@given(zone=zones, ended=instants, at=st.times())
def test_next_day_is_on_a_later_local_day_at_or_after_its_time(zone, ended, at):
    lifted = lift_instant(NextDay(), ended, ended.astimezone(zone).date(), zone, at)
    assert lifted is not None
    local = lifted.astimezone(zone)
    end_day = ended.astimezone(zone).date()
    assert local.date() > end_day
    if local.date() == end_day + dt.timedelta(days=1):
        assert local.time() >= at


@given(zone=zones, ended=instants, hours=st.integers(min_value=1, max_value=24 * 400))
def test_hours_are_elapsed_time_in_every_zone(zone, ended, hours):
    lifted = lift_instant(Hours(hours), ended, ended.astimezone(zone).date(), zone, SIX)
    assert lifted == ended + dt.timedelta(hours=hours)


def _gettz(name: str) -> dt.tzinfo:
    zone = dateutil_tz.gettz(name)
    assert zone is not None
    return zone


# pytz and dateutil stop applying DST rules after 2037 (they read only the explicit
# transitions of the tz database, not its rule for later years), so the flavours are
# compared where their data agree.
_SHARED_YEARS = st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2037, 12, 1))


@given(
    ended=_SHARED_YEARS.map(lambda d: d.replace(tzinfo=UTC)),
    moment=st.sampled_from([(2026, 3, 8), (2026, 11, 1), (2011, 12, 30)]),
)
def test_every_tzinfo_flavour_resolves_alike(ended, moment):
    """zoneinfo, dateutil and pytz zones give the same instants (the engine only asks
    each to convert UTC to local time)."""
    import pytz

    wall = dt.datetime(*moment).replace(hour=1, minute=30)
    for name in ("America/New_York", "Pacific/Apia", "Europe/London"):
        flavours: list[dt.tzinfo] = [
            zoneinfo.ZoneInfo(name),
            _gettz(name),
            pytz.timezone(name),
        ]
        answers = {latest_instant(wall, tz) for tz in flavours}
        assert len(answers) == 1, (name, answers)
        local_day = ended.astimezone(flavours[0]).date()
        lifts = {lift_instant(NextDay(), ended, local_day, tz, SIX) for tz in flavours}
        assert len(lifts) == 1, (name, lifts)
