"""Reviewable differences between two rulesets, field by field, windows in words.

Each changed rule is marked ``tightened``, ``loosened`` or ``changed`` by comparing
what the two rulesets answer for a sample of sessions (several zones, days around
daylight-saving changes, every half hour and the minute before): a safety reviewer
sees at once what a clinic file makes less safe than its base.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import zoneinfo
from collections.abc import Sequence
from typing import Any, Literal, TypeVar, cast

import attrs
from attrs import frozen

from ketamine_guidance._engine.plan import rule_status
from ketamine_guidance._engine.windows import UTC, lift_instant
from ketamine_guidance._rules.model import (
    Advice,
    Code,
    Immediately,
    LatestOf,
    NextDay,
    Rule,
    Source,
    Status,
    Translation,
    Window,
    describe_window,
)
from ketamine_guidance._rules.ruleset import Ruleset

__all__ = ["FieldChange", "ItemChange", "RulesetDiff", "diff_rulesets", "rule_mark"]

T = TypeVar("T", Rule, Advice)
_ITEM_FIELDS = ("rules", "advice", "translations")
#: The ruleset's own fields that a diff compares (its rules and advice are compared item by item).
_RULESET_FIELDS = tuple(
    f.name for f in attrs.fields(Ruleset) if f.init and f.name not in _ITEM_FIELDS
)


@frozen
class FieldChange:
    """One field that differs: its name, both values, and both values in words.

    .. versionadded:: 0.1.0
    """

    field: str
    old: object
    new: object
    old_text: str
    new_text: str

    def __str__(self) -> str:
        return f"{self.field}: {self.old_text} -> {self.new_text}"


Mark = Literal["tightened", "loosened", "changed"]


@frozen
class ItemChange:
    """A rule (``key`` is its activity) or advice item (its id) present in both, changed.

    For a rule, ``mark`` says what the change does for patients: ``"loosened"`` when,
    for some sampled session, the new rule lifts earlier or is less restrictive at
    some instant (or becomes clinician-adjustable); ``"tightened"`` when it is never
    less and sometimes more restrictive; ``"changed"`` when the answers are the same
    (only words or sources changed).  None for advice.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``mark``.
    """

    key: str
    changes: tuple[FieldChange, ...]
    mark: Mark | None = None

    def __str__(self) -> str:
        mark = f" ({self.mark})" if self.mark else ""
        return f"{self.key}{mark}: " + "; ".join(str(c) for c in self.changes)


@frozen(kw_only=True)
class RulesetDiff:
    """What changed from ``old`` to ``new``, as a clinical safety officer reviews it.

    Rules are matched by activity and advice by id; their order is not compared.
    A rule's window counts as changed when its value changed or when it reads
    differently because ``next_day_begins`` changed.  ``str(diff)`` gives one line per
    change (empty when nothing changed).

    .. versionadded:: 0.1.0
    """

    old: Ruleset = attrs.field(repr=False)
    new: Ruleset = attrs.field(repr=False)
    ruleset_changed: tuple[FieldChange, ...] = ()
    rules_added: tuple[Rule, ...] = ()
    rules_removed: tuple[Rule, ...] = ()
    rules_changed: tuple[ItemChange, ...] = ()
    advice_added: tuple[Advice, ...] = ()
    advice_removed: tuple[Advice, ...] = ()
    advice_changed: tuple[ItemChange, ...] = ()
    translations_changed: tuple[FieldChange, ...] = ()
    translations_to_check: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when the two rulesets say the same thing in every compared field."""
        return not (
            self.ruleset_changed
            or self.rules_added
            or self.rules_removed
            or self.rules_changed
            or self.advice_added
            or self.advice_removed
            or self.advice_changed
            or self.translations_changed
        )

    def lines(self) -> list[str]:
        """The changes in words, one per line."""
        old_nd, new_nd = self.old.next_day_begins, self.new.next_day_begins
        return [
            *(f"ruleset: {c}" for c in self.ruleset_changed),
            *(f"rule removed: {_rule_summary(r, old_nd)}" for r in self.rules_removed),
            *(f"rule added: {_rule_summary(r, new_nd)}" for r in self.rules_added),
            *(
                f"rule changed ({i.mark}): {i.key}: {c}"
                for i in self.rules_changed
                for c in i.changes
            ),
            *(f"advice removed: {a.id}: {a.title}" for a in self.advice_removed),
            *(f"advice added: {a.id}: {a.title}" for a in self.advice_added),
            *(f"advice changed: {i.key}: {c}" for i in self.advice_changed for c in i.changes),
            *(f"translation changed: {c}" for c in self.translations_changed),
            *(
                f"translation to check: {path}: the text it translates changed"
                for path in self.translations_to_check
            ),
        ]

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def to_dict(self) -> dict[str, Any]:
        """This diff as a ``ketamine-guidance/ruleset-diff/v1`` JSON document.

        Values are given in words (as in :meth:`lines`); every changed rule carries its
        ``mark``.

        .. versionadded:: 0.2.0
        """
        old_nd, new_nd = self.old.next_day_begins, self.new.next_day_begins

        def fields(changes: tuple[FieldChange, ...]) -> list[dict[str, str]]:
            return [{"field": c.field, "old": c.old_text, "new": c.new_text} for c in changes]

        return {
            "schema": "ketamine-guidance/ruleset-diff/v1",
            "old": {"id": self.old.id, "version": self.old.version},
            "new": {"id": self.new.id, "version": self.new.version},
            "equal": self.is_empty,
            "ruleset_changed": fields(self.ruleset_changed),
            "rules_added": [
                {"activity": r.activity, "summary": _rule_summary(r, new_nd)}
                for r in self.rules_added
            ],
            "rules_removed": [
                {"activity": r.activity, "summary": _rule_summary(r, old_nd)}
                for r in self.rules_removed
            ],
            "rules_changed": [
                {"activity": i.key, "mark": i.mark, "changes": fields(i.changes)}
                for i in self.rules_changed
            ],
            "advice_added": [{"id": a.id, "title": a.title} for a in self.advice_added],
            "advice_removed": [{"id": a.id, "title": a.title} for a in self.advice_removed],
            "advice_changed": [
                {"id": i.key, "changes": fields(i.changes)} for i in self.advice_changed
            ],
        }


