"""Decisions as CDS Hooks cards: the warning a prescriber sees inside the EHR.

A card is made for every decision that is not PERMITTED: ``warning`` for NOT_PERMITTED,
``info`` for PERMITTED_WITH_CAUTION.  It is written for the clinician who reads it:

* the summary (under 140 characters, as CDS Hooks asks) says what holds and until when,
  and when the session ended ("Driving: not permitted until Thu 26 Nov 06:00 EST;
  ketamine session ended 18:30"; for caution "take care until ...; after that
  permitted"); times are rounded *up* to the minute, so none is shown earlier than true;
* the Markdown detail quotes the reason the patient was given, says who overrode the
  rule if anyone did, and names the source and the rules (ruleset id, version, digest)
  and the tz database;
* ``uuid`` is stable for the same plan, decision and instant (a UUID 5 of them);
* ``source`` carries the service's label, the ruleset's digest and the activity as its
  ``topic``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from ketamine_guidance._engine.documents import iso, tzdb_info
from ketamine_guidance._engine.plan import Decision, override_span
from ketamine_guidance._engine.windows import BEYOND_RANGE
from ketamine_guidance._errors import ExportError
from ketamine_guidance._formats.codes import ACTIVITY_SYSTEM
from ketamine_guidance._formats.escape import markdown
from ketamine_guidance._formats.text import format_clock, format_short
from ketamine_guidance._rules.model import Status
from ketamine_guidance._text import visible

__all__ = ["MAX_SUMMARY", "card"]

#: CDS Hooks: a summary "SHOULD be less than 140 characters".
MAX_SUMMARY = 139

_INDICATORS = {Status.NOT_PERMITTED: "warning", Status.PERMITTED_WITH_CAUTION: "info"}
#: The name of the card's extension that carries the audit trail.
AUDIT_EXTENSION = "ketamine-guidance-audit"


def _until(decision: Decision) -> str | None:
    lift = decision.permitted_from
    return None if lift is None else format_short(lift)  # rounded up: never early


def _ended(decision: Decision) -> str:
    """When the session ended: the clock time alone on the day of the question."""
    ended = decision.session.ended_at_local
    at = decision.at
    if at is not None and at.astimezone(ended.tzinfo).date() == ended.date():
        return format_clock(ended)
    return format_short(ended)


def _state(decision: Decision) -> str:
    until = _until(decision)
    short = "take care" if decision.status is Status.PERMITTED_WITH_CAUTION else "not permitted"
    if until is None:
        end = f"the end is {BEYOND_RANGE}" if decision.lifts_beyond_range else "no end is given"
        return f"{short}; {end}"
    if decision.status is Status.PERMITTED_WITH_CAUTION:
        return f"take care until {until}; after that permitted"
    return f"not permitted until {until}"


def _summary(decision: Decision) -> str:
    label, state = visible(decision.label, keep_newlines=False), _state(decision)
    short = "take care" if decision.status is Status.PERMITTED_WITH_CAUTION else "not permitted"
    ended = f"ketamine session ended {_ended(decision)}"
    for text in (f"{label}: {state}; {ended}", f"{label}: {state}", f"{label}: {short}"):
        if len(text) <= MAX_SUMMARY:
            return text
    tail = f"…: {short}"
    return label[: MAX_SUMMARY - len(tail)] + tail


def _detail(decision: Decision) -> str:
    session = decision.session
    zone = f" ({markdown(session.zone_name)})" if session.zone_name else ""
    ended = format_short(session.ended_at_local)
    lines = [
        f"**{markdown(decision.label)}**: {markdown(_state(decision))}\\.",
        "",
        f"The ketamine session ended {markdown(ended)}{zone}\\.",
        "",
        "What the patient was told:",
        "",
        *(f"> {line}" for line in markdown(decision.reason).split("\n")),
    ]
    if decision.permitted_from is None and decision.lifts_beyond_range:
        lines += ["", markdown(f"The end is {BEYOND_RANGE}: treat it as in force.")]
    elif decision.permitted_from is None:
        lines += ["", markdown("The ruleset gives no end: treat it as in force.")]
    override = decision.override
    if override is not None:
        # Rounded on the safe side, as everywhere an override's times are shown.
        span = override_span(override, session.timezone, words=format_short)
        lines += [
            "",
            f"Set by {markdown(override.clinician)} {markdown(span)}"
            + (f": {markdown(override.note)}" if override.note else "\\."),
        ]
    source = decision.source
    lines += ["", f"Source: *{markdown(source.title)}*, section “{markdown(source.section)}”\\."]
    ruleset = decision.ruleset
    if ruleset is not None:
        lines += [
            "",
            (
                f"Rules: {markdown(ruleset.id)} {markdown(ruleset.version)} "
                f"\\({markdown(ruleset.digest)}\\)\\."
            ),
        ]
    return "\n".join(lines)


def _uuid(decision: Decision) -> str:
    """Stable for the same plan (rules, session, override), decision and instant."""
    ruleset = decision.ruleset
    override = decision.override
    parts = [
        "ketamine-guidance-card",
        "" if ruleset is None else ruleset.digest,
        iso(decision.session.ended_at_utc),
        str(decision.session.zone_name),
        decision.activity,
        decision.status.value,
        "" if decision.at is None else iso(decision.at.astimezone(dt.timezone.utc)),
        "" if decision.permitted_from_utc is None else iso(decision.permitted_from_utc),
        "" if override is None else f"{override.clinician}|{iso(override.effective_from_utc)}",
        decision.reason,
    ]
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "|".join(parts)))


def _audit(decision: Decision) -> dict[str, Any]:
    ruleset = decision.ruleset
    return {
        "ruleset": None
        if ruleset is None
        else {"id": ruleset.id, "version": ruleset.version, "digest": ruleset.digest},
        "tzdb": tzdb_info(decision.session.timezone),
    }


def card(decision: Decision, *, source_label: str) -> dict[str, Any] | None:
    """See :func:`ketamine_guidance.to_cds_card`."""
    if not isinstance(decision, Decision):
        msg = f"decision must be a Decision, not {type(decision).__name__}"
        raise TypeError(msg)
    if not isinstance(source_label, str):
        msg = f"source_label must be a string, not {type(source_label).__name__}"
        raise TypeError(msg)
    if not source_label.strip():
        msg = f"source_label must be a non-empty string, not {source_label!r}"
        raise ExportError(msg)
    indicator = _INDICATORS.get(decision.status)
    if indicator is None:
        return None
    ruleset = decision.ruleset
    label = source_label if ruleset is None else f"{source_label} · rules {ruleset.digest}"
    return {
        "uuid": _uuid(decision),
        "summary": _summary(decision),
        "indicator": indicator,
        "detail": _detail(decision),
        "source": {
            "label": label,
            "topic": {
                "system": ACTIVITY_SYSTEM,
                "code": decision.activity,
                "display": decision.label,
            },
        },
        "extension": {AUDIT_EXTENSION: _audit(decision)},
    }
