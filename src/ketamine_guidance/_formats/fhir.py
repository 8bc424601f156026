"""Plans and rulesets as FHIR R4 resources (plain dicts, ready for ``json.dumps``).

The mapping, documented in ``docs/how-to/export-fhir.md``:

* a plan (or a course) is a ``CarePlan``: a stable ``identifier`` (under ``base_url``,
  from the subject, the sessions' ends and the ruleset's digest), a generated XHTML
  ``text``, the US Core ``assess-plan`` category, one ``activity`` per rule coded in the
  activity ``CodeSystem`` (its ``display`` fixed by the code system, the ruleset's label
  in ``text``), ``doNotPerform: true`` while not permitted, and for "permitted with
  caution" the words "take care" in the activity's ``statusReason`` and
  ``description`` (core elements), besides the ``restriction`` extension;
* clinician overrides as the activity's ``progress`` notes and, in a transaction
  ``Bundle``, one ``Provenance`` each (agent: the clinician);
* advice items as ``note`` entries (Markdown, escaped);
* a ruleset is a ``PlanDefinition`` (one action per rule, timed from the session's end)
  with one ``ActivityDefinition`` per rule, in a transaction ``Bundle``;
* every resource names its rules and tz database in ``meta.tag`` (see ``TAG_SYSTEMS``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Sequence
from importlib import resources
from typing import Any

from ketamine_guidance._engine.course import CoursePlan
from ketamine_guidance._engine.documents import iso, tzdb_info
from ketamine_guidance._engine.plan import AftercarePlan, Override, TimelineEntry
from ketamine_guidance._engine.session import Session
from ketamine_guidance._errors import ExportError
from ketamine_guidance._formats.codes import DEFAULT_BASE_URL
from ketamine_guidance._formats.escape import html_text, markdown
from ketamine_guidance._formats.text import format_local
from ketamine_guidance._rules.model import (
    Advice,
    Hours,
    Immediately,
    Rule,
    Status,
    describe_window,
)
from ketamine_guidance._rules.ruleset import Ruleset
from ketamine_guidance._text import shorten

__all__ = [
    "TZ_CODE_EXTENSION",
    "bundle",
    "careplan",
    "definitions",
    "override_clinician_id",
    "override_recorded",
    "plandefinition",
]

#: HL7's extension for the IANA time zone of a dateTime.
TZ_CODE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/tz-code"
_US_CORE_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/careplan-category"
_US_CORE_CAREPLAN = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-careplan"
_XHTML = "http://www.w3.org/1999/xhtml"
_UCUM = "http://unitsofmeasure.org"

# A relative (Patient/123), absolute (https://...) or urn:uuid: reference, as FHIR's
# Reference.reference allows; no white space.
_REFERENCE = re.compile(
    # Linear time: the scheme before the first colon cannot hold one ("a:"*25000 took 4 s).
    r"[A-Za-z][A-Za-z0-9]*/[A-Za-z0-9\-.]{1,64}(/_history/[A-Za-z0-9\-.]+)?|[^\s:]+:\S+"
)
_BASE_URL = re.compile(r"https?://[^\s/?#|\"\\<>]+(/[^\s?#|\"\\<>]*)?")
_FHIR_CODE = re.compile(r"[^\s]+( [^\s]+)*")

AnyPlan = AftercarePlan | CoursePlan


# The URLs under base_url


def _base(base_url: object) -> str:
    if not isinstance(base_url, str) or not _BASE_URL.fullmatch(base_url):
        msg = f"base_url must be an http(s) URL without a query or fragment, not {base_url!r}"
        raise ExportError(msg)
    return base_url.rstrip("/")


def activity_system(base: str) -> str:
    """The activity CodeSystem's canonical URL under ``base``."""
    return f"{base}/CodeSystem/activity"


def restriction_extension(base: str) -> str:
    """The restriction extension's canonical URL under ``base``."""
    return f"{base}/StructureDefinition/restriction"


def window_extension(base: str) -> str:
    """The window extension's canonical URL under ``base`` (a PlanDefinition action)."""
    return f"{base}/StructureDefinition/window"