# Sessions to compare two rules on: zones on both sides of the date line and of the
# equator, with and without daylight time, odd offsets; days on and around the
# daylight-saving changes of both hemispheres; every half hour and the minute before.
_SAMPLE_ZONES = (
    "America/New_York",
    "Pacific/Honolulu",
    "Europe/London",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Apia",
    "Pacific/Kiritimati",
    "America/St_Johns",
    "UTC",
)
_SAMPLE_DAYS = tuple(
    dt.date(2026, m, d)
    for m, d in ((1, 15), (3, 8), (3, 29), (4, 5), (7, 1), (10, 4), (10, 25), (11, 1))
)
_SAMPLE_TIMES = tuple(
    dt.timedelta(minutes=m) for h in range(24) for m in (h * 60, h * 60 + 29, h * 60 + 59)
)


@functools.lru_cache(maxsize=1)
def sample_sessions() -> tuple[tuple[dt.datetime, dt.date, dt.tzinfo], ...]:
    """The session ends (UTC), their local days and zones that marks are computed on."""
    samples: list[tuple[dt.datetime, dt.date, dt.tzinfo]] = []
    for name in _SAMPLE_ZONES:
        tz = zoneinfo.ZoneInfo(name)
        for day in _SAMPLE_DAYS:
            midnight = dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(UTC)
            for offset in _SAMPLE_TIMES:
                ended = midnight + offset
                samples.append((ended, ended.astimezone(tz).date(), tz))
    return tuple(samples)


@functools.lru_cache(maxsize=256)
def _sample_lifts(window: Window, next_day_begins: dt.time) -> tuple[dt.datetime | None, ...]:
    return tuple(
        lift_instant(window, ended, day, tz, next_day_begins)
        for ended, day, tz in sample_sessions()
    )


