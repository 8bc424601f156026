"""The time engine: turn a window and a session end into the instant a restriction lifts.

Every instant here is an aware datetime in UTC.  Local wall-clock readings are only
used to name a calendar day and a time of day; they are resolved to an instant once,
with the policy that keeps a restriction in force longest:

* a wall time that happens twice (a DST fold) means its later occurrence;
* a wall time that never happens (a DST gap, or a skipped calendar day) is read with
  the UTC offset in force before the gap, which is the latest instant it can mean.

The engine only asks a tzinfo to convert UTC instants to local time
(``datetime.astimezone``), which zoneinfo, dateutil, pytz and fixed offsets all do
correctly, so every tzinfo flavour gives the same answer.
"""

from __future__ import annotations

import datetime as dt
import functools

from ketamine_guidance._rules.model import (
    DayAt,
    EndOfDay,
    Hours,
    Immediately,
    LatestOf,
    Never,
    NextDay,
    Window,
)

__all__ = [
    "UTC",
    "BEYOND_RANGE",
    "calendar_wall",
    "latest_instant",
    "lift_instant",
    "never_lifts",
    "wall_instants",
    "wall_reading",
]

#: What the plan says of a restriction that would lift after the last datetime Python
#: can represent (``datetime.max``): it is in force for as long as this library can tell.
BEYOND_RANGE = "beyond the dates this library can represent"

UTC = dt.timezone.utc

# Offsets lie within +-26 hours of UTC, so these probes see the offsets in force on
# both sides of any transition near a wall time (including a skipped day).
_PROBES = tuple(dt.timedelta(hours=h) for h in (-48, -24, 0, 24, 48))


def wall_reading(instant: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The naive local wall-clock reading of a UTC instant in ``tz``."""
    return instant.astimezone(tz).replace(tzinfo=None)


def _offset(instant: dt.datetime, tz: dt.tzinfo) -> dt.timedelta:
    offset = instant.astimezone(tz).utcoffset()
    assert offset is not None  # noqa: S101  (zones are checked for offsets when a Session is made)
    return offset


def _candidates(wall: dt.datetime, tz: dt.tzinfo) -> list[dt.datetime]:
    guess = wall.replace(tzinfo=UTC)
    return sorted({guess - _offset(guess + p, tz) for p in _PROBES})


def wall_instants(wall: dt.datetime, tz: dt.tzinfo) -> list[dt.datetime]:
    """Every UTC instant whose local reading in ``tz`` is ``wall``, earliest first.

    One instant for an ordinary wall time, two in a DST fold, none in a gap.
    """
    return [c for c in _candidates(wall, tz) if wall_reading(c, tz) == wall]


def _resolve(wall: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    candidates = _candidates(wall, tz)
    exact = [c for c in candidates if wall_reading(c, tz) == wall]
    if exact:
        return exact[-1]  # in a fold: the second occurrence
    # A gap: read the wall time with the offset in force just before it.
    before = max(c for c in candidates if wall_reading(c, tz) < wall)
    return wall.replace(tzinfo=UTC) - _offset(before, tz)


_resolve_cached = functools.lru_cache(maxsize=65536)(_resolve)


def latest_instant(wall: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The latest UTC instant that the naive wall-clock reading ``wall`` can mean in ``tz``.

    >>> from zoneinfo import ZoneInfo
    >>> ny = ZoneInfo("America/New_York")
    >>> latest_instant(dt.datetime(2026, 3, 8, 2, 30), ny)  # in the spring gap
    datetime.datetime(2026, 3, 8, 7, 30, tzinfo=datetime.timezone.utc)
    >>> latest_instant(dt.datetime(2026, 11, 1, 1, 30), ny)  # in the autumn fold
    datetime.datetime(2026, 11, 1, 6, 30, tzinfo=datetime.timezone.utc)
    """
    if tz.__hash__ is None:  # an unhashable tzinfo (dateutil's tzfile): no cache
        return _resolve(wall, tz)
    return _resolve_cached(wall, tz)


def lift_instant(
    window: Window,
    ended: dt.datetime,
    local_day: dt.date,
    tz: dt.tzinfo,
    next_day_begins: dt.time,
) -> dt.datetime | None:
    """The UTC instant at which ``window`` lifts for a session that ended at ``ended`` (UTC).

    ``local_day`` is the calendar day on which the session ended in ``tz``.  None means
    the window never lifts, including when the instant would fall beyond the last
    datetime Python can represent.  The result is never before ``ended``.
    """
    try:
        lifted = _lift(window, ended, local_day, tz, next_day_begins)
        if lifted is not None and lifted.year == dt.MAXYEAR:
            lifted.astimezone(tz)  # its local reading must exist too (east of UTC)
    except OverflowError:
        return None
    return None if lifted is None else max(lifted, ended)


def never_lifts(window: Window) -> bool:
    """Whether ``window`` never lifts by itself (``never``, or a ``latest_of`` with one).

    :func:`lift_instant` gives None for these and for a window that would lift beyond
    ``datetime.max``; this tells the two apart, so the second is reported as
    :data:`BEYOND_RANGE`, not as "no end is given".
    """
    if isinstance(window, LatestOf):
        return any(never_lifts(w) for w in window.windows)
    return isinstance(window, Never)


def _lift(
    window: Window,
    ended: dt.datetime,
    local_day: dt.date,
    tz: dt.tzinfo,
    next_day_begins: dt.time,
) -> dt.datetime | None:
    if isinstance(window, Immediately):
        return ended
    if isinstance(window, Hours):
        return ended + dt.timedelta(hours=window.hours)
    if isinstance(window, Never):
        return None
    if isinstance(window, LatestOf):
        parts = [_lift(w, ended, local_day, tz, next_day_begins) for w in window.windows]
        return None if None in parts else max(p for p in parts if p is not None)
    day, at = calendar_wall(window, next_day_begins)
    wall = dt.datetime.combine(local_day + dt.timedelta(days=day), at)
    return latest_instant(wall, tz)


def calendar_wall(window: Window, next_day_begins: dt.time) -> tuple[int, dt.time]:
    """A calendar window's wall time: how many days after the local date, and at what time
    of day (``next_day``: the ruleset's ``next_day_begins``; ``end_of_day``: midnight)."""
    if isinstance(window, NextDay):
        return 1, next_day_begins
    if isinstance(window, DayAt):
        return window.day, window.at
    assert isinstance(window, EndOfDay)  # noqa: S101  (the Window union is closed)
    return 1, dt.time(0)