def _tag_system(base: str, what: str) -> str:
    return f"{base}/tag/{what}"


# Checked inputs


def _reference(value: object, what: str, example: str) -> str:
    if not isinstance(value, str):
        msg = f"{what} must be a string (a FHIR reference), not {type(value).__name__}"
        raise TypeError(msg)
    if not _REFERENCE.fullmatch(value):
        msg = (
            f"{what} must be a FHIR reference such as {example!r} or 'urn:uuid:...', "
            f"not {shorten(repr(value))}"
        )
        raise ExportError(msg)
    return value


def _plan(plan: object) -> AnyPlan:
    if not isinstance(plan, (AftercarePlan, CoursePlan)):
        msg = f"plan must be an AftercarePlan or a CoursePlan, not {type(plan).__name__}"
        raise TypeError(msg)
    return plan


# Shared pieces


def _code(text: str) -> str:
    """Text as a FHIR ``code`` (no runs of white space, no leading or trailing space)."""
    code = " ".join(text.split())
    assert _FHIR_CODE.fullmatch(code)  # noqa: S101  (ids and versions are never blank)
    return code


def _tags(base: str, ruleset: Ruleset, tz: dt.tzinfo | None) -> list[dict[str, str]]:
    """The audit trail: which rules (id, version, digest) and which tz database."""
    tags = [
        {"system": _tag_system(base, "ruleset-id"), "code": _code(ruleset.id)},
        {"system": _tag_system(base, "ruleset-version"), "code": _code(ruleset.version)},
        {"system": _tag_system(base, "ruleset-digest"), "code": ruleset.digest},
    ]
    if tz is not None:
        info = tzdb_info(tz)
        code = f"{info['source']}-{info['version'] or 'unknown'}"
        tags.append({"system": _tag_system(base, "tzdb"), "code": _code(code)})
    return tags


def _narrative(paragraphs: Sequence[str], rows: Sequence[Sequence[str]] = ()) -> dict[str, str]:
    """A generated XHTML narrative: paragraphs, then a table; every text escaped."""
    body = "".join(f"<p>{html_text(p)}</p>" for p in paragraphs)
    if rows:
        head, *rest = rows
        cells = "".join(f"<th>{html_text(c)}</th>" for c in head)
        body += f"<table><thead><tr>{cells}</tr></thead><tbody>"
        for row in rest:
            body += "<tr>" + "".join(f"<td>{html_text(c)}</td>" for c in row) + "</tr>"
        body += "</tbody></table>"
    return {"status": "generated", "div": f'<div xmlns="{_XHTML}">{body}</div>'}


def _dated(name: str, moment: dt.datetime, tz: dt.tzinfo, zone: str | None) -> dict[str, Any]:
    """A dateTime element in the patient's zone, with its IANA name (``tz-code``) in the
    ``_name`` sibling where the zone has one."""
    data: dict[str, Any] = {name: iso(moment.astimezone(tz))}
    if zone is not None:
        data[f"_{name}"] = {"extension": [{"url": TZ_CODE_EXTENSION, "valueCode": zone}]}
    return data


def _hash(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()


def _urn(*parts: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, '|'.join(parts))}"


# The activity CodeSystem: display fixed by the code system


def _shipped(name: str) -> dict[str, Any]:
    path = resources.files("ketamine_guidance").joinpath("fhir").joinpath(name)
    text = path.read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _displays() -> dict[str, str]:
    concepts = _shipped("CodeSystem-activity.json")["concept"]
    return {c["code"]: c["display"] for c in concepts}


def _coding(base: str, activity: str, displays: dict[str, str]) -> dict[str, str]:
    coding = {"system": activity_system(base), "code": activity}
    if activity in displays:
        coding["display"] = displays[activity]
    return coding


# Hooks for issue 11 (Override.clinician_id, and when an override was made)


