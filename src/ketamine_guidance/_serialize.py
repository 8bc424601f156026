"""JSON-ready dictionaries for plans, decisions and timelines (``"schema"``-tagged)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ketamine_guidance._model import Ruleset, Source
from ketamine_guidance._plan import AftercarePlan, Decision, Override, TimelineEntry
from ketamine_guidance._session import Session

__all__ = [
    "decision_dict",
    "plan_dict",
    "ruleset_summary_dict",
    "schema_id",
]


def schema_id(kind: str) -> str:
    """The versioned schema name every JSON document carries."""
    return f"ketamine-guidance/{kind}/v1"


def _instant(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _source(source: Source) -> dict[str, str]:
    return {"title": source.title, "section": source.section}


def _override(ov: Override | None, session: Session) -> dict[str, Any] | None:
    if ov is None:
        return None
    return {
        "activity": ov.activity,
        "status": ov.status.value,
        "effective_from": _instant(ov.effective_from_utc.astimezone(session.timezone)),
        "clinician": ov.clinician,
        "note": ov.note,
    }


def _session(session: Session) -> dict[str, Any]:
    return {
        "ended_at": _instant(session.ended_at_local),
        "ended_at_utc": _instant(session.ended_at_utc),
        "timezone": session.zone_name,
    }


def ruleset_summary_dict(ruleset: Ruleset) -> dict[str, Any]:
    """The ruleset's identity: id, version and title."""
    return {"id": ruleset.id, "version": ruleset.version, "title": ruleset.title}


def decision_dict(decision: Decision, at: dt.datetime) -> dict[str, Any]:
    """A decision as a ``ketamine-guidance/decision/v1`` document."""
    session = decision.session
    return {
        "schema": schema_id("decision"),
        "activity": decision.activity,
        "label": decision.label,
        "at": _instant(at.astimezone(session.timezone)),
        "status": decision.status.value,
        "permitted": decision.permitted,
        "permitted_from": _instant(decision.permitted_from),
        "permitted_from_utc": _instant(decision.permitted_from_utc),
        "timezone": session.zone_name,
        "reason": decision.reason,
        "source": _source(decision.source),
        "override": _override(decision.override, session),
    }


def _entry(entry: TimelineEntry, session: Session) -> dict[str, Any]:
    return {
        "activity": entry.activity,
        "label": entry.label,
        "status_until_lift": entry.status_until_lift.value,
        "permitted_from": _instant(entry.permitted_from),
        "permitted_from_utc": _instant(entry.permitted_from_utc),
        "reason": entry.reason,
        "source": _source(entry.source),
        "clinician_adjustable": entry.clinician_adjustable,
        "overrides": [_override(o, session) for o in entry.overrides],
    }


def plan_dict(plan: AftercarePlan) -> dict[str, Any]:
    """A plan's timeline as a ``ketamine-guidance/plan/v1`` document."""
    return {
        "schema": schema_id("plan"),
        "ruleset": ruleset_summary_dict(plan.ruleset),
        "session": _session(plan.session),
        "timeline": [_entry(e, plan.session) for e in plan.timeline()],
    }
