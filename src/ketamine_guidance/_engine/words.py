"""Plain English formatting of local times, with no locale or extra dependency.

It lives in the engine, below the formats, because a decision made under a clinician's
override says in words when the change applies; the formats use it from here.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["format_local", "round_up_to_minute"]

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MINUTE = dt.timedelta(minutes=1)


def round_up_to_minute(moment: dt.datetime) -> dt.datetime:
    """The first instant at or after ``moment`` whose local reading is a whole minute.

    A time shown to a person is never earlier than the true one: a lift at 23:30:59
    is shown as 23:31, never as 23:30.  The step is taken on the instant (in UTC) and
    read back in the zone, so a DST change in that minute cannot move it backwards.
    """
    extra = dt.timedelta(seconds=moment.second, microseconds=moment.microsecond)
    if not extra:
        return moment
    tz = moment.tzinfo
    utc = moment.astimezone(dt.timezone.utc) + (_MINUTE - extra)
    return utc.astimezone(tz)


def format_local(moment: dt.datetime) -> str:
    """``Thu 26 Nov 2026, 06:00 EST``: a local time with the zone's abbreviation.

    Seconds are not shown, so the time is rounded up to the next whole minute
    (:func:`round_up_to_minute`).  Where the tzinfo gives no name (``tzname()`` is
    None), the numeric UTC offset is shown instead.

    >>> import zoneinfo
    >>> ny = zoneinfo.ZoneInfo("America/New_York")
    >>> format_local(dt.datetime(2026, 11, 26, 6, tzinfo=ny))
    'Thu 26 Nov 2026, 06:00 EST'
    >>> format_local(dt.datetime(2026, 11, 26, 23, 30, 59, tzinfo=ny))
    'Thu 26 Nov 2026, 23:31 EST'
    """
    moment = round_up_to_minute(moment)
    name = moment.tzname() or moment.strftime("UTC%z")
    return (
        f"{_DAYS[moment.weekday()]} {moment.day} {_MONTHS[moment.month - 1]} "
        f"{moment.year:04d}, {moment.hour:02d}:{moment.minute:02d} {name}"
    )