def override_clinician_id(override: Override) -> str | None:
    """The clinician's id on ``override``, where the Override class has one.

    The hook for ``Override.clinician_id`` (landing with the override work): until it
    exists this is None, and the Provenance names the clinician by ``display`` alone.
    """
    value = getattr(override, "clinician_id", None)
    return value if isinstance(value, str) and value.strip() else None


def override_recorded(override: Override) -> dt.datetime:
    """When ``override`` was made: its ``recorded_at`` where the Override class has one
    (the hook for the override work), else the instant it takes effect."""
    value = getattr(override, "recorded_at", None)
    return value if isinstance(value, dt.datetime) else override.effective_from_utc


# The CarePlan


def _sessions(plan: AnyPlan) -> tuple[Session, ...]:
    return plan.sessions if isinstance(plan, CoursePlan) else (plan.session,)


def _identifier(base: str, plan: AnyPlan, subject: str) -> dict[str, str]:
    ends = ",".join(iso(s.ended_at_utc) for s in _sessions(plan))
    return {
        "use": "official",
        "system": f"{base}/identifier/careplan",
        "value": _hash(subject, ends, plan.ruleset.digest),
    }


def _activity_status(plan: AnyPlan, entry: TimelineEntry, when: dt.datetime) -> str:
    """The CarePlan activity status at ``when``: the restriction in force, over, or ahead."""
    if plan.check(entry.activity, when).status is not Status.PERMITTED:
        return "in-progress"
    lift = entry.permitted_from_utc
    if lift is not None and lift <= when:
        return "completed"
    return "scheduled"  # permitted now, but an override restricts it again later


def _until(entry: TimelineEntry, tz: dt.tzinfo) -> str:
    if entry.permitted_from_utc is None:
        return "until a clinician lifts it"
    # Shown to the minute, rounded up: never earlier than the lift.
    return f"until {format_local(entry.permitted_from_utc.astimezone(tz))}"


def _restriction_words(entry: TimelineEntry, tz: dt.tzinfo) -> str:
    """What the activity's restriction says, in words no receiver can misread."""
    until = _until(entry, tz)
    if entry.status_until_lift is Status.NOT_PERMITTED:
        return f"{entry.label}: do not do this {until}; after that permitted."
    if entry.status_until_lift is Status.PERMITTED_WITH_CAUTION:
        return f"{entry.label}: take care {until}; after that permitted."
    return f"{entry.label}: permitted."


def _progress(ov: Override, tz: dt.tzinfo, zone: str | None) -> dict[str, Any]:
    when = iso(ov.effective_from_utc.astimezone(tz))
    text = f"{ov.clinician} set this to {ov.status.text} from {when}"
    return {
        "authorString": ov.clinician,
        **_dated("time", ov.effective_from_utc, tz, zone),
        "text": markdown(text + (f": {ov.note}" if ov.note else ".")),
    }


def _activity(  # noqa: PLR0913, PLR0917  (private; every argument is named at its one call)
    plan: AnyPlan,
    entry: TimelineEntry,
    when: dt.datetime,
    base: str,
    displays: dict[str, str],
    session: Session,
) -> dict[str, Any]:
    tz, zone = session.timezone, session.zone_name
    period: dict[str, Any] = _dated("start", _sessions(plan)[0].ended_at_utc, tz, zone)
    if entry.permitted_from_utc is not None:
        period.update(_dated("end", entry.permitted_from_utc, tz, zone))
    words = _restriction_words(entry, tz)
    detail: dict[str, Any] = {
        "extension": [
            {"url": restriction_extension(base), "valueCode": entry.status_until_lift.value}
        ],
        "code": {"coding": [_coding(base, entry.activity, displays)], "text": entry.label},
        "status": _activity_status(plan, entry, when),
        "doNotPerform": entry.status_until_lift is Status.NOT_PERMITTED,
        "scheduledPeriod": period,
        "description": f"{words} {entry.reason}",
    }
    if entry.status_until_lift is Status.PERMITTED_WITH_CAUTION:
        detail["statusReason"] = {"text": words}
    activity: dict[str, Any] = {"detail": detail}
    if entry.overrides:
        activity["progress"] = [_progress(o, tz, zone) for o in entry.overrides]
    return activity


