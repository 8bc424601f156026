"""The rule model: statuses, windows, rules, advice and rulesets (all frozen attrs classes)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, TypeAlias

from attrs import field, frozen

from ketamine_guidance._errors import UnknownActivityError

__all__ = [
    "Advice",
    "AdviceCategory",
    "DayAt",
    "EndOfDay",
    "Hours",
    "Immediately",
    "LatestOf",
    "Never",
    "NextDay",
    "Rule",
    "Ruleset",
    "Source",
    "Status",
    "Window",
    "describe_window",
]


class Status(enum.Enum):
    """What the patient may do with an activity at a given instant."""

    PERMITTED = "permitted"
    PERMITTED_WITH_CAUTION = "permitted_with_caution"
    NOT_PERMITTED = "not_permitted"

    @property
    def restrictiveness(self) -> int:
        """0 for PERMITTED, 1 for PERMITTED_WITH_CAUTION, 2 for NOT_PERMITTED."""
        return _RESTRICTIVENESS[self]

    @property
    def text(self) -> str:
        """The status in plain words ("not permitted")."""
        return self.value.replace("_", " ")


_RESTRICTIVENESS = {
    Status.PERMITTED: 0,
    Status.PERMITTED_WITH_CAUTION: 1,
    Status.NOT_PERMITTED: 2,
}


@frozen
class Source:
    """Where a rule or advice item comes from: a document's title and the section in it."""

    title: str
    section: str


# Windows: when a restriction lifts.  Each is a small value; the time engine
# (``_windows.py``) turns a window and a session into an instant.


@frozen
class Immediately:
    """The restriction lifts when the session ends."""


@frozen
class EndOfDay:
    """The restriction lifts at the local midnight that ends the session's day."""


@frozen
class NextDay:
    """The calendar day after the session, at the ruleset's ``next_day_begins`` local time."""


@frozen
class DayAt:
    """The ``day``-th calendar day after the session ended, at local time ``at``."""

    day: int
    at: dt.time


@frozen
class Hours:
    """``hours`` hours of elapsed time after the session ended (not wall-clock hours)."""

    hours: int | float


@frozen
class Never:
    """The ruleset gives no end; only a clinician's override lifts the restriction."""


def _at_least_one_window(_: object, __: object, windows: tuple[object, ...]) -> None:
    if not windows:  # with nothing to wait for, "lifts immediately" would not fail closed
        msg = "LatestOf needs at least one window to wait for"
        raise ValueError(msg)


@frozen
class LatestOf:
    """Lifts when every one of ``windows`` has lifted (there is deliberately no earliest-of)."""

    windows: tuple[Window, ...] = field(validator=_at_least_one_window)


Window: TypeAlias = "Immediately | EndOfDay | NextDay | DayAt | Hours | Never | LatestOf"


def describe_window(window: Window, next_day_begins: dt.time) -> str:
    """A window in words, as reviewers read it ("latest of next day 06:00 and 24 hours").

    >>> describe_window(LatestOf((NextDay(), Hours(24))), dt.time(6))
    'latest of next day 06:00 and 24 hours'
    """
    if isinstance(window, Immediately):
        return "immediately"
    if isinstance(window, EndOfDay):
        return "end of the session's day"
    if isinstance(window, NextDay):
        return f"next day {next_day_begins:%H:%M}"
    if isinstance(window, DayAt):
        which = "next day" if window.day == 1 else f"day {window.day} after the session"
        return f"{which} {window.at:%H:%M}"
    if isinstance(window, Hours):
        return f"{window.hours:g} hours"
    if isinstance(window, Never):
        return "never"
    return "latest of " + " and ".join(describe_window(w, next_day_begins) for w in window.windows)


@frozen(kw_only=True)
class Rule:
    """When one activity is restricted after a session, and how."""

    activity: str
    label: str
    until: Window
    reason: str
    source: Source
    while_restricted: Status = Status.NOT_PERMITTED
    clinician_adjustable: bool = False