def rule_mark(old: Rule, new: Rule, old_nd: dt.time, new_nd: dt.time) -> Mark:
    """Whether ``new`` (read with ``new_nd``) is tighter, looser or as safe as ``old``."""
    looser = stricter = False
    if old.clinician_adjustable != new.clinician_adjustable:
        looser, stricter = new.clinician_adjustable, old.clinician_adjustable
    same_window = old.until == new.until and (old_nd == new_nd or not _uses_day(old.until))
    if not (same_window and old.while_restricted is new.while_restricted):
        old_lifts = _sample_lifts(old.until, old_nd)
        new_lifts = _sample_lifts(new.until, new_nd)
        for (ended, _, _), lift_old, lift_new in zip(
            sample_sessions(), old_lifts, new_lifts, strict=True
        ):
            # The statuses only change at the session's end and the two lifts.
            for at in {ended, lift_old or ended, lift_new or ended}:
                was = rule_status(old, ended, lift_old, at).restrictiveness
                now = rule_status(new, ended, lift_new, at).restrictiveness
                looser = looser or now < was
                stricter = stricter or now > was
            if looser:
                break
    return "loosened" if looser else "tightened" if stricter else "changed"


def _uses_day(window: Window) -> bool:
    """Whether a window reads ``next_day_begins`` (a next-day part)."""
    if isinstance(window, LatestOf):
        return any(_uses_day(w) for w in window.windows)
    return isinstance(window, NextDay)


def _rule_summary(rule: Rule, next_day_begins: dt.time) -> str:
    if isinstance(rule.until, Immediately):
        return f"{rule.activity}: permitted from the end of the session"
    when = describe_window(rule.until, next_day_begins)
    if rule.while_restricted is Status.PERMITTED_WITH_CAUTION:
        return f"{rule.activity}: take care until {when}; after that permitted"
    return f"{rule.activity}: {rule.while_restricted.text} until {when}"


def _text(value: object, next_day_begins: dt.time, name: str) -> str:
    """A field's value as a reviewer reads it."""
    if name == "until":
        return describe_window(cast("Window", value), next_day_begins)
    if value is None:
        return "(none)"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, Source):
        return f"{value.title!r}, section {value.section!r}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.time):
        return f"{value:%H:%M}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        items: tuple[object, ...] = value  # pyright: ignore[reportUnknownVariableType]
        return "[" + ", ".join(_item_text(v) for v in items) + "]"
    return repr(value)


def _item_text(value: object) -> str:
    """One item of a list field: a code as ``system|code``, anything else as its repr."""
    return f"{value.system}|{value.code}" if isinstance(value, Code) else repr(value)


def _changes(
    old: object, new: object, names: Sequence[str], old_nd: dt.time, new_nd: dt.time
) -> tuple[FieldChange, ...]:
    changes: list[FieldChange] = []
    for name in names:
        a, b = getattr(old, name), getattr(new, name)
        a_text, b_text = _text(a, old_nd, name), _text(b, new_nd, name)
        if a != b or a_text != b_text:
            changes.append(FieldChange(name, a, b, a_text, b_text))
    return tuple(changes)


def _items(
    old: Sequence[T], new: Sequence[T], cls: type[T], old_nd: dt.time, new_nd: dt.time
) -> tuple[tuple[T, ...], tuple[T, ...], tuple[ItemChange, ...]]:
    key = "activity" if cls is Rule else "id"
    before: dict[str, T] = {getattr(i, key): i for i in old}
    after: dict[str, T] = {getattr(i, key): i for i in new}
    added = tuple(i for k, i in after.items() if k not in before)
    removed = tuple(i for k, i in before.items() if k not in after)
    names = [f.name for f in attrs.fields(cls) if f.name != key]
    changed: list[ItemChange] = []
    for k, item in after.items():
        if k in before:
            changes = _changes(before[k], item, names, old_nd, new_nd)
            if changes:
                mark = None
                old_item = before[k]
                if isinstance(item, Rule) and isinstance(old_item, Rule):
                    mark = rule_mark(old_item, item, old_nd, new_nd)
                changed.append(ItemChange(k, changes, mark))
    return added, removed, tuple(changed)


def _translation_texts(translation: Translation) -> dict[str, str]:
    """A translation's texts by path (``rules.driving.reason``), as a reviewer reads them."""
    texts: dict[str, str] = {}
    for name in ("reviewed_by", "reviewed_on", "source_digest", "title", "contact", "emergency"):
        value = getattr(translation, name)
        if value is not None:
            texts[name] = repr(value) if isinstance(value, str) else value.isoformat()
    for rule in translation.rules:
        for name in ("label", "reason"):
            if getattr(rule, name) is not None:
                texts[f"rules.{rule.activity}.{name}"] = repr(getattr(rule, name))
    for item in translation.advice:
        for name in ("title", "text", "actions", "examples"):
            value = getattr(item, name)
            if value:
                texts[f"advice.{item.id}.{name}"] = _text(value, dt.time(0), name)
    return texts