def _note(advice: Advice) -> dict[str, Any]:
    lines = [f"**{markdown(advice.title)}**", "", markdown(advice.text)]
    if advice.actions:
        lines += ["", *(f"- {markdown(a)}" for a in advice.actions)]
    source = advice.source
    lines += ["", f"Source: {markdown(source.title)}, section {markdown(source.section)}."]
    return {"text": "\n".join(lines)}


def _checked_when(plan: AnyPlan, at: dt.datetime | None) -> dt.datetime:
    return _sessions(plan)[0].ended_at_utc if at is None else plan._checked_at(at)


def careplan(  # noqa: PLR0913  (the options after * are keyword-only, each named at the call)
    plan: AnyPlan,
    *,
    subject: str,
    at: dt.datetime | None,
    base_url: str = DEFAULT_BASE_URL,
    encounter: str | None = None,
    author: str | None = None,
) -> dict[str, Any]:
    """See :func:`ketamine_guidance.to_fhir_careplan`."""
    plan = _plan(plan)
    reference = _reference(subject, "subject", "Patient/123")
    base = _base(base_url)
    sessions = _sessions(plan)
    session = sessions[-1]
    when = _checked_when(plan, at)
    tz, zone = session.timezone, session.zone_name
    timeline = plan.timeline()
    lifts = [e.permitted_from_utc for e in timeline]
    period = _dated("start", sessions[0].ended_at_utc, tz, zone)
    last = None if None in lifts else max(x for x in lifts if x is not None)
    if last is not None:
        period.update(_dated("end", last, tz, zone))
    displays = _displays()
    activities = [_activity(plan, e, when, base, displays, session) for e in timeline]
    done = all(a["detail"]["status"] == "completed" for a in activities)
    identifier = _identifier(base, plan, reference)
    ruleset = plan.ruleset
    count = "a ketamine session" if len(sessions) == 1 else f"{len(sessions)} ketamine sessions"
    ended = ", ".join(format_local(s.ended_at_local) for s in sessions)
    careful = [e for e in timeline if e.status_until_lift is Status.PERMITTED_WITH_CAUTION]
    description = (
        f"Aftercare after {count} (ended {ended}), under ruleset {ruleset.id} {ruleset.version}."
    )
    if careful:
        description += " Take care: " + " ".join(_restriction_words(e, tz) for e in careful)
    rows = [("Activity", "Until it lifts", "Then")]
    rows += [
        (e.label, e.status_until_lift.text, _until(e, tz).removeprefix("until ")) for e in timeline
    ]
    meta: dict[str, Any] = {"tag": _tags(base, ruleset, tz)}
    if reference.startswith("Patient/"):
        meta["profile"] = [_US_CORE_CAREPLAN]
    resource: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": identifier["value"][:64],
        "meta": meta,
        "text": _narrative([ruleset.title, description], rows),
        "identifier": [identifier],
        "status": "completed" if done else "active",
        "intent": "plan",
        "category": [
            {"coding": [{"system": _US_CORE_CATEGORY, "code": "assess-plan"}]},
        ],
        "title": ruleset.title,
        "description": description,
        "subject": {"reference": reference},
        "period": period,
        **_dated("created", when, tz, zone),
        "activity": activities,
    }
    if encounter is not None:
        resource["encounter"] = {"reference": _reference(encounter, "encounter", "Encounter/1")}
    if author is not None:
        resource["author"] = {"reference": _reference(author, "author", "Practitioner/1")}
    if ruleset.advice:
        resource["note"] = [_note(a) for a in ruleset.advice]
    return resource


# The transaction Bundle: the CarePlan and one Provenance per override


