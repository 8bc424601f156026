"""Selecting a ruleset's advice: by category, and by the symptom a patient reports."""

from __future__ import annotations

from ketamine_guidance._errors import UnknownSymptomError
from ketamine_guidance._rules.model import Advice, AdviceCategory
from ketamine_guidance._rules.ruleset import Ruleset
from ketamine_guidance._text import shorten

__all__ = ["advice_for_symptom", "advice_in"]


def advice_in(ruleset: Ruleset, category: AdviceCategory | str | None) -> tuple[Advice, ...]:
    """The ruleset's advice in file order; only ``category``'s items unless it is None.

    ``category`` is an :class:`AdviceCategory` or its value (``"integration"``).
    """
    if category is None:
        return ruleset.advice
    if isinstance(category, str) and not isinstance(category, AdviceCategory):
        values = {c.value: c for c in AdviceCategory}
        if category not in values:
            msg = f"category must be one of {', '.join(values)}, not {shorten(repr(category))}"
            raise ValueError(msg)
        category = values[category]
    if not isinstance(category, AdviceCategory):
        names = ", ".join(f"AdviceCategory.{c.name}" for c in AdviceCategory)
        msg = f"category must be None or one of {names}, not {type(category).__name__}"
        raise TypeError(msg)
    return tuple(a for a in ruleset.advice if a.category is category)


def advice_for_symptom(ruleset: Ruleset, symptom: str) -> tuple[Advice, ...]:
    """The advice items that list ``symptom``, in file order.

    A symptom the ruleset does not declare raises :class:`UnknownSymptomError` naming
    the declared ones: an unlisted symptom must never look like one that needs no care.
    """
    if not isinstance(symptom, str):
        msg = f"symptom must be a symptom id (a string), not {type(symptom).__name__}"
        raise TypeError(msg)
    found = tuple(a for a in ruleset.advice if symptom in a.symptoms)
    if not found:
        raise UnknownSymptomError(symptom, ruleset.symptoms)
    return found
