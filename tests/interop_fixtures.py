"""Rulesets and plans the export tests share (a clinic's own file, with advice)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ketamine_guidance import AftercarePlan, Ruleset, Session, plan_for

UTC = dt.timezone.utc
SOURCE = {"title": "A clinic's own aftercare sheet", "section": "After your session"}


def _rule(activity: str, until: Any, **extra: Any) -> dict[str, Any]:
    return {
        "activity": activity,
        "label": activity.replace("_", " ").capitalize(),
        "until": until,
        "reason": f"Wait before {activity.replace('_', ' ')}.",
        "source": SOURCE,
        **extra,
    }


CLINIC_DATA: dict[str, Any] = {
    "id": "clinic",
    "version": "3",
    "title": "Clinic aftercare",
    "next_day_begins": "07:00",
    "contact": "Call the clinic on 555 0100",
    "reviewed_by": "Dr Rivera",
    "reviewed_on": "2026-01-15",
    "rules": [
        _rule("driving", "next_day"),
        _rule("sedative_medications", {"latest_of": ["next_day", {"hours": 24}]}),
        _rule("exercise", "end_of_day", while_restricted="permitted_with_caution"),
        _rule("flying", {"day": 2, "at": "09:30"}, clinician_adjustable=True),
        _rule("water", "immediately"),
        _rule("recreational_drugs", "never"),
    ],
    "advice": [
        {
            "id": "nausea",
            "category": "after_effects",
            "title": "If you feel sick",
            "text": "Rest, sip water and eat something plain.",
            "source": SOURCE,
            "actions": ["Sip water", "Lie down"],
            "symptoms": ["nausea"],
        },
        {
            "id": "journal",
            "category": "integration",
            "title": "Write it down",
            "text": "Notes on the *session* help_later [talks].",
            "source": SOURCE,
            "examples": ["What did you notice?"],
        },
    ],
}

#: The next day begins at 01:30, so in New York a session on 2026-10-31 lifts at
#: 2026-11-01 01:30, a wall time that happens twice; the later one (EST) is meant.
FOLD_DATA: dict[str, Any] = {
    "id": "fold",
    "version": "1",
    "title": "Early next day",
    "next_day_begins": "01:30",
    "rules": [_rule("driving", "next_day"), _rule("alcohol", {"hours": 30})],
}


def clinic_ruleset() -> Ruleset:
    return Ruleset.from_dict(CLINIC_DATA)


def clinic_plan(zone: str = "America/New_York") -> AftercarePlan:
    """A session ending 2026-11-25 18:30 in New York (23:30 UTC), under the clinic rules."""
    return plan_for(Session(dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC), zone), clinic_ruleset())