def _provenance(
    ov: Override, index: int, target: str, base: str, identifier: dict[str, str]
) -> dict[str, Any]:
    recorded = override_recorded(ov).astimezone(dt.timezone.utc)
    who: dict[str, Any] = {"display": ov.clinician}
    clinician_id = override_clinician_id(ov)
    if clinician_id is not None:
        if _REFERENCE.fullmatch(clinician_id) and "/" in clinician_id:
            who["reference"] = clinician_id
        else:
            who["identifier"] = {"system": f"{base}/identifier/clinician", "value": clinician_id}
    text = (
        f"{ov.clinician} set {ov.activity} to {ov.status.text} from "
        f"{iso(ov.effective_from_utc)}" + (f": {ov.note}" if ov.note else ".")
    )
    return {
        "resourceType": "Provenance",
        "id": _hash(identifier["value"], "override", str(index))[:64],
        "text": _narrative([text]),
        "target": [{"reference": target}],
        "recorded": iso(recorded),
        "reason": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                        "code": "TREAT",
                    }
                ],
                "text": text,
            }
        ],
        "agent": [
            {
                "type": {
                    "coding": [
                        {
                            "system": (
                                "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
                            ),
                            "code": "author",
                        }
                    ]
                },
                "who": who,
            }
        ],
    }


