"""Plain English formatting of local times, with no locale or extra dependency."""

from __future__ import annotations

import datetime as dt

__all__ = ["format_local"]

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