def _translations(old: Ruleset, new: Ruleset) -> tuple[FieldChange, ...]:
    """Each language added or removed, and each text changed, as ``es.rules.driving.label``."""
    before = {t.language: t for t in old.translations}
    after = {t.language: t for t in new.translations}
    changes: list[FieldChange] = []
    for language in dict.fromkeys([*before, *after]):
        a, b = before.get(language), after.get(language)
        if a is None or b is None:
            present = b if a is None else a
            state = "reviewed" if present is not None and present.reviewed else "not reviewed"
            old_text, new_text = ("(none)", state) if a is None else (state, "(none)")
            changes.append(FieldChange(language, a, b, old_text, new_text))
            continue
        a_texts, b_texts = _translation_texts(a), _translation_texts(b)
        for path in dict.fromkeys([*a_texts, *b_texts]):
            a_text, b_text = a_texts.get(path, "(none)"), b_texts.get(path, "(none)")
            if a_text != b_text:
                changes.append(FieldChange(f"{language}.{path}", a, b, a_text, b_text))
    return tuple(changes)


def _stale(
    new: Ruleset, rules: tuple[ItemChange, ...], advice: tuple[ItemChange, ...]
) -> tuple[str, ...]:
    """Translated texts of ``new`` whose own-language text changed while they did not:
    a reviewed translation of the old wording may no longer say the same thing."""
    changed = {
        *(f"rules.{i.key}.{c.field}" for i in rules for c in i.changes),
        *(f"advice.{i.key}.{c.field}" for i in advice for c in i.changes),
    }
    return tuple(
        f"{tr.language}.{path}"
        for tr in new.translations
        for path in _translation_texts(tr)
        if path in changed
    )


def diff_rulesets(old: Ruleset, new: Ruleset) -> RulesetDiff:
    """The differences from ``old`` to ``new``: rules and advice added, removed and changed.

    >>> import attrs
    >>> from ketamine_guidance import Hours, LatestOf, NextDay, default_ruleset, diff_rulesets
    >>> base = default_ruleset()
    >>> clinic = attrs.evolve(base, version="2026.1-clinic", rules=(
    ...     attrs.evolve(base.rule("driving"), until=LatestOf((NextDay(), Hours(24)))),
    ...     *base.rules[1:],
    ... ))
    >>> print(diff_rulesets(base, clinic))  # doctest: +NORMALIZE_WHITESPACE
    ruleset: version: '2026.1' -> '2026.1-clinic'
    rule changed (tightened): driving: until: latest of next day 06:00 and 8 hours
        -> latest of next day 06:00 and 24 hours
    >>> diff_rulesets(base, base).is_empty
    True

    .. versionadded:: 0.1.0
    """
    for name, value in (("old", old), ("new", new)):
        if not isinstance(value, Ruleset):
            msg = f"{name} must be a Ruleset, not {type(value).__name__}"
            raise TypeError(msg)
    old_nd, new_nd = old.next_day_begins, new.next_day_begins
    rules_added, rules_removed, rules_changed = _items(old.rules, new.rules, Rule, old_nd, new_nd)
    advice_added, advice_removed, advice_changed = _items(
        old.advice, new.advice, Advice, old_nd, new_nd
    )
    translations_changed = _translations(old, new)
    return RulesetDiff(
        old=old,
        new=new,
        ruleset_changed=_changes(old, new, _RULESET_FIELDS, old_nd, new_nd),
        rules_added=rules_added,
        rules_removed=rules_removed,
        rules_changed=rules_changed,
        advice_added=advice_added,
        advice_removed=advice_removed,
        advice_changed=advice_changed,
        translations_changed=translations_changed,
        translations_to_check=tuple(
            path
            for path in _stale(new, rules_changed, advice_changed)
            if path not in {c.field for c in translations_changed}
        ),
    )