def bundle(  # noqa: PLR0913  (the options after * are keyword-only, each named at the call)
    plan: AnyPlan,
    *,
    subject: str,
    at: dt.datetime | None,
    base_url: str = DEFAULT_BASE_URL,
    encounter: str | None = None,
    author: str | None = None,
) -> dict[str, Any]:
    """See :func:`ketamine_guidance.to_fhir_bundle`."""
    resource = careplan(
        plan, subject=subject, at=at, base_url=base_url, encounter=encounter, author=author
    )
    base = _base(base_url)
    identifier = resource["identifier"][0]
    del resource["id"]  # the server finds the CarePlan by its identifier
    full_url = _urn(identifier["system"], identifier["value"])
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": full_url,
            "resource": resource,
            "request": {
                "method": "PUT",
                "url": f"CarePlan?identifier={identifier['system']}|{identifier['value']}",
            },
        }
    ]
    for index, ov in enumerate(plan.overrides):
        provenance = _provenance(ov, index, full_url, base, identifier)
        entries.append(
            {
                # base_url names the definitions, not the FHIR server: a urn, not a URL.
                "fullUrl": _urn(identifier["value"], "Provenance", provenance["id"]),
                "resource": provenance,
                "request": {"method": "PUT", "url": f"Provenance/{provenance['id']}"},
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


# The ruleset as a PlanDefinition with ActivityDefinitions


def _name(text: str) -> str:
    """A computable name (FHIR's cnl-0): a capital letter, then letters, digits and _."""
    words = re.findall(r"[A-Za-z0-9]+", text)
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Ruleset"
    return name if name[0].isalpha() else f"R{name}"


def _timing(rule: Rule, ruleset: Ruleset, base: str) -> dict[str, Any]:
    """An action's timing from the session's end: a duration where the window is one,
    else the library's window extension, in words."""
    window = rule.until
    words = describe_window(window, ruleset.next_day_begins)
    if isinstance(window, Hours):
        return {
            "timingDuration": {
                "value": window.hours,
                "unit": "h",
                "system": _UCUM,
                "code": "h",
            }
        }
    if isinstance(window, Immediately):
        return {"timingDuration": {"value": 0, "unit": "h", "system": _UCUM, "code": "h"}}
    return {"extension": [{"url": window_extension(base), "valueString": words}]}


def _action(rule: Rule, ruleset: Ruleset, base: str, displays: dict[str, str]) -> dict[str, Any]:
    words = describe_window(rule.until, ruleset.next_day_begins)
    status = rule.while_restricted.text
    return {
        "title": rule.label,
        "description": f"{rule.label}: {status} after the session, lifting at {words}.",
        "textEquivalent": f"{rule.reason} (Lifts: {words}.)",
        "code": [{"coding": [_coding(base, rule.activity, displays)], "text": rule.label}],
        **_timing(rule, ruleset, base),
        "definitionCanonical": f"{_activity_url(base, ruleset, rule)}|{ruleset.version}",
    }


def _activity_url(base: str, ruleset: Ruleset, rule: Rule) -> str:
    return f"{base}/ActivityDefinition/{ruleset.id}-{rule.activity}"


def _activity_definition(
    rule: Rule, ruleset: Ruleset, base: str, displays: dict[str, str]
) -> dict[str, Any]:
    words = describe_window(rule.until, ruleset.next_day_begins)
    status = rule.while_restricted.text
    summary = f"{rule.label}: {status} after a ketamine session, until {words}."
    resource: dict[str, Any] = {
        "resourceType": "ActivityDefinition",
        "meta": {"tag": _tags(base, ruleset, None)},
        "text": _narrative([summary, rule.reason]),
        "url": _activity_url(base, ruleset, rule),
        "version": ruleset.version,
        "name": _name(f"{ruleset.id} {rule.activity}"),
        "title": rule.label,
        "status": "active",
        "description": markdown(f"{summary} {rule.reason}"),
        "code": {"coding": [_coding(base, rule.activity, displays)], "text": rule.label},
        "doNotPerform": rule.while_restricted is Status.NOT_PERMITTED,
    }
    source = rule.source
    resource["relatedArtifact"] = [
        {"type": "citation", "display": f"{source.title}, section {source.section}"}
    ]
    return resource


def plandefinition(ruleset: Ruleset, *, base_url: str = DEFAULT_BASE_URL) -> dict[str, Any]:
    """See :func:`ketamine_guidance.to_fhir_plandefinition`."""
    if not isinstance(ruleset, Ruleset):
        msg = f"ruleset must be a Ruleset, not {type(ruleset).__name__}"
        raise TypeError(msg)
    base = _base(base_url)
    displays = _displays()
    url = f"{base}/PlanDefinition/{ruleset.id}"
    rows = [("Activity", "Until it lifts", "Lifts")]
    rows += [
        (r.label, r.while_restricted.text, describe_window(r.until, ruleset.next_day_begins))
        for r in ruleset.rules
    ]
    plan_definition: dict[str, Any] = {
        "resourceType": "PlanDefinition",
        "meta": {"tag": _tags(base, ruleset, None)},
        "text": _narrative([f"{ruleset.title} (ruleset {ruleset.id} {ruleset.version})"], rows),
        "url": url,
        "identifier": [{"system": f"{base}/identifier/ruleset-digest", "value": ruleset.digest}],
        "version": ruleset.version,
        "name": _name(ruleset.id),
        "title": ruleset.title,
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/plan-definition-type",
                    "code": "clinical-protocol",
                }
            ]
        },
        "status": "active",
        "description": markdown(
            f"Aftercare after a ketamine session: ruleset {ruleset.id} {ruleset.version}, "
            f"the next day begins at {ruleset.next_day_begins:%H:%M} local time."
        ),
        "action": [_action(r, ruleset, base, displays) for r in ruleset.rules],
    }
    if ruleset.effective_from is not None:
        plan_definition["effectivePeriod"] = {"start": ruleset.effective_from.isoformat()}
    entries = [(plan_definition, "PlanDefinition")]
    entries += [
        (_activity_definition(r, ruleset, base, displays), "ActivityDefinition")
        for r in ruleset.rules
    ]
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": _urn(resource["url"], ruleset.version),
                "resource": resource,
                "request": {
                    "method": "PUT",
                    "url": f"{kind}?url={resource['url']}&version={ruleset.version}",
                },
            }
            for resource, kind in entries
        ],
    }


# The conformance resources the exports use: CodeSystem and StructureDefinitions


def definitions(*, base_url: str = DEFAULT_BASE_URL) -> list[dict[str, Any]]:
    """See :func:`ketamine_guidance.fhir_definitions`."""
    base = _base(base_url)
    text = json.dumps(
        [
            _shipped("CodeSystem-activity.json"),
            _shipped("StructureDefinition-restriction.json"),
            _shipped("StructureDefinition-window.json"),
        ]
    )
    rebased: list[dict[str, Any]] = json.loads(text.replace(DEFAULT_BASE_URL, base))
    return rebased
