"""Reviewable differences between two rulesets, field by field, windows in words."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from typing import TypeVar, cast

import attrs
from attrs import frozen

from ketamine_guidance._rules.model import (
    Advice,
    Rule,
    Source,
    Translation,
    Window,
    describe_window,
)
from ketamine_guidance._rules.ruleset import Ruleset

__all__ = ["FieldChange", "ItemChange", "RulesetDiff", "diff_rulesets"]

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


@frozen
class ItemChange:
    """A rule (``key`` is its activity) or advice item (its id) present in both, changed.

    .. versionadded:: 0.1.0
    """

    key: str
    changes: tuple[FieldChange, ...]

    def __str__(self) -> str:
        return f"{self.key}: " + "; ".join(str(c) for c in self.changes)


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
            *(f"rule changed: {i.key}: {c}" for i in self.rules_changed for c in i.changes),
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


def _rule_summary(rule: Rule, next_day_begins: dt.time) -> str:
    return (
        f"{rule.activity}: {rule.while_restricted.text} until "
        f"{describe_window(rule.until, next_day_begins)}"
    )


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
        return "[" + ", ".join(repr(v) for v in items) + "]"
    return repr(value)


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
                changed.append(ItemChange(k, changes))
    return added, removed, tuple(changed)


def _translation_texts(translation: Translation) -> dict[str, str]:
    """A translation's texts by path (``rules.driving.reason``), as a reviewer reads them."""
    texts: dict[str, str] = {}
    for name in ("reviewed_by", "reviewed_on", "title", "contact", "emergency"):
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
    >>> print(diff_rulesets(base, clinic))
    ruleset: version: '2026.1' -> '2026.1-clinic'
    rule changed: driving: until: next day 06:00 -> latest of next day 06:00 and 24 hours
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
