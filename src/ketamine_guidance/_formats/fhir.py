"""A plan as a FHIR R4 CarePlan resource (a plain dict, ready for ``json.dumps``).

The mapping, documented in ``docs/how-to/export-fhir.md``:

* one ``activity`` per rule, its ``detail`` coded in ``ACTIVITY_SYSTEM`` with the
  activity id and the rule's label, ``doNotPerform: true`` when the activity is not
  permitted until the restriction lifts, ``scheduledPeriod`` from the session's end to
  the lift (no ``end`` when the ruleset gives none);
* the restriction level (not permitted, or permitted with caution) in the
  ``RESTRICTION_EXTENSION`` extension, since no core element carries it;
* clinician overrides as the activity's ``progress`` notes (who, when, what);
* advice items as the CarePlan's ``note`` entries (Markdown);
* instants with their UTC offset, and the IANA zone in the ``tz-code`` extension.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ketamine_guidance._engine.documents import iso
from ketamine_guidance._engine.plan import AftercarePlan, Override, TimelineEntry
from ketamine_guidance._errors import ExportError
from ketamine_guidance._formats.codes import ACTIVITY_SYSTEM, RESTRICTION_EXTENSION
from ketamine_guidance._formats.escape import markdown
from ketamine_guidance._rules.model import Advice, Status
from ketamine_guidance._text import shorten

__all__ = ["TZ_CODE_EXTENSION", "careplan"]

#: HL7's extension for the IANA time zone of a dateTime.
TZ_CODE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/tz-code"

# A relative (Patient/123), absolute (https://...) or urn:uuid: reference, as FHIR's
# Reference.reference allows; no white space.  The part before the first colon has no
# colon, so a failed match is linear in the length (``\S+:\S+`` was quadratic).
_REFERENCE = re.compile(
    r"[A-Za-z][A-Za-z0-9]*/[A-Za-z0-9\-.]{1,64}(/_history/[A-Za-z0-9\-.]+)?|[^\s:]+:\S+"
)


def _subject(subject: object) -> str:
    if not isinstance(subject, str):
        msg = f"subject must be a string (a FHIR reference), not {type(subject).__name__}"
        raise TypeError(msg)
    if not _REFERENCE.fullmatch(subject):
        msg = (
            f"subject must be a FHIR reference such as 'Patient/123' or 'urn:uuid:...', "
            f"not {shorten(repr(subject))}"
        )
        raise ExportError(msg)
    return subject


def _dated(name: str, moment: dt.datetime, tz: dt.tzinfo, zone: str | None) -> dict[str, Any]:
    """A dateTime element in the patient's zone, with its IANA name (``tz-code``) in the
    ``_name`` sibling where the zone has one."""
    data: dict[str, Any] = {name: iso(moment.astimezone(tz))}
    if zone is not None:
        data[f"_{name}"] = {"extension": [{"url": TZ_CODE_EXTENSION, "valueCode": zone}]}
    return data


def _activity_status(plan: AftercarePlan, entry: TimelineEntry, when: dt.datetime) -> str:
    """The CarePlan activity status at ``when``: the restriction in force, over, or ahead."""
    if plan.check(entry.activity, when).status is not Status.PERMITTED:
        return "in-progress"
    lift = entry.permitted_from_utc
    if lift is not None and lift <= when:
        return "completed"
    return "scheduled"  # permitted now, but an override restricts it again later


def _progress(ov: Override, tz: dt.tzinfo, zone: str | None) -> dict[str, Any]:
    when = iso(ov.effective_from_utc.astimezone(tz))
    text = f"{ov.clinician} set this to {ov.status.text} from {when}"
    return {
        "authorString": ov.clinician,
        **_dated("time", ov.effective_from_utc, tz, zone),
        "text": text + (f": {ov.note}" if ov.note else "."),
    }


def _activity(
    plan: AftercarePlan, entry: TimelineEntry, when: dt.datetime, zone: str | None
) -> dict[str, Any]:
    tz = plan.session.timezone
    period: dict[str, Any] = {"start": iso(plan.session.ended_at_local)}
    if entry.permitted_from_utc is not None:
        period.update(_dated("end", entry.permitted_from_utc, tz, zone))
    detail: dict[str, Any] = {
        "extension": [{"url": RESTRICTION_EXTENSION, "valueCode": entry.status_until_lift.value}],
        "code": {
            "coding": [{"system": ACTIVITY_SYSTEM, "code": entry.activity, "display": entry.label}],
            "text": entry.label,
        },
        "status": _activity_status(plan, entry, when),
        "doNotPerform": entry.status_until_lift is Status.NOT_PERMITTED,
        "scheduledPeriod": period,
        "description": entry.reason,
    }
    activity: dict[str, Any] = {"detail": detail}
    if entry.overrides:
        activity["progress"] = [_progress(o, tz, zone) for o in entry.overrides]
    return activity


def _note(advice: Advice) -> dict[str, Any]:
    # Annotation.text is FHIR markdown: every ruleset text is escaped, so it shows as
    # written and can never add a link, an image or raw HTML.
    lines = [f"**{markdown(advice.title)}**", "", markdown(advice.text)]
    if advice.actions:
        lines += ["", *(f"- {markdown(a)}" for a in advice.actions)]
    source = advice.source
    lines += ["", f"Source: {markdown(source.title)}, section {markdown(source.section)}."]
    return {"text": "\n".join(lines)}


def careplan(plan: AftercarePlan, *, subject: str, at: dt.datetime | None) -> dict[str, Any]:
    """See :func:`ketamine_guidance.to_fhir_careplan`."""
    if not isinstance(plan, AftercarePlan):
        msg = f"plan must be an AftercarePlan, not {type(plan).__name__}"
        raise TypeError(msg)
    reference = _subject(subject)
    session = plan.session
    when = session.ended_at_utc if at is None else plan._checked_at(at)
    tz, zone = session.timezone, session.zone_name
    timeline = plan.timeline()
    lifts = [e.permitted_from_utc for e in timeline]
    period = _dated("start", session.ended_at_utc, tz, zone)
    last = None if None in lifts else max(x for x in lifts if x is not None)
    if last is not None:
        period.update(_dated("end", last, tz, zone))
    activities = [_activity(plan, e, when, zone) for e in timeline]
    done = all(a["detail"]["status"] == "completed" for a in activities)
    resource: dict[str, Any] = {
        "resourceType": "CarePlan",
        "status": "completed" if done else "active",
        "intent": "plan",
        "title": plan.ruleset.title,
        "description": (
            f"Aftercare after a ketamine session (ruleset {plan.ruleset.id} "
            f"{plan.ruleset.version})."
        ),
        "subject": {"reference": reference},
        "period": period,
        **_dated("created", when, tz, zone),
        "activity": activities,
    }
    if plan.ruleset.advice:
        resource["note"] = [_note(a) for a in plan.ruleset.advice]
    return resource
