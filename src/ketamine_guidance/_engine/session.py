"""Sessions, and checking the datetimes and zones callers give us."""

from __future__ import annotations

import datetime as dt
import functools
import sys

from attrs import field, frozen

from ketamine_guidance._engine.windows import UTC
from ketamine_guidance._errors import (
    GuidanceError,
    MissingTimezoneError,
    NaiveDatetimeError,
    UnknownTimezoneError,
)
from ketamine_guidance._text import shorten

__all__ = [
    "Session",
    "ensure_aware",
    "fixed_offset_name",
    "in_range",
    "region_zone",
    "resolve_timezone",
    "zone_name",
]


def _is_zoneinfo(value: object) -> bool:
    """Whether ``value`` is a ``zoneinfo.ZoneInfo``: if zoneinfo is not loaded, it is not."""
    module = sys.modules.get("zoneinfo")
    return module is not None and isinstance(value, module.ZoneInfo)


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


# Names of zones that are one fixed offset for ever.  Those that name UTC are a
# deliberate choice when given as ``timezone``; the others read like a region
# ("EST", "Etc/GMT+5") but never keep daylight time, so they are refused.
_UTC_NAMES = frozenset(
    {"UTC", "UCT", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich", "Universal", "Zulu"}
    | {f"Etc/{n}" for n in ("UTC", "UCT", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich")}
    | {"Etc/Universal", "Etc/Zulu"}
)
_REGION_LIKE_FIXED = {
    "EST": "America/New_York",
    "MST": "America/Denver",
    "HST": "Pacific/Honolulu",
    "Factory": "America/New_York",
}


def fixed_offset_name(name: str) -> bool:
    """Whether ``name`` is a tz database name of a zone that is one fixed offset."""
    return name in _UTC_NAMES or name in _REGION_LIKE_FIXED or name.startswith("Etc/")


def _refuse_region_like(name: str) -> None:
    """Raise for a fixed-offset name that reads like a region (EST, Etc/GMT+5)."""
    if name in _UTC_NAMES or not fixed_offset_name(name):
        return
    example = _REGION_LIKE_FIXED.get(name, "America/New_York")
    msg = (
        f"time zone {name!r} is a fixed UTC offset that never changes for daylight time: "
        f"give the patient's region instead, such as {example!r}"
    )
    raise UnknownTimezoneError(msg)


@functools.lru_cache(maxsize=1024)
def _zone(name: str) -> dt.tzinfo:
    # Only the names the tz database lists: zoneinfo also opens files such as
    # "right/America/New_York" (leap seconds) and reads them wrongly.
    if name not in _available():
        msg = (
            f"unknown time zone {shorten(repr(name))}: give an IANA name such as 'America/New_York'"
        )
        raise UnknownTimezoneError(msg)
    import zoneinfo  # loaded by _available()

    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # pragma: no cover
        # Listed but unreadable (a damaged tz database): still refused clearly.
        msg = (
            f"unknown time zone {shorten(repr(name))}: give an IANA name such as 'America/New_York'"
        )
        raise UnknownTimezoneError(msg) from None


def resolve_timezone(value: object) -> dt.tzinfo:
    """An IANA name (resolved with zoneinfo) or a tzinfo, checked to give offsets.

    A fixed-offset name that reads like a region (``EST``) is refused; a tzinfo
    object is the caller's choice and is kept, except that a pytz or dateutil zone
    with an IANA name is read through zoneinfo by that name, so that every tzinfo
    library gives the same answer in every year (pytz's table stops daylight time
    after 2037), and a zone whose name the tz database does not list is refused.
    """
    if isinstance(value, str):
        zone = _BY_NAME.get(value)
        if zone is None:
            _refuse_region_like(value)
            zone = _BY_NAME[value] = _zone(value)  # at most one per name the database lists
        return zone
    hit = _BY_ZONE.get(id(value))
    if hit is not None and hit[0] is value:
        return hit[1]
    zone = _resolve_zone(value)
    if len(_BY_ZONE) >= _ZONES_MAX:
        _BY_ZONE.clear()
    _BY_ZONE[id(value)] = (value, zone)  # holds the object, so its id is not reused
    return zone


# Zones already resolved: names, and tzinfo objects keyed by identity (never by
# equality, as timezone(+1, "BST") equals timezone(+1, "CET")).  Only accepted zones are
# kept, so a refused one is refused with its message every time.
_BY_NAME: dict[str, dt.tzinfo] = {}
_BY_ZONE: dict[int, tuple[object, dt.tzinfo]] = {}
_ZONES_MAX = 1024


def _resolve_zone(value: object) -> dt.tzinfo:
    if not isinstance(value, dt.tzinfo):
        msg = f"timezone must be an IANA name or a tzinfo, not {type(value).__name__}"
        raise TypeError(msg)
    if value is UTC:
        return value
    name = zone_name(value)
    if _is_zoneinfo(value):
        if name is not None:  # a ZoneInfo made from a file has no key
            return _zone(name)
    elif name is not None:
        return _zone(name)
    return _check_zone(value)


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
    """The tz database name of a zone, where it has one (zoneinfo, pytz, dateutil, UTC).

    For a dateutil zone read from a file, the path below the ``zoneinfo`` directory
    (``right/America/New_York`` too, which the caller then refuses as unknown).
    """
    if tz is UTC:
        return "UTC"
    for attr in ("key", "zone"):  # zoneinfo.ZoneInfo.key, pytz's .zone
        name = getattr(tz, attr, None)
        if isinstance(name, str):
            return name
    filename = getattr(tz, "_filename", None)  # dateutil.tz.tzfile
    if isinstance(filename, str) and filename:
        parts = filename.replace("\\", "/").split("/")
        if "zoneinfo" in parts[:-1]:
            last = len(parts) - 1 - parts[::-1].index("zoneinfo")
            return "/".join(parts[last + 1 :])
        if filename in _available():  # dateutil's own bundled copy names the zone
            return filename
    return None


def region_zone(tz: dt.tzinfo) -> bool:
    """Whether ``tz`` is a region's zone (an IANA name that is not a fixed offset)."""
    name = zone_name(tz)
    return name is not None and name in _available() and not fixed_offset_name(name)


@functools.lru_cache(maxsize=1)
def _available() -> frozenset[str]:
    # "localtime" (listed where the system's tz database has that file) is this
    # machine's own zone, never the patient's.
    import zoneinfo  # with the first zone: it reads the system's paths at import

    return frozenset(zoneinfo.available_timezones() - {"localtime"})


@frozen(init=False)
class Session:
    """One ketamine session: when it ended, and the patient's local time zone.

    ``ended_at`` must be timezone-aware.  ``timezone`` is the zone that decides what
    "the next day" means for the patient: an IANA name, any tzinfo, or None for
    ``ended_at``'s own tzinfo.  None is accepted only when that tzinfo is a region's
    zone (an IANA ``Area/Location`` zone from zoneinfo, pytz or dateutil); a UTC or
    other fixed-offset ``ended_at`` without ``timezone`` raises
    :class:`~ketamine_guidance.MissingTimezoneError`, because EHRs store UTC and the
    UTC calendar is not the patient's.  ``timezone="UTC"`` is accepted as a choice.
    Fixed-offset names that read like regions (``EST``, ``Etc/GMT+5``) and names the
    tz database does not list (``right/...``, ``posix/...``) are refused.  pytz and
    dateutil zones are read through zoneinfo by their IANA name.

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
        if timezone is None:
            own = ended_at.tzinfo
            assert own is not None  # noqa: S101  (ensure_aware checked it)
            if not region_zone(own):
                name = zone_name(own)
                offset = ended_at.strftime("%z") or "?"
                what = f"the zone {name!r}" if name else f"a fixed UTC offset ({offset})"
                msg = (
                    f"ended_at carries {what}, not the patient's region, and no timezone "
                    "was given: pass the patient's zone, for example "
                    "Session(ended_at, 'America/New_York'), or timezone='UTC' on purpose"
                )
                raise MissingTimezoneError(msg)
            timezone = own
        zone = resolve_timezone(timezone)
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
