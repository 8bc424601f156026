"""Plain English formatting of local times, with no locale or extra dependency.

A time shown to a patient is never earlier than the instant it stands for: an instant
part-way through a minute is shown as the next minute (a lift at 23:30:59 reads
23:31), so a restriction never appears to end early.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["ceil_minute", "format_date", "format_local", "format_offset"]

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_UTC = dt.timezone.utc
_MINUTE = dt.timedelta(minutes=1)


def ceil_minute(moment: dt.datetime) -> dt.datetime:
    """``moment`` moved forward to the next whole local minute, unless it is on one.

    The step is made in UTC and converted back, so it is right across a DST change.

    >>> import zoneinfo
    >>> ny = zoneinfo.ZoneInfo("America/New_York")
    >>> ceil_minute(dt.datetime(2026, 11, 25, 23, 30, 59, tzinfo=ny)).isoformat()
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


def format_local(moment: dt.datetime, *, us: bool = False) -> str:
    """``Thu 26 Nov 2026, 06:00 EST``: a local time with the zone's abbreviation.

    With ``us``, the United States form with a 12-hour clock: ``Thu Nov 26, 2026,
    6:00 AM EST``.  Where the tzinfo gives no name (``tzname()`` is None), the numeric
    UTC offset is shown instead.  A moment part-way through a minute shows the next
    minute (:func:`ceil_minute`).

    >>> import zoneinfo
    >>> ny = zoneinfo.ZoneInfo("America/New_York")
    >>> format_local(dt.datetime(2026, 11, 26, 6, tzinfo=ny))
    'Thu 26 Nov 2026, 06:00 EST'
    >>> format_local(dt.datetime(2026, 11, 25, 23, 30, 59, tzinfo=ny), us=True)
    'Wed Nov 25, 2026, 11:31 PM EST'
    """
    moment = ceil_minute(moment)
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
