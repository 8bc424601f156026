"""A plan as an iCalendar file: one reminder at each instant restrictions lift.

Needs the optional ``icalendar`` package (``pip install 'ketamine-guidance[ical]'``).

The mapping, documented in ``docs/how-to/calendar-reminders.md``:

* one VEVENT, with one display alarm, per distinct lift instant, listing every activity
  that lifts then; ``DTSTART`` is the instant rounded *up* to a whole second, so a
  reminder never fires before :meth:`~ketamine_guidance.AftercarePlan.check` says
  permitted;
* RFC 5545 reads a zoned wall time that happens twice (a DST fold) as its *first*
  occurrence, so an event is written in the patient's zone (``DTSTART;TZID=...``) only
  when its wall time means exactly one instant; otherwise, and for a zone without an
  IANA name, in UTC;
* the VTIMEZONE is written here from the zone's own transitions (found by asking the
  zone, then bisecting to the second), from a year before the session to a year after
  the last event, each observance starting at the local time of the offset in force
  *before* it (``TZOFFSETFROM``), as RFC 5545 section 3.6.5 says;
* no ``METHOD``: a plain published calendar, not an iTIP message;
* ``UID`` from a digest of the patient (``subject``) or else the ruleset, the sessions
  and the lift instant; ``SEQUENCE`` by default the number of overrides, so a re-export
  after an override updates every event; events that an earlier export (before the
  latest overrides) had at another instant are written again as ``STATUS:CANCELLED``;
* the calendar names its rules and tz database in ``X-KETAMINE-GUIDANCE-*`` properties.
"""

# icalendar annotates a property's value as Any: each .add() call is untyped to pyright.
# pyright: reportUnknownMemberType=false

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from collections.abc import Sequence
from typing import Any

from ketamine_guidance._engine.course import CoursePlan
from ketamine_guidance._engine.documents import tzdb_info
from ketamine_guidance._engine.plan import AftercarePlan, Override, TimelineEntry, override_span
from ketamine_guidance._engine.session import Session, ensure_aware
from ketamine_guidance._engine.windows import UTC, wall_instants, wall_reading
from ketamine_guidance._errors import ExportError, MissingExtraError
from ketamine_guidance._formats.escape import ical_text
from ketamine_guidance._rules.model import Status

__all__ = ["PROPERTY_PREFIX", "SCAN_STEP", "calendar_bytes", "transitions", "vtimezone_lines"]

_PRODID = "-//ketamine-guidance//Aftercare reminders//EN"
#: The prefix of the calendar's audit-trail properties.
PROPERTY_PREFIX = "X-KETAMINE-GUIDANCE-"
#: How far the VTIMEZONE reaches before the session's end and after the last event.
_MARGIN = dt.timedelta(days=366)
#: How often transitions() asks the zone: from 1970 to 2037 no zone changes twice within
#: days of each other (a test checks it against pytz's copy of the tz database).
SCAN_STEP = dt.timedelta(hours=6)
_SECOND = dt.timedelta(seconds=1)

AnyPlan = AftercarePlan | CoursePlan


def _parameters() -> Any:
    """No parameters, in icalendar's type (its serializer insists on it)."""
    import icalendar

    return icalendar.Parameters()


class _Text(str):
    """A TEXT value, escaped here (``escape.ical_text``), written by icalendar as is."""

    __slots__ = ()

    @property
    def params(self) -> Any:
        return _parameters()

    def to_ical(self) -> bytes:
        return ical_text(self).encode("utf-8")


class _Raw(str):
    """A value already in iCalendar form (an offset, a local date-time)."""

    __slots__ = ()

    @property
    def params(self) -> Any:
        return _parameters()

    def to_ical(self) -> bytes:
        return self.encode("ascii")


# The zone's transitions


def _state(tz: dt.tzinfo, instant: dt.datetime) -> tuple[dt.timedelta, bool, str]:
    local = instant.astimezone(tz)
    return (local.utcoffset() or dt.timedelta(0), bool(local.dst()), local.tzname() or "")


def transitions(
    tz: dt.tzinfo, start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, tuple[dt.timedelta, bool, str], tuple[dt.timedelta, bool, str]]]:
    """Every change of offset, DST flag or abbreviation of ``tz`` in (start, end]: the
    first instant (UTC, whole seconds) of the new state, the state before and after."""
    found: list[
        tuple[dt.datetime, tuple[dt.timedelta, bool, str], tuple[dt.timedelta, bool, str]]
    ] = []
    low = start.astimezone(UTC).replace(microsecond=0)
    before = _state(tz, low)
    while low < end:
        high = min(low + SCAN_STEP, end)
        after = _state(tz, high)
        if after != before:
            lo, hi = low, high  # state(lo) == before, state(hi) != before
            while hi - lo > _SECOND:
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if _state(tz, mid) == before:
                    lo = mid
                else:
                    hi = mid
            changed = _state(tz, hi)
            found.append((hi, before, changed))
            low, before = hi, changed
            continue
        low = high
    return found


def _offset(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours:02d}{minutes:02d}" + (f"{secs:02d}" if secs else "")


