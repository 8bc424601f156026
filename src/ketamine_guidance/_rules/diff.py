"""Reviewable differences between two rulesets, field by field, windows in words."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from typing import TypeVar, cast

import attrs
from attrs import frozen

from ketamine_guidance._rules.model import Advice, Code, Rule, Source, Window, describe_window
from ketamine_guidance._rules.ruleset import Ruleset

__all__ = ["FieldChange", "ItemChange", "RulesetDiff", "diff_rulesets"]

T = TypeVar("T", Rule, Advice)
_ITEM_FIELDS = ("rules", "advice")
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
                changed.append(ItemChange(k, changes))
    return added, removed, tuple(changed)


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
    )
