"""Sessions, and checking the datetimes and zones callers give us."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

from attrs import field, frozen

from ketamine_guidance._engine.windows import UTC
from ketamine_guidance._errors import GuidanceError, NaiveDatetimeError, UnknownTimezoneError
from ketamine_guidance._text import shorten

__all__ = ["Session", "ensure_aware", "in_range", "resolve_timezone", "zone_name"]


def ensure_aware(value: object, what: str) -> dt.datetime:
    """Return ``value`` if it is an aware datetime; raise a clear error otherwise."""
    if not isinstance(value, dt.datetime):
        msg = f"{what} must be a timezone-aware datetime, not {type(value).__name__}"
        raise TypeError(msg)
    if value.tzinfo is None or value.utcoffset() is None:
        msg = (
            f"{what} is naive ({value.isoformat()}): give it a time zone, "
            "for example datetime(..., tzinfo=timezone.utc)"
        )
        raise NaiveDatetimeError(msg)
    return value


@functools.lru_cache(maxsize=1024)
def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        msg = (
            f"unknown time zone {shorten(repr(name))}: give an IANA name such as 'America/New_York'"
        )
        raise UnknownTimezoneError(msg) from None


def resolve_timezone(value: object) -> dt.tzinfo:
    """An IANA name (resolved with zoneinfo) or a tzinfo, checked to give offsets."""
    if isinstance(value, str):
        return _zone(value)
    if not isinstance(value, dt.tzinfo):
        msg = f"timezone must be an IANA name or a tzinfo, not {type(value).__name__}"
        raise TypeError(msg)
    return _checked_zone(value)


def _check_zone(value: dt.tzinfo) -> dt.tzinfo:
    try:
        probe = dt.datetime(2000, 1, 1, tzinfo=UTC).astimezone(value)
        offset = probe.utcoffset()
    except (ValueError, TypeError, OverflowError):  # fromutc: utcoffset() or dst() is None
        offset = None
    if offset is None:
        msg = f"time zone {shorten(repr(value))} gives no UTC offset"
        raise UnknownTimezoneError(msg)
    return value


# A batch makes many sessions in a few zones: check each zone object once.  The cache
# is keyed on the object itself, not on equality: timezone(+1, "BST") equals
# timezone(+1, "CET"), and a session keeps the one it was given.
_CHECKED: dict[int, dt.tzinfo] = {}
_CHECKED_MAX = 1024


def _checked_zone(value: dt.tzinfo) -> dt.tzinfo:
    if _CHECKED.get(id(value)) is not value:
        _check_zone(value)
        if len(_CHECKED) >= _CHECKED_MAX:
            _CHECKED.clear()
        _CHECKED[id(value)] = value  # holds the object, so its id is not reused
    return value


def in_range(moment: dt.datetime, zone: dt.tzinfo, what: str) -> dt.datetime:
    """``moment`` in UTC, checked to have a reading in UTC and in ``zone``."""
    try:
        utc = moment.astimezone(UTC)
        if utc.year in (dt.MINYEAR, dt.MAXYEAR):  # offsets are under a day: only these
            utc.astimezone(zone)
    except OverflowError:
        msg = (
            f"{what} ({moment.isoformat()}) is too close to the first or last date a "
            "datetime can hold: it has no reading in UTC or in the patient's time zone"
        )
        raise GuidanceError(msg) from None
    return utc


def zone_name(tz: dt.tzinfo) -> str | None:
    """The IANA name of a zone, where it has one (zoneinfo, pytz, dateutil, UTC)."""
    if tz is UTC:
        return "UTC"
    for attr in ("key", "zone"):  # zoneinfo.ZoneInfo.key, pytz's .zone
        name = getattr(tz, attr, None)
        if isinstance(name, str):
            return name
    filename = getattr(tz, "_filename", None)  # dateutil.tz.tzfile
    if isinstance(filename, str) and "/" in filename:
        parts = filename.split("/")
        for i in range(len(parts)):
            candidate = "/".join(parts[i:])
            if candidate in _available():
                return candidate
    return None


@functools.lru_cache(maxsize=1)
def _available() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@frozen(init=False)
class Session:
    """One ketamine session: when it ended, and the patient's local time zone.

    ``ended_at`` must be timezone-aware.  ``timezone`` is the zone that decides what
    "the next day" means for the patient: an IANA name, any tzinfo, or None for
    ``ended_at``'s own tzinfo.  EHRs usually store UTC, so pass the patient's zone.

    Two sessions are equal when they ended at the same instant in the same zone.

    >>> import datetime as dt
    >>> s = Session(dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.timezone.utc), "America/New_York")
    >>> s.ended_at_local.isoformat()
    '2026-11-25T18:30:00-05:00'
    """

    ended_at: dt.datetime = field(eq=False)
    timezone: dt.tzinfo
    ended_at_utc: dt.datetime = field(repr=False)

    def __init__(self, ended_at: dt.datetime, timezone: dt.tzinfo | str | None = None) -> None:
        ended_at = ensure_aware(ended_at, "ended_at")
        zone = resolve_timezone(ended_at.tzinfo if timezone is None else timezone)
        # attrs writes __attrs_init__ for a class with init=False; pyright cannot see it.
        self.__attrs_init__(  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]
            ended_at, zone, in_range(ended_at, zone, "ended_at")
        )

    @property
    def ended_at_local(self) -> dt.datetime:
        """When the session ended, in the patient's zone."""
        return self.ended_at_utc.astimezone(self.timezone)

    @property
    def zone_name(self) -> str | None:
        """The IANA name of the patient's zone, where it has one."""
        return zone_name(self.timezone)