def _observance(
    kind: str, start_local: dt.datetime, before: dt.timedelta, after: dt.timedelta, name: str
) -> list[tuple[str, str]]:
    lines = [
        ("BEGIN", kind),
        ("DTSTART", f"{start_local:%Y%m%dT%H%M%S}"),
        ("TZOFFSETFROM", _offset(before)),
        ("TZOFFSETTO", _offset(after)),
    ]
    if name:
        lines.append(("TZNAME", name))
    lines.append(("END", kind))
    return lines


def vtimezone_lines(
    tz: dt.tzinfo, tzid: str, start: dt.datetime, end: dt.datetime
) -> list[tuple[str, str]]:
    """The VTIMEZONE of ``tz`` from ``start`` to ``end`` as (name, value) lines.

    The first observance holds the state at ``start`` (from the state in force there);
    each transition after it is an observance whose DTSTART is the transition's wall
    time in the offset in force *before* it (RFC 5545 section 3.6.5).
    """
    start = start.astimezone(UTC).replace(microsecond=0)
    offset, dst, name = _state(tz, start)
    lines: list[tuple[str, str]] = [("BEGIN", "VTIMEZONE"), ("TZID", tzid)]
    lines += _observance(
        "DAYLIGHT" if dst else "STANDARD",
        (start + offset).replace(tzinfo=None),
        offset,
        offset,
        name,
    )
    for instant, (old, _, _), (new, new_dst, new_name) in transitions(tz, start, end):
        wall = (instant + old).replace(tzinfo=None)
        lines += _observance("DAYLIGHT" if new_dst else "STANDARD", wall, old, new, new_name)
    lines.append(("END", "VTIMEZONE"))
    return lines


# Events


def _unambiguous(instant: dt.datetime, tz: dt.tzinfo) -> bool:
    """Whether the local wall reading of ``instant`` in ``tz`` means only that instant."""
    return wall_instants(wall_reading(instant, tz), tz) == [instant]


def _ceil_second(instant: dt.datetime) -> dt.datetime:
    """``instant`` rounded up to a whole second: a reminder is never early."""
    if instant.microsecond:
        return instant.replace(microsecond=0) + _SECOND
    return instant


def _sessions(plan: AnyPlan) -> tuple[Session, ...]:
    return plan.sessions if isinstance(plan, CoursePlan) else (plan.session,)


def _restricted_lifts(plan: AnyPlan) -> dict[dt.datetime, list[TimelineEntry]]:
    """The lift instants (rounded up to a second) and the entries that lift then."""
    groups: dict[dt.datetime, list[TimelineEntry]] = {}
    for entry in plan.timeline():
        lift = entry.permitted_from_utc
        if entry.status_until_lift is Status.PERMITTED or lift is None:
            continue
        groups.setdefault(_ceil_second(lift), []).append(entry)
    return groups


def _earlier(plan: AnyPlan, count: int) -> AnyPlan:
    """The same plan with only its first ``count`` overrides."""
    overrides = plan.overrides[:count]
    if isinstance(plan, CoursePlan):
        return CoursePlan(plan.sessions, plan.ruleset, overrides)
    return AftercarePlan(plan.session, plan.ruleset, overrides)


def _labels(entries: Sequence[TimelineEntry]) -> str:
    return ", ".join(e.label for e in entries)


def _summary(entries: Sequence[TimelineEntry]) -> str:
    lifted = [e for e in entries if e.status_until_lift is Status.NOT_PERMITTED]
    careful = [e for e in entries if e.status_until_lift is not Status.NOT_PERMITTED]
    parts: list[str] = []
    if lifted:
        verb = "is" if len(lifted) == 1 else "are"
        parts.append(f"{_labels(lifted)} {verb} permitted again")
    if careful:
        parts.append(f"{_labels(careful)}: no more need for extra care")
    return "; ".join(parts)


def _override_text(ov: Override, tz: dt.tzinfo) -> str:
    text = f"Override: {ov.clinician} set {ov.activity} to {ov.status.text} {override_span(ov, tz)}"
    return text + (f": {ov.note}" if ov.note else ".")


def _description(entries: Sequence[TimelineEntry], tz: dt.tzinfo) -> str:
    blocks: list[str] = []
    for entry in entries:
        lines = [
            f"{entry.label}: {_summary([entry])}.",
            entry.reason,
            *(_override_text(o, tz) for o in entry.overrides),
            f"Source: {entry.source.title}, section {entry.source.section}.",
        ]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _uid_key(plan: AnyPlan, subject: str | None) -> str:
    """Who and which sessions: the part of every UID shared by this plan's events."""
    who = f"subject:{subject}" if subject is not None else f"ruleset:{plan.ruleset.digest}"
    ended = ",".join(f"{s.ended_at_utc:%Y%m%dT%H%M%S.%fZ}" for s in _sessions(plan))
    return hashlib.sha256(f"{who}|{ended}".encode()).hexdigest()[:24]


def _uid(key: str, instant: dt.datetime) -> str:
    return f"{key}-{instant:%Y%m%dT%H%M%SZ}@ketamine-guidance"


