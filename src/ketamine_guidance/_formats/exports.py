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
    DEFAULT_BASE_URL,
    DEFAULT_SOURCE_LABEL,
    RESTRICTION_EXTENSION,
)
from ketamine_guidance._rules.ruleset import Ruleset

__all__ = [
    "ACTIVITY_SYSTEM",
    "DEFAULT_BASE_URL",
    "DEFAULT_SOURCE_LABEL",
    "RESTRICTION_EXTENSION",
    "cds_response",
    "fhir_definitions",
    "to_cds_card",
    "to_fhir_bundle",
    "to_fhir_careplan",
    "to_fhir_plandefinition",
    "to_ical",
]


def to_fhir_careplan(  # noqa: PLR0913  (the options after * are keyword-only)
    plan: AftercarePlan | CoursePlan,
    *,
    subject: str,
    at: dt.datetime | None = None,
    base_url: str = DEFAULT_BASE_URL,
    encounter: str | None = None,
    author: str | None = None,
) -> dict[str, Any]:
    """The plan (or a course) as a FHIR R4 ``CarePlan`` resource, as a JSON-ready dict.

    ``subject`` is the patient reference (``"Patient/123"``).  ``at`` is the instant the
    resource describes (by default the (first) session's end; no clock is read): it is
    the ``created`` time and decides each activity's status (``in-progress`` while
    restricted, ``completed`` once lifted) and the CarePlan's (``completed`` once every
    restriction has lifted for good, else ``active``).

    * ``identifier``: system ``{base_url}/identifier/careplan``, value a SHA-256 of the
      subject, the sessions' ends and the ruleset's digest, so re-sending after an
      override updates the same CarePlan (``id`` is its first 64 characters);
    * ``text``: a generated, escaped XHTML narrative; ``category``: US Core
      ``assess-plan``; ``meta.profile``: US Core CarePlan where the subject is a Patient;
    * ``meta.tag``: the ruleset's id, version and digest and the tz database, each under
      ``{base_url}/tag/...``;
    * each rule an activity coded in ``{base_url}/CodeSystem/activity`` (``display`` from
      the code system, the ruleset's label in ``text``); not-permitted ones have
      ``doNotPerform: true``; "permitted with caution" is said in core elements
      (``statusReason`` and ``description``: "take care until ...; after that
      permitted") as well as the ``{base_url}/StructureDefinition/restriction``
      extension; overrides are ``progress`` notes; advice items are ``note`` entries;
    * ``encounter`` and ``author``: optional references (``Encounter/1``,
      ``Practitioner/1``).

    Raises :class:`~ketamine_guidance.ExportError` for a subject, encounter or author
    that is not a reference or a base_url that is not an http(s) URL.

    >>> import datetime as dt
    >>> from ketamine_guidance import Session, plan_for, to_fhir_careplan
    >>> ended = dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.timezone.utc)
    >>> plan = plan_for(Session(ended, "America/New_York"))
    >>> care_plan = to_fhir_careplan(plan, subject="Patient/123")
    >>> care_plan["resourceType"], care_plan["status"], care_plan["intent"]
    ('CarePlan', 'active', 'plan')
    >>> care_plan["category"][0]["coding"][0]["code"]
    'assess-plan'

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``base_url``, ``encounter``, ``author``; a CoursePlan; ``identifier``, ``text``,
       ``category``, ``meta``; caution in core elements.
    """
    from ketamine_guidance._formats.fhir import careplan

    return careplan(
        plan, subject=subject, at=at, base_url=base_url, encounter=encounter, author=author
    )


def to_fhir_bundle(  # noqa: PLR0913  (the options after * are keyword-only)
    plan: AftercarePlan | CoursePlan,
    *,
    subject: str,
    at: dt.datetime | None = None,
    base_url: str = DEFAULT_BASE_URL,
    encounter: str | None = None,
    author: str | None = None,
) -> dict[str, Any]:
    """The plan as a FHIR R4 ``transaction`` Bundle an EHR can post again and again.

    The CarePlan of :func:`to_fhir_careplan` (same options) is a conditional update
    (``PUT CarePlan?identifier=system|value``), so re-posting after an override updates
    it instead of making a duplicate.  Each override adds a ``Provenance``
    (``PUT Provenance/{id}``, its id stable) whose ``target`` is the CarePlan, whose
    agent is the clinician (``who.display``; with an id where the override has one), and
    whose ``recorded`` is when the override was made where known, else when it takes
    effect.

    >>> import datetime as dt
    >>> from ketamine_guidance import Session, Status, plan_for, to_fhir_bundle
    >>> ended = dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.timezone.utc)
    >>> plan = plan_for(Session(ended, "America/New_York")).with_override(
    ...     "driving", status=Status.NOT_PERMITTED, effective_from=ended, clinician="Dr Rivera")
    >>> bundle = to_fhir_bundle(plan, subject="Patient/123")
    >>> [e["resource"]["resourceType"] for e in bundle["entry"]]
    ['CarePlan', 'Provenance']

    .. versionadded:: 0.2.0
    """
    from ketamine_guidance._formats.fhir import bundle

    return bundle(
        plan, subject=subject, at=at, base_url=base_url, encounter=encounter, author=author
    )


