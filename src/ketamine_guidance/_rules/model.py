"""The rule model: statuses, windows, rules and advice (all frozen attrs classes).

The JSON document code of these classes lives here with them (``window_data``,
``advice_dict`` and the cattrs converter), so that ``to_dict`` needs nothing from a
higher layer.  The ruleset itself, which the loader builds, is in ``ruleset.py``.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from typing import TYPE_CHECKING, Any, TypeAlias

from attrs import field, frozen

from ketamine_guidance._errors import UnknownActivityError

if TYPE_CHECKING:
    import cattrs

__all__ = [
    "ATC_SYSTEM",
    "Advice",
    "AdviceCategory",
    "AdviceTranslation",
    "RuleTranslation",
    "Translation",
    "Code",
    "DayAt",
    "EndOfDay",
    "Hours",
    "Immediately",
    "LatestOf",
    "Never",
    "NextDay",
    "DEFAULT_NEXT_DAY_BEGINS",
    "Rule",
    "Source",
    "Status",
    "Window",
    "advice_data",
    "advice_dict",
    "converter",
    "describe_window",
    "schema_id",
    "source_data",
    "unknown_activity",
    "window_data",
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
        return f"{_exact(window.hours)} hours"
    if isinstance(window, Never):
        return "never"
    return "latest of " + " and ".join(describe_window(w, next_day_begins) for w in window.windows)


#: The code system URL of the WHO ATC classification, as FHIR names it.
ATC_SYSTEM = "http://www.whocc.no/atc"


@frozen
class Code:
    """A code that marks what a rule restricts, such as a medication class.

    ``system`` is the code system's URL (FHIR's ``Coding.system``), ``code`` the code in
    it.  :meth:`matches` says whether a coded thing (a medication order's coding) falls
    under this code: the same code in the same system or, in the ATC classification
    (:data:`ATC_SYSTEM`), a code inside this class (``N05CD08`` is in ``N05C``).

    >>> Code(ATC_SYSTEM, "N05C").matches(ATC_SYSTEM, "N05CD08")
    True
    >>> Code("http://www.nlm.nih.gov/research/umls/rxnorm", "1000001").matches(
    ...     "http://www.nlm.nih.gov/research/umls/rxnorm", "1000")
    False
    """

    system: str
    code: str

    def matches(self, system: object, code: object) -> bool:
        """True when ``code`` in ``system`` is this code, or in this ATC class."""
        if system != self.system or not isinstance(code, str):
            return False
        if self.system == ATC_SYSTEM:
            return code.strip().upper().startswith(self.code.upper())
        return code.strip() == self.code


@frozen(kw_only=True)
class Rule:
    """When one activity is restricted after a session, and how.

    ``codes`` name what the rule restricts in other systems' terms (medication classes
    and products), so that a CDS Hooks service can match a medication order to it.
    """

    activity: str
    label: str
    until: Window
    reason: str
    source: Source
    while_restricted: Status = Status.NOT_PERMITTED
    clinician_adjustable: bool = False
    codes: tuple[Code, ...] = ()


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
        return advice_dict(self)


DEFAULT_NEXT_DAY_BEGINS = dt.time(6, 0)


# Translations of a ruleset's texts, each language reviewed (or not) as a whole


@frozen(kw_only=True)
class RuleTranslation:
    """One rule's label and reason in another language (None: not translated).

    .. versionadded:: 0.2.0
    """

    activity: str
    label: str | None = None
    reason: str | None = None


@frozen(kw_only=True)
class AdviceTranslation:
    """One advice item's texts in another language (None or empty: not translated).

    ``actions`` and ``examples``, when given, have one text for each of the item's own.

    .. versionadded:: 0.2.0
    """

    id: str
    title: str | None = None
    text: str | None = None
    actions: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()


@frozen(kw_only=True)
class Translation:
    """A ruleset's texts in one other ``language``, and who reviewed them, when.

    The aftercare sheet uses a translation only when it is :attr:`reviewed` and was
    reviewed against the ruleset's current texts: ``source_digest`` must be the
    ruleset's :attr:`~ketamine_guidance.Ruleset.texts_digest` (see
    :meth:`~ketamine_guidance.Ruleset.reviewed_translation`).  Clinical text in another
    language needs a clinician's check before a patient reads it, and a new check when
    the text it translates changes.

    .. versionadded:: 0.2.0
    """

    language: str
    reviewed_by: str | None = None
    reviewed_on: dt.date | None = None
    #: The :attr:`~ketamine_guidance.Ruleset.texts_digest` of the texts the reviewer
    #: checked this translation against (``ketamine-guidance validate`` prints it).
    source_digest: str | None = None
    title: str | None = None
    contact: str | None = None
    emergency: str | None = None
    rules: tuple[RuleTranslation, ...] = ()
    advice: tuple[AdviceTranslation, ...] = ()

    @property
    def reviewed(self) -> bool:
        """True when the translation names its reviewer and the date of the review."""
        return self.reviewed_by is not None and self.reviewed_on is not None


def unknown_activity(activity: object, known: dict[str, Rule]) -> Exception:
    """The error for an activity id the ruleset does not know, with close matches."""
    import difflib

    if not isinstance(activity, str):
        msg = f"activity must be an activity id (a string), not {type(activity).__name__}"
        return TypeError(msg)
    # A long id is nothing like a real one: do not spend time comparing it.
    close = (
        difflib.get_close_matches(activity, known, n=3, cutoff=0.5) if len(activity) < 200 else []
    )
    return UnknownActivityError(activity, known, suggestions=close)


# JSON documents of these classes (``ketamine-guidance/<kind>/v1``)


def schema_id(kind: str) -> str:
    """The versioned schema name every JSON document carries."""
    return f"ketamine-guidance/{kind}/v1"


def window_data(window: Window) -> str | dict[str, Any]:
    """A window as the ruleset file format writes it (``"next_day"``, ``{"hours": 24}``)."""
    if isinstance(window, Hours):
        return {"hours": window.hours}
    if isinstance(window, DayAt):
        return {"day": window.day, "at": f"{window.at:%H:%M}"}
    if isinstance(window, LatestOf):
        return {"latest_of": [window_data(w) for w in window.windows]}
    return _SIMPLE[type(window)]


_SIMPLE: dict[type, str] = {
    Immediately: "immediately",
    NextDay: "next_day",
    EndOfDay: "end_of_day",
    Never: "never",
}


@functools.cache
def converter() -> cattrs.Converter:
    """The cattrs converter for the model classes: built once, on first use.

    The classes whose document mirrors the class field for field (``Source``, ``Rule``,
    ``Advice``) are unstructured by it, so a field added to the model appears in the
    documents without anyone editing this function.  cattrs is imported here, never by
    ``import ketamine_guidance``.
    """
    from cattrs.gen import make_dict_unstructure_fn, override
    from cattrs.preconf.json import make_converter

    made = make_converter()  # enums by value, tuples as lists
    made.register_unstructure_hook(dt.time, lambda t: f"{t:%H:%M}")
    made.register_unstructure_hook(dt.date, dt.date.isoformat)
    made.register_unstructure_hook(
        Rule,
        make_dict_unstructure_fn(
            Rule,
            made,
            until=override(unstruct_hook=window_data),
            # Written only when a rule has codes, so that documents (and digests) of
            # rulesets without codes are as they were before codes existed.
            codes=override(omit_if_default=True),
        ),
    )
    # A translation writes only what it translates, as a file does.
    for cls in (RuleTranslation, AdviceTranslation, Translation):
        made.register_unstructure_hook(
            cls, make_dict_unstructure_fn(cls, made, _cattrs_omit_if_default=True)
        )
    return made


def advice_data(advice: Advice) -> dict[str, Any]:
    """An advice item's fields, as a ruleset file writes them."""
    data: dict[str, Any] = converter().unstructure(advice)
    return data


def source_data(source: Source) -> dict[str, str]:
    """A source's fields: ``{"title": ..., "section": ...}``."""
    data: dict[str, str] = converter().unstructure(source)
    return data


def advice_dict(advice: Advice) -> dict[str, Any]:
    """An advice item as a ``ketamine-guidance/advice/v1`` document."""
    return {"schema": schema_id("advice"), **advice_data(advice)}


def _exact(number: float) -> str:
    """A number as written, never rounded: ``24``, ``1.5``, ``23.99999`` (not ``24``)."""
    if isinstance(number, float) and number.is_integer():
        return str(int(number))
    return repr(number)
