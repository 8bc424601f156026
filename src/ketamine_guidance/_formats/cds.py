"""Decisions as CDS Hooks cards: the warning a prescriber sees inside the EHR.

A card is made for every decision that is not PERMITTED: ``warning`` for NOT_PERMITTED,
``info`` for PERMITTED_WITH_CAUTION.  Its summary (under 140 characters, as CDS Hooks
asks) names the activity's label; its Markdown detail gives the reason and when the
restriction lifts, in the patient's local time.
"""

from __future__ import annotations

from typing import Any

from ketamine_guidance._engine.plan import Decision
from ketamine_guidance._engine.windows import BEYOND_RANGE
from ketamine_guidance._errors import ExportError
from ketamine_guidance._formats.codes import ACTIVITY_SYSTEM
from ketamine_guidance._formats.escape import markdown as _md
from ketamine_guidance._formats.text import format_local
from ketamine_guidance._rules.model import Status
from ketamine_guidance._text import visible

__all__ = ["MAX_SUMMARY", "card"]

#: CDS Hooks: a summary "SHOULD be less than 140 characters".
MAX_SUMMARY = 139

_INDICATORS = {Status.NOT_PERMITTED: "warning", Status.PERMITTED_WITH_CAUTION: "info"}


def _summary(decision: Decision) -> str:
    label, status = visible(decision.label, keep_newlines=False), decision.status.text
    until = (
        "" if decision.permitted_from is None else f" until {format_local(decision.permitted_from)}"
    )
    for text in (f"{label}: {status} after ketamine{until}", f"{label}: {status} after ketamine"):
        if len(text) <= MAX_SUMMARY:
            return text
    tail = f"…: {status} after ketamine"
    return label[: MAX_SUMMARY - len(tail)] + tail


def _detail(decision: Decision) -> str:
    session = decision.session
    zone = f" ({session.zone_name})" if session.zone_name else ""
    lines = [
        (
            f"**{_md(decision.label)}** is **{decision.status.text}** after the ketamine "
            f"session that ended {format_local(session.ended_at_local)}{zone}."
        ),
        "",
        _md(decision.reason),
        "",
    ]
    if decision.permitted_from is None and decision.lifts_beyond_range:
        lines.append(f"The end is {BEYOND_RANGE}: treat it as in force.")
    elif decision.permitted_from is None:
        lines.append("No end is given: only a clinician can lift this restriction.")
    else:
        lines.append(f"Permitted from **{format_local(decision.permitted_from)}**{zone}.")
    source = decision.source
    lines += ["", f"Source: *{_md(source.title)}*, section “{_md(source.section)}”."]
    return "\n".join(lines)


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
    return {
        "summary": _summary(decision),
        "indicator": indicator,
        "detail": _detail(decision),
        "source": {
            "label": source_label,
            "topic": {
                "system": ACTIVITY_SYSTEM,
                "code": decision.activity,
                "display": decision.label,
            },
        },
    }