def to_fhir_plandefinition(ruleset: Ruleset, *, base_url: str = DEFAULT_BASE_URL) -> dict[str, Any]:
    r"""The ruleset as a computable FHIR R4 ``PlanDefinition`` with its
    ``ActivityDefinition``\ s, in a ``transaction`` Bundle an EHR can store and version.

    One action per rule (HL7 CPG style): its activity code, its timing from the session's
    end (``timingDuration`` for hours; for calendar windows such as "next day 06:00" the
    ``{base_url}/StructureDefinition/window`` extension, in words, and the same words in
    ``textEquivalent``) and ``definitionCanonical`` pointing at its ActivityDefinition
    (``doNotPerform`` while not permitted).  Each resource is a conditional update on
    its ``url`` and ``version``; the PlanDefinition's ``identifier`` is the ruleset's
    digest.

    >>> from ketamine_guidance import default_ruleset, to_fhir_plandefinition
    >>> bundle = to_fhir_plandefinition(default_ruleset())
    >>> bundle["entry"][0]["resource"]["resourceType"]
    'PlanDefinition'

    .. versionadded:: 0.2.0
    """
    from ketamine_guidance._formats.fhir import plandefinition

    return plandefinition(ruleset, base_url=base_url)


def fhir_definitions(*, base_url: str = DEFAULT_BASE_URL) -> list[dict[str, Any]]:
    r"""The FHIR conformance resources the exports use, for a validator or a FHIR server.

    The activity ``CodeSystem`` (the built-in ruleset's ids with their fixed displays;
    ``content: fragment``, as clinics add their own) and the ``StructureDefinition``\ s
    of the ``restriction`` and ``window`` extensions, with their URLs under
    ``base_url``.  The same resources, under :data:`DEFAULT_BASE_URL`, ship in the
    package (``ketamine_guidance/fhir/*.json``) and are published on the docs site.

    >>> [r["resourceType"] for r in fhir_definitions()]
    ['CodeSystem', 'StructureDefinition', 'StructureDefinition']

    .. versionadded:: 0.2.0
    """
    from ketamine_guidance._formats.fhir import definitions

    return definitions(base_url=base_url)


def to_cds_card(
    decision: Decision, *, source_label: str = DEFAULT_SOURCE_LABEL
) -> dict[str, Any] | None:
    """A CDS Hooks card for ``decision``; None for a PERMITTED one (nothing to say).

    Written for the clinician who sees it in the EHR: ``warning`` for NOT_PERMITTED
    ("Driving: not permitted until Thu 26 Nov 06:00 EST; ketamine session ended 18:30"),
    ``info`` for PERMITTED_WITH_CAUTION ("Hard exercise: take care until ...; after that
    permitted"), in under 140 characters, times rounded up to the minute.  The Markdown
    ``detail`` quotes the reason the patient was given, names any override, the source
    and the rules.  ``uuid`` is stable for the same plan, decision and instant.
    ``source`` carries ``source_label`` with the ruleset's digest and the activity as
    its ``topic``; the card's ``extension`` (``ketamine-guidance-audit``) names the
    ruleset's id, version and digest and the tz database.  A decision of a
    :class:`~ketamine_guidance.CoursePlan` names the session that governs it.

    >>> import datetime as dt
    >>> from ketamine_guidance import Session, plan_for, to_cds_card
    >>> utc = dt.timezone.utc
    >>> plan = plan_for(Session(dt.datetime(2026, 11, 25, 23, 30, tzinfo=utc), "America/New_York"))
    >>> card = to_cds_card(plan.check("driving", dt.datetime(2026, 11, 26, 2, tzinfo=utc)))
    >>> card["summary"]
    'Driving: not permitted until Thu 26 Nov 06:00 EST; ketamine session ended 18:30'

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Worded for the clinician; ``uuid``; the digest in ``source``; the audit extension.
    """
    from ketamine_guidance._formats.cds import card

    return card(decision, source_label=source_label)


def cds_response(
    decisions: Iterable[Decision] | AftercarePlan | CoursePlan,
    *,
    at: dt.datetime | None = None,
    source_label: str = DEFAULT_SOURCE_LABEL,
) -> dict[str, Any]:
    """A CDS Hooks response, ``{"cards": [...]}``: one card per decision that is not
    PERMITTED, most restrictive first, in the given order otherwise (``[]`` when there
    is nothing to say).

    ``decisions`` may be a plan or a course instead, with ``at`` the instant of the
    order: its decisions then are used.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       A plan or a course with ``at``.
    """
    from ketamine_guidance._errors import ExportError
    from ketamine_guidance._formats.cds import card

    if isinstance(decisions, (AftercarePlan, CoursePlan)):
        if at is None:
            msg = "cds_response needs at (the instant of the order) for a plan or a course"
            raise ExportError(msg)
        decisions = decisions.decisions_at(at)
    elif at is not None:
        msg = "at applies only when cds_response is given a plan or a course"
        raise ExportError(msg)
    if isinstance(decisions, str | bytes | Decision) or not isinstance(decisions, Iterable):
        msg = f"decisions must be an iterable of Decision, not {type(decisions).__name__}"
        raise TypeError(msg)
    listed = list(decisions)
    for i, d in enumerate(listed):
        if not isinstance(d, Decision):
            msg = f"decisions[{i}] must be a Decision, not {type(d).__name__}"
            raise TypeError(msg)
    ranked = sorted(listed, key=lambda d: -d.status.restrictiveness)
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
    >>> data.startswith(b"BEGIN:VCALENDAR\\r\\n"), b"METHOD" in data
    (True, False)

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``subject`` and ``sequence``; a CoursePlan; one event per lift instant; the
       library's own VTIMEZONE; no ``METHOD``; ``stamp`` defaults to now.
    """
    from ketamine_guidance._formats.ical import calendar_bytes

    return calendar_bytes(plan, subject=subject, stamp=stamp, sequence=sequence)
