"""A plan as an iCalendar file: one reminder at the instant each restriction lifts.

Needs the optional ``icalendar`` package (``pip install 'ketamine-guidance[ical]'``).

RFC 5545 reads a zoned wall time that happens twice (a DST fold) as its *first*
occurrence, and one that never happens (a gap) by shifting it.  So an event is written
in the patient's zone (``DTSTART;TZID=...``, with a VTIMEZONE) only when its wall time
means exactly one instant; otherwise, and for a zone without an IANA name, it is
written in UTC, which every calendar program shows at the right instant.
"""

# icalendar annotates a property's value as Any: each .add() call is untyped to pyright.
# pyright: reportUnknownMemberType=false

from __future__ import annotations

import datetime as dt
import zoneinfo

from ketamine_guidance._engine.plan import AftercarePlan, TimelineEntry
from ketamine_guidance._engine.session import ensure_aware
from ketamine_guidance._engine.windows import UTC, wall_instants, wall_reading
from ketamine_guidance._errors import MissingExtraError
from ketamine_guidance._formats.escape import ical_text
from ketamine_guidance._rules.model import Status

__all__ = ["calendar_bytes"]

_PRODID = "-//ketamine-guidance//Aftercare reminders//EN"


def _unambiguous(instant: dt.datetime, tz: dt.tzinfo) -> bool:
    """Whether the local wall reading of ``instant`` in ``tz`` means only that instant."""
    return wall_instants(wall_reading(instant, tz), tz) == [instant]


def _summary(entry: TimelineEntry) -> str:
    if entry.status_until_lift is Status.NOT_PERMITTED:
        return f"{entry.label} is permitted again"
    return f"{entry.label}: no more need for extra care"


def _text(value: str) -> object:
    """A TEXT value escaped here (RFC 5545 section 3.3.11), written by icalendar as it is.

    icalendar's own escaping is not relied on: it refuses a newline in some properties
    only with an ``assert``, which ``python -O`` removes, so a crafted title could then
    start a forged event.
    """
    from icalendar.prop import vInline

    return vInline(ical_text(value))


def calendar_bytes(plan: AftercarePlan, *, stamp: dt.datetime | None) -> bytes:
    """See :func:`ketamine_guidance.to_ical`."""
    if not isinstance(plan, AftercarePlan):
        msg = f"plan must be an AftercarePlan, not {type(plan).__name__}"
        raise TypeError(msg)
    try:
        import icalendar as ical
    except ImportError:
        msg = (
            "to_ical needs the optional 'icalendar' package: pip install 'ketamine-guidance[ical]'"
        )
        raise MissingExtraError(msg) from None
    session = plan.session
    stamp_utc = session.ended_at_utc if stamp is None else ensure_aware(stamp, "stamp")
    name = session.zone_name
    zone = None if name is None or name == "UTC" else zoneinfo.ZoneInfo(name)

    calendar = ical.Calendar()
    calendar.add("prodid", _PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", _text(plan.ruleset.title))
    ended = f"{session.ended_at_utc:%Y%m%dT%H%M%SZ}"
    for entry in plan.timeline():
        lift = entry.permitted_from_utc
        if entry.status_until_lift is Status.PERMITTED or lift is None:
            continue
        start = lift.astimezone(zone) if zone and _unambiguous(lift, zone) else lift
        summary = _summary(entry)
        event = ical.Event()
        event.add("uid", f"{entry.activity}-{ended}@ketamine-guidance")
        event.add("dtstamp", stamp_utc.astimezone(UTC))
        event.add("dtstart", start)
        event.add("summary", _text(summary))
        event.add(
            "description",
            _text(
                f"{entry.reason}\n\nSource: {entry.source.title}, section {entry.source.section}."
            ),
        )
        event.add("transp", "TRANSPARENT")
        alarm = ical.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", dt.timedelta(0))
        alarm.add("description", _text(summary))
        event.add_component(alarm)
        calendar.add_component(event)
    if zone is not None:
        first = session.ended_at_local.date() - dt.timedelta(days=1)
        lifts = [e.permitted_from_utc for e in plan.timeline() if e.permitted_from_utc]
        last = max(lifts, default=session.ended_at_utc).astimezone(zone).date()
        last += dt.timedelta(days=1)
        calendar.add_missing_timezones(first_date=first, last_date=last)
    data: bytes = calendar.to_ical()
    return data