class AdviceCategory(enum.Enum):
    """The kinds of advice a ruleset can give."""

    AFTER_EFFECTS = "after_effects"
    INTEGRATION = "integration"
    INTERPRETATION = "interpretation"
    CONTINUING_CARE = "continuing_care"
    LIFESTYLE = "lifestyle"
    EXPECTATIONS = "expectations"

    @property
    def title(self) -> str:
        """A heading for the category ("After-effects")."""
        return _CATEGORY_TITLES[self]


_CATEGORY_TITLES = {
    AdviceCategory.AFTER_EFFECTS: "After-effects",
    AdviceCategory.INTEGRATION: "Integration",
    AdviceCategory.INTERPRETATION: "Interpreting your experience",
    AdviceCategory.CONTINUING_CARE: "Continuing care",
    AdviceCategory.LIFESTYLE: "Lifestyle",
    AdviceCategory.EXPECTATIONS: "What to expect",
}


@frozen(kw_only=True)
class Advice:
    """One piece of structured advice for the patient."""

    id: str
    category: AdviceCategory
    title: str
    text: str
    source: Source
    actions: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    symptoms: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """This advice item as a ``ketamine-guidance/advice/v1`` JSON document.

        .. versionadded:: 0.1.0
        """
        from ketamine_guidance._serialize import advice_dict

        return advice_dict(self)


DEFAULT_NEXT_DAY_BEGINS = dt.time(6, 0)


@frozen(kw_only=True)
class Ruleset:
    """A complete set of aftercare rules and advice, as loaded from one data file.

    Build one with :func:`ketamine_guidance.load_ruleset`, :meth:`Ruleset.from_dict` or
    :func:`ketamine_guidance.default_ruleset`; the constructor does not validate.
    """

    id: str
    version: str
    title: str
    rules: tuple[Rule, ...]
    next_day_begins: dt.time = DEFAULT_NEXT_DAY_BEGINS
    advice: tuple[Advice, ...] = ()
    contact: str | None = None
    reviewed_by: str | None = None
    reviewed_on: dt.date | None = None
    effective_from: dt.date | None = None
    _by_activity: dict[str, Rule] = field(init=False, eq=False, repr=False, hash=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_by_activity", {r.activity: r for r in self.rules})

    @classmethod
    def from_dict(cls, data: object) -> Ruleset:
        """Validate a mapping (as read from TOML or JSON) and build a ruleset.

        Raises :class:`~ketamine_guidance.RulesetError` listing every problem, each with
        the path of the offending field.
        """
        from ketamine_guidance._loader import ruleset_from_data

        return ruleset_from_data(data)

    def to_dict(self) -> dict[str, Any]:
        """This ruleset as a ``ketamine-guidance/ruleset/v1`` JSON document.

        The document is a complete, flat ruleset file: :meth:`from_dict` (or
        :func:`~ketamine_guidance.load_ruleset` on it saved as JSON) gives back an equal
        ruleset.

        .. versionadded:: 0.1.0
        """
        from ketamine_guidance._serialize import ruleset_dict

        return ruleset_dict(self)

    @property
    def activities(self) -> tuple[str, ...]:
        """The activity ids, in file order."""
        return tuple(self._by_activity)

    def rule(self, activity: str) -> Rule:
        """The rule for ``activity``; :class:`~ketamine_guidance.UnknownActivityError` if none."""
        try:
            return self._by_activity[activity]
        except KeyError:
            raise unknown_activity(activity, self._by_activity) from None

    @property
    def symptoms(self) -> tuple[str, ...]:
        """The symptom ids the advice declares, in file order, each once."""
        return tuple(dict.fromkeys(s for a in self.advice for s in a.symptoms))


def unknown_activity(activity: object, known: dict[str, Rule]) -> Exception:
    """The error for an activity id the ruleset does not know, with close matches."""
    import difflib

    text = activity if isinstance(activity, str) else repr(activity)
    close = difflib.get_close_matches(text, known, n=3, cutoff=0.5)
    return UnknownActivityError(text, known, suggestions=close)