def _check_sequence(plan: AnyPlan, sequence: object) -> int:
    if sequence is None:
        return len(plan.overrides)
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 0:
        msg = f"sequence must be a whole number, 0 or more, not {sequence!r}"
        raise ExportError(msg)
    return sequence


def _check_subject(subject: object) -> str | None:
    if subject is None:
        return None
    if not isinstance(subject, str) or not subject.strip():
        msg = f"subject must be a non-empty string naming the patient, not {subject!r}"
        raise ExportError(msg)
    return subject


def _stale(plan: AnyPlan, groups: dict[dt.datetime, list[TimelineEntry]]) -> set[dt.datetime]:
    """Instants an export made before the latest overrides had, that this one has not:
    written again as cancelled, so a client that imported them drops the reminder."""
    stale: set[dt.datetime] = set()
    for count in range(len(plan.overrides)):
        stale |= set(_restricted_lifts(_earlier(plan, count)))
    return stale - set(groups)


def _calendar(ical: Any, plan: AnyPlan, session: Session) -> Any:
    """The calendar, with its name and its audit trail: which rules, which tz database."""
    ruleset = plan.ruleset
    calendar = ical.Calendar()
    calendar.add("prodid", _PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", _Text(ruleset.title), encode=False)
    calendar.add("name", _Text(ruleset.title), encode=False)
    tzdb = tzdb_info(session.timezone)
    audit = {
        "RULESET-ID": ruleset.id,
        "RULESET-VERSION": ruleset.version,
        "RULESET-DIGEST": ruleset.digest,
        "TZDB": f"{tzdb['source']} {tzdb['version'] or 'unknown'}",
    }
    for key, value in audit.items():
        calendar.add(PROPERTY_PREFIX + key, _Text(value), encode=False)
    return calendar


def calendar_bytes(
    plan: AnyPlan, *, subject: str | None, stamp: dt.datetime | None, sequence: int | None
) -> bytes:
    """See :func:`ketamine_guidance.to_ical`."""
    if not isinstance(plan, (AftercarePlan, CoursePlan)):
        msg = f"plan must be an AftercarePlan or a CoursePlan, not {type(plan).__name__}"
        raise TypeError(msg)
    who = _check_subject(subject)
    seq = _check_sequence(plan, sequence)
    stamped = dt.datetime.now(UTC) if stamp is None else ensure_aware(stamp, "stamp")
    try:
        import icalendar as ical
    except ImportError:
        msg = (
            "to_ical needs the optional 'icalendar' package: pip install 'ketamine-guidance[ical]'"
        )
        raise MissingExtraError(msg) from None
    sessions = _sessions(plan)
    session = sessions[-1]
    name = session.zone_name
    zone = None if name is None or name == "UTC" else zoneinfo.ZoneInfo(name)
    calendar = _calendar(ical, plan, session)
    key = _uid_key(plan, who)
    dtstamp = stamped.astimezone(UTC).replace(microsecond=0)
    groups = _restricted_lifts(plan)
    stale = _stale(plan, groups)

    def event(instant: dt.datetime) -> Any:
        start = instant.astimezone(zone) if zone and _unambiguous(instant, zone) else instant
        item = ical.Event()
        item.add("uid", _Raw(_uid(key, instant)), encode=False)
        item.add("dtstamp", dtstamp)
        item.add("dtstart", start)
        item.add("sequence", seq)
        item.add("transp", "TRANSPARENT")
        return item

    for instant in sorted(stale):
        item = event(instant)
        item.add("status", "CANCELLED")
        item.add("summary", _Text("Cancelled: this aftercare reminder was changed"), encode=False)
        item.add(
            "description",
            _Text(
                "A clinician changed the aftercare plan; this reminder no longer applies.\n"
                + "\n".join(_override_text(o, session.timezone) for o in plan.overrides)
            ),
            encode=False,
        )
        calendar.add_component(item)
    for instant, entries in sorted(groups.items()):
        item = event(instant)
        summary = _summary(entries)
        item.add("status", "CONFIRMED")
        item.add("summary", _Text(summary), encode=False)
        item.add("description", _Text(_description(entries, session.timezone)), encode=False)
        alarm = ical.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", dt.timedelta(0))
        alarm.add("description", _Text(summary), encode=False)
        item.add_component(alarm)
        calendar.add_component(item)

    data: bytes = calendar.to_ical()
    if zone is None or name is None:
        return data
    lifts = [*groups, *stale, session.ended_at_utc]
    first = min(s.ended_at_utc for s in sessions) - _MARGIN
    last = max(lifts) + _MARGIN
    return _with_vtimezone(data, vtimezone_lines(zone, name, first, last))


def _with_vtimezone(data: bytes, lines: list[tuple[str, str]]) -> bytes:
    """``data`` with the VTIMEZONE inserted before the first VEVENT (or the end).

    Its lines are short ASCII (a zone name is at most 35 characters), so none is folded.
    """
    folded = "".join(f"{n}:{v}\r\n" for n, v in lines).encode("ascii")
    marker = b"BEGIN:VEVENT\r\n"
    at = data.find(marker)
    if at < 0:
        at = data.rindex(b"END:VCALENDAR\r\n")
    return data[:at] + folded + data[at:]
