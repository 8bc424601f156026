"""Selecting a ruleset's advice: by category, and by the symptom a patient reports."""

from __future__ import annotations

from ketamine_guidance._errors import UnknownSymptomError
from ketamine_guidance._rules.model import Advice, AdviceCategory
from ketamine_guidance._rules.ruleset import Ruleset

__all__ = ["advice_for_symptom", "advice_in"]


def advice_in(ruleset: Ruleset, category: AdviceCategory | None) -> tuple[Advice, ...]:
    """The ruleset's advice in file order; only ``category``'s items unless it is None."""
    if category is None:
        return ruleset.advice
    if not isinstance(category, AdviceCategory):
        names = ", ".join(f"AdviceCategory.{c.name}" for c in AdviceCategory)
        msg = f"category must be None or one of {names}, not {category!r}"
        raise TypeError(msg)
    return tuple(a for a in ruleset.advice if a.category is category)


def advice_for_symptom(ruleset: Ruleset, symptom: str) -> tuple[Advice, ...]:
    """The advice items that list ``symptom``, in file order.

    A symptom the ruleset does not declare raises :class:`UnknownSymptomError` naming
    the declared ones: an unlisted symptom must never look like one that needs no care.
    """
    found: tuple[Advice, ...] = ()
    if isinstance(symptom, str):
        found = tuple(a for a in ruleset.advice if symptom in a.symptoms)
    if not found:
        given = symptom if isinstance(symptom, str) else repr(symptom)
        raise UnknownSymptomError(given, ruleset.symptoms)
    return found
