"""Plain English formatting of local times, with no locale or extra dependency.

It lives in the engine, below the formats, because a decision made under a clinician's
override says in words when the change applies; the formats use it from here.  A time
shown to a person is never earlier than the instant it stands for: an instant part-way
through a minute is shown as the next minute.
"""

from __future__ import annotations

import datetime as dt

__all__ = [
    "format_clock",
    "format_date",
    "format_local",
    "format_offset",
    "format_short",
    "round_down_to_minute",
    "round_up_to_minute",
]

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_UTC = dt.timezone.utc
_MINUTE = dt.timedelta(minutes=1)


def round_up_to_minute(moment: dt.datetime) -> dt.datetime:
    """The first instant at or after ``moment`` whose local reading is a whole minute.

    A time shown to a person is never earlier than the true one: a lift at 23:30:59
    is shown as 23:31, never as 23:30.  The step is taken on the instant (in UTC) and
    read back in the zone, so a DST change in that minute cannot move it backwards.

    >>> import zoneinfo
    >>> ny = zoneinfo.ZoneInfo("America/New_York")
    >>> round_up_to_minute(dt.datetime(2026, 11, 25, 23, 30, 59, tzinfo=ny)).isoformat()
    '2026-11-25T23:31:00-05:00'
    """
    into = dt.timedelta(seconds=moment.second, microseconds=moment.microsecond)
    if not into:
        return moment
    tz = moment.tzinfo
    return (moment.astimezone(_UTC) - into + _MINUTE).astimezone(tz)


def format_offset(offset: dt.timedelta) -> str:
    """``UTC+05:30``, ``UTC-03:00``, ``UTC+00:00`` (seconds, as in old local mean times, kept).

    >>> format_offset(dt.timedelta(hours=-3))
    'UTC-03:00'
    """
    sign = "-" if offset < dt.timedelta(0) else "+"
    seconds = abs(int(offset.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


def round_down_to_minute(moment: dt.datetime) -> dt.datetime:
    """The last instant at or before ``moment`` whose local reading is a whole minute:
    for the end of a permission, which must never be shown later than it is true.

    >>> import zoneinfo
    >>> ny = zoneinfo.ZoneInfo("America/New_York")
    >>> round_down_to_minute(dt.datetime(2026, 11, 25, 23, 30, 59, tzinfo=ny)).isoformat()
    '2026-11-25T23:30:00-05:00'
    """
    into = dt.timedelta(seconds=moment.second, microseconds=moment.microsecond)
    return (moment.astimezone(_UTC) - into).astimezone(moment.tzinfo)


def format_local(moment: dt.datetime, *, us: bool = False, down: bool = False) -> str:
    """``Thu 26 Nov 2026, 06:00 EST``: a local time with the zone's abbreviation.

    With ``us``, the United States form with a 12-hour clock: ``Thu Nov 26, 2026,
    6:00 AM EST``.  Where the tzinfo gives no name (``tzname()`` is None), the numeric
    UTC offset is shown instead.  A moment part-way through a minute shows the next
    minute (:func:`round_up_to_minute`); with ``down``, the minute it is in
    (:func:`round_down_to_minute`), for the instant a permission ends.

    >>> import zoneinfo
    >>> ny = zoneinfo.ZoneInfo("America/New_York")
    >>> format_local(dt.datetime(2026, 11, 26, 6, tzinfo=ny))
    'Thu 26 Nov 2026, 06:00 EST'
    >>> format_local(dt.datetime(2026, 11, 25, 23, 30, 59, tzinfo=ny), us=True)
    'Wed Nov 25, 2026, 11:31 PM EST'
    """
    moment = round_down_to_minute(moment) if down else round_up_to_minute(moment)
    offset = moment.utcoffset()
    name = moment.tzname() or format_offset(offset or dt.timedelta(0))
    day, month = _DAYS[moment.weekday()], _MONTHS[moment.month - 1]
    if us:
        hour = moment.hour % 12 or 12
        half = "AM" if moment.hour < 12 else "PM"
        return (
            f"{day} {month} {moment.day}, {moment.year:04d}, "
            f"{hour}:{moment.minute:02d} {half} {name}"
        )
    clock = f"{moment.hour:02d}:{moment.minute:02d}"
    return f"{day} {moment.day} {month} {moment.year:04d}, {clock} {name}"


def format_date(moment: dt.datetime, *, us: bool = False) -> str:
    """``Sun 8 Mar 2026`` (with ``us``: ``Sun Mar 8, 2026``): the local date alone.

    >>> format_date(dt.datetime(2026, 3, 8, 12), us=True)
    'Sun Mar 8, 2026'
    """
    day, month = _DAYS[moment.weekday()], _MONTHS[moment.month - 1]
    if us:
        return f"{day} {month} {moment.day}, {moment.year:04d}"
    return f"{day} {moment.day} {month} {moment.year:04d}"


def format_short(moment: dt.datetime, *, down: bool = False) -> str:
    """``Thu 26 Nov 06:00 EST``: a local time for a reader who knows the year, rounded up
    to the minute (:func:`round_up_to_minute`), or with ``down`` down to it.

    >>> import zoneinfo
    >>> format_short(dt.datetime(2026, 11, 26, 6, tzinfo=zoneinfo.ZoneInfo("America/New_York")))
    'Thu 26 Nov 06:00 EST'
    """
    moment = round_down_to_minute(moment) if down else round_up_to_minute(moment)
    offset = moment.utcoffset()
    name = moment.tzname() or format_offset(offset or dt.timedelta(0))
    return (
        f"{_DAYS[moment.weekday()]} {moment.day} {_MONTHS[moment.month - 1]} "
        f"{moment.hour:02d}:{moment.minute:02d} {name}"
    )


def format_clock(moment: dt.datetime) -> str:
    """``18:30``: the wall-clock time alone, rounded up to the minute.

    >>> format_clock(dt.datetime(2026, 11, 25, 18, 29, 1))
    '18:30'
    """
    moment = round_up_to_minute(moment)
    return f"{moment.hour:02d}:{moment.minute:02d}"
