"""Plain English formatting of local times, with no locale or extra dependency."""

from __future__ import annotations

import datetime as dt

__all__ = ["ceil_minute", "format_clock", "format_local", "format_short"]

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_local(moment: dt.datetime) -> str:
    """``Thu 26 Nov 2026, 06:00 EST``: a local time with the zone's abbreviation.

    Where the tzinfo gives no name (``tzname()`` is None), the numeric UTC offset is
    shown instead.

    >>> import zoneinfo
    >>> format_local(dt.datetime(2026, 11, 26, 6, tzinfo=zoneinfo.ZoneInfo("America/New_York")))
    'Thu 26 Nov 2026, 06:00 EST'
    """
    name = moment.tzname() or moment.strftime("UTC%z")
    return (
        f"{_DAYS[moment.weekday()]} {moment.day} {_MONTHS[moment.month - 1]} "
        f"{moment.year:04d}, {moment.hour:02d}:{moment.minute:02d} {name}"
    )


def ceil_minute(moment: dt.datetime) -> dt.datetime:
    """``moment`` rounded up to a whole minute, so a time shown to the minute is never
    earlier than the instant it stands for.

    >>> ceil_minute(dt.datetime(2026, 11, 26, 6, 0, 0, 250000)).time()
    datetime.time(6, 1)
    """
    if moment.second or moment.microsecond:
        return moment.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    return moment


def format_short(moment: dt.datetime) -> str:
    """``Thu 26 Nov 06:00 EST``: a local time for a reader who knows the year.

    >>> import zoneinfo
    >>> format_short(dt.datetime(2026, 11, 26, 6, tzinfo=zoneinfo.ZoneInfo("America/New_York")))
    'Thu 26 Nov 06:00 EST'
    """
    name = moment.tzname() or moment.strftime("UTC%z")
    return (
        f"{_DAYS[moment.weekday()]} {moment.day} {_MONTHS[moment.month - 1]} "
        f"{moment.hour:02d}:{moment.minute:02d} {name}"
    )


def format_clock(moment: dt.datetime) -> str:
    """``18:30``: the wall-clock time alone.

    >>> format_clock(dt.datetime(2026, 11, 25, 18, 30))
    '18:30'
    """
    return f"{moment.hour:02d}:{moment.minute:02d}"
