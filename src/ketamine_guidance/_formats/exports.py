"""The exports to other systems' formats: FHIR R4, CDS Hooks and iCalendar.

These are thin, documented entry points; each imports its implementation module
(``fhir``, ``cds``, ``ical`` in this package) on first call, so ``import ketamine_guidance`` stays
fast and the optional ``icalendar`` package is loaded only by :func:`to_ical`.

The format modules never import this one (they take their codes from ``codes.py``):
this module sits above them, so the graph stays one-way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from ketamine_guidance._engine.course import CoursePlan
from ketamine_guidance._engine.plan import AftercarePlan, Decision
from ketamine_guidance._formats.codes import (
    ACTIVITY_SYSTEM,
    DEFAULT_SOURCE_LABEL,
    RESTRICTION_EXTENSION,
)

__all__ = [
    "ACTIVITY_SYSTEM",
    "DEFAULT_SOURCE_LABEL",
    "RESTRICTION_EXTENSION",
    "cds_response",
    "to_cds_card",
    "to_fhir_careplan",
    "to_ical",
]


def to_fhir_careplan(
    plan: AftercarePlan, *, subject: str, at: dt.datetime | None = None
) -> dict[str, Any]:
    """The plan as a FHIR R4 ``CarePlan`` resource, as a JSON-ready dict.

    ``subject`` is the patient reference (``"Patient/123"``).  ``at`` is the instant the
    resource describes (by default the session's end; no clock is read): it is the
    ``created`` time and decides each activity's status (``in-progress`` while
    restricted, ``completed`` once lifted) and the CarePlan's (``completed`` once every
    restriction has lifted for good, else ``active``).  Each rule becomes an activity
    coded in :data:`~ketamine_guidance.ACTIVITY_SYSTEM`; not-permitted ones have
    ``doNotPerform: true``; overrides are the activity's ``progress`` notes; advice items
    are ``note`` entries.

    Raises :class:`~ketamine_guidance.ExportError` for a subject that is not a reference.

    >>> import datetime as dt
    >>> from ketamine_guidance import Session, plan_for, to_fhir_careplan
    >>> ended = dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.timezone.utc)
    >>> plan = plan_for(Session(ended, "America/New_York"))
    >>> care_plan = to_fhir_careplan(plan, subject="Patient/123")
    >>> care_plan["resourceType"], care_plan["status"], care_plan["intent"]
    ('CarePlan', 'active', 'plan')

    .. versionadded:: 0.1.0
    """
    from ketamine_guidance._formats.fhir import careplan

    return careplan(plan, subject=subject, at=at)


def to_cds_card(
    decision: Decision, *, source_label: str = DEFAULT_SOURCE_LABEL
) -> dict[str, Any] | None:
    """A CDS Hooks card for ``decision``; None for a PERMITTED one (nothing to say).

    ``warning`` for NOT_PERMITTED, ``info`` for PERMITTED_WITH_CAUTION.  The summary
    (under 140 characters) names the activity's label; the Markdown ``detail`` gives the
    reason and when the restriction lifts in the patient's local time; ``source`` carries
    ``source_label`` and the activity as its ``topic``.

    .. versionadded:: 0.1.0
    """
    from ketamine_guidance._formats.cds import card

    return card(decision, source_label=source_label)


def cds_response(
    decisions: Iterable[Decision], *, source_label: str = DEFAULT_SOURCE_LABEL
) -> dict[str, Any]:
    """A CDS Hooks response, ``{"cards": [...]}``: one card per decision that is not
    PERMITTED, most restrictive first, in the given order otherwise (``[]`` when there
    is nothing to say).

    .. versionadded:: 0.1.0
    """
    from ketamine_guidance._formats.cds import card

    ranked = sorted(decisions, key=lambda d: -d.status.restrictiveness)
    cards = [card(d, source_label=source_label) for d in ranked]
    return {"cards": [c for c in cards if c is not None]}


def to_ical(
    plan: AftercarePlan | CoursePlan,
    *,
    subject: str | None = None,
    stamp: dt.datetime | None = None,
    sequence: int | None = None,
) -> bytes:
    """The plan as an iCalendar (RFC 5545) file, CRLF bytes: a reminder at each instant
    restrictions lift.

    One event, with one display alarm, per distinct instant at which rules whose status
    before they lift is not PERMITTED lift, listing every activity that lifts then; a
    restriction that never lifts gets none.  ``DTSTART`` is the instant rounded up to a
    whole second (never early).  Events are written in the session's zone (the latest
    session's, for a course) with a VTIMEZONE the library writes from the zone's
    transitions, a year either side of the events; where the local time is ambiguous (a
    DST fold) or the zone has no IANA name, in UTC.

    * ``subject`` names the patient (any text, such as ``"Patient/123"``): it goes,
      hashed, into every ``UID``, so two patients' reminders never collide in a shared
      calendar.  Without it the UID is made from the ruleset's digest and the sessions.
    * ``stamp`` is every event's ``DTSTAMP`` (by default now).
    * ``sequence`` is every event's ``SEQUENCE`` (by default the number of overrides, so
      a re-export after an override updates the events in calendar programs).  An event
      that an export before the latest override had, at an instant this one has not, is
      written again with ``STATUS:CANCELLED``.

    The calendar has no ``METHOD`` (a plain published calendar) and names its ruleset's
    id, version and digest and the tz database in ``X-KETAMINE-GUIDANCE-*`` properties.

    Needs the optional ``icalendar`` package (``pip install 'ketamine-guidance[ical]'``);
    without it raises :class:`~ketamine_guidance.MissingExtraError`; raises
    :class:`~ketamine_guidance.ExportError` for an empty subject or a negative sequence.

    >>> import datetime as dt
    >>> from ketamine_guidance import Session, plan_for, to_ical
    >>> plan = plan_for(Session(dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.timezone.utc),
    ...                         "America/New_York"))
    >>> data = to_ical(plan, subject="Patient/123", stamp=plan.session.ended_at_local)
    >>> data.startswith(b"BEGIN:VCALENDAR\r\n"), b"METHOD" in data
    (True, False)

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``subject`` and ``sequence``; a CoursePlan; one event per lift instant; the
       library's own VTIMEZONE; no ``METHOD``; ``stamp`` defaults to now.
    """
    from ketamine_guidance._formats.ical import calendar_bytes

    return calendar_bytes(plan, subject=subject, stamp=stamp, sequence=sequence)
