"""Ketamine-therapy aftercare rules: is activity X permitted at time T after this session?

>>> import datetime as dt
>>> from ketamine_guidance import Session, plan_for
>>> session = Session(dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.timezone.utc), "America/New_York")
>>> plan = plan_for(session)
>>> plan.is_permitted("driving", dt.datetime(2026, 11, 26, 10, 59, tzinfo=dt.timezone.utc))
False
>>> plan.check("driving", dt.datetime(2026, 11, 26, 11, 0, tzinfo=dt.timezone.utc)).status
<Status.PERMITTED: 'permitted'>

``import ketamine_guidance`` loads the rules, sessions and plans; the other public names
(courses, batches, diffs, the sheet and the exports) load on first use.
"""

from typing import TYPE_CHECKING, Any

from ketamine_guidance._engine.plan import (
    AftercarePlan,
    Decision,
    Override,
    TimelineEntry,
    is_permitted,
    plan_for,
)
from ketamine_guidance._engine.session import Session
from ketamine_guidance._errors import (
    BeforeSessionEndError,
    ExportError,
    GuidanceError,
    MissingExtraError,
    MissingTimezoneError,
    NaiveDatetimeError,
    OverrideError,
    RulesetError,
    RulesetFileError,
    RulesetNotInEffectError,
    RulesetProblem,
    SheetWarning,
    UnknownActivityError,
    UnknownSymptomError,
    UnknownTimezoneError,
)
from ketamine_guidance._rules.model import (
    ATC_SYSTEM,
    Advice,
    AdviceCategory,
    AdviceTranslation,
    Code,
    DayAt,
    EndOfDay,
    Hours,
    Immediately,
    LatestOf,
    Never,
    NextDay,
    Rule,
    RuleTranslation,
    Source,
    Status,
    Translation,
    Window,
)
from ketamine_guidance._rules.ruleset import Ruleset, default_ruleset, load_ruleset

if TYPE_CHECKING:  # loaded on first use, by __getattr__ below
    from ketamine_guidance._engine.batch import LiftColumns, LiftTable, lift_times
    from ketamine_guidance._engine.course import CoursePlan, plan_for_course
    from ketamine_guidance._engine.diff import (
        FieldChange,
        ItemChange,
        RulesetDiff,
        diff_rulesets,
    )
    from ketamine_guidance._formats.codes import (
        ACTIVITY_SYSTEM,
        DEFAULT_BASE_URL,
        DEFAULT_SOURCE_LABEL,
        RESTRICTION_EXTENSION,
    )
    from ketamine_guidance._formats.exports import (
        cds_response,
        fhir_definitions,
        to_cds_card,
        to_fhir_bundle,
        to_fhir_careplan,
        to_fhir_plandefinition,
        to_ical,
    )
    from ketamine_guidance._formats.sheet import SheetFormat, render_sheet
    from ketamine_guidance._rules.loader import validate_ruleset
    from ketamine_guidance._rules.schema import ruleset_schema

__version__ = "0.1.0"

# The public names whose modules load on first use, and where each lives.
_LAZY = {
    **dict.fromkeys(("LiftColumns", "LiftTable", "lift_times"), "_engine.batch"),
    **dict.fromkeys(("CoursePlan", "plan_for_course"), "_engine.course"),
    **dict.fromkeys(("FieldChange", "ItemChange", "RulesetDiff", "diff_rulesets"), "_engine.diff"),
    **dict.fromkeys(
        ("ACTIVITY_SYSTEM", "DEFAULT_BASE_URL", "DEFAULT_SOURCE_LABEL", "RESTRICTION_EXTENSION"),
        "_formats.codes",
    ),
    **dict.fromkeys(
        (
            "cds_response",
            "fhir_definitions",
            "to_cds_card",
            "to_fhir_bundle",
            "to_fhir_careplan",
            "to_fhir_plandefinition",
            "to_ical",
        ),
        "_formats.exports",
    ),
    **dict.fromkeys(("SheetFormat", "render_sheet"), "_formats.sheet"),
    "validate_ruleset": "_rules.loader",
    "ruleset_schema": "_rules.schema",
}


if not TYPE_CHECKING:  # pragma: no branch  (hidden from type checkers: a typo is an error)

    def __getattr__(name: str) -> Any:
        """A public name from a module loaded on first use (PEP 562)."""
        module = _LAZY.get(name)
        if module is None:
            msg = f"module {__name__!r} has no attribute {name!r}"
            raise AttributeError(msg)
        import importlib

        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        globals()[name] = value  # the next look-up is a plain attribute
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    # Sessions and plans
    "AftercarePlan",
    "CoursePlan",
    "Decision",
    "LiftColumns",
    "LiftTable",
    "Override",
    "Session",
    "Status",
    "TimelineEntry",
    "is_permitted",
    "lift_times",
    "plan_for",
    "plan_for_course",
    # The patient's aftercare sheet
    "SheetFormat",
    "SheetWarning",
    "render_sheet",
    # Rulesets
    "Advice",
    "AdviceCategory",
    "ATC_SYSTEM",
    "Code",
    "Rule",
    "Ruleset",
    "Source",
    "Translation",
    "RuleTranslation",
    "AdviceTranslation",
    "default_ruleset",
    "load_ruleset",
    "validate_ruleset",
    "ruleset_schema",
    # Reviewing rulesets
    "FieldChange",
    "ItemChange",
    "RulesetDiff",
    "diff_rulesets",
    # Windows
    "DayAt",
    "EndOfDay",
    "Hours",
    "Immediately",
    "LatestOf",
    "Never",
    "NextDay",
    "Window",
    # Exports to other systems (FHIR R4, CDS Hooks, iCalendar)
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
    # Exceptions
    "BeforeSessionEndError",
    "ExportError",
    "GuidanceError",
    "MissingExtraError",
    "MissingTimezoneError",
    "NaiveDatetimeError",
    "OverrideError",
    "RulesetError",
    "RulesetFileError",
    "RulesetNotInEffectError",
    "RulesetProblem",
    "UnknownActivityError",
    "UnknownSymptomError",
    "UnknownTimezoneError",
]
