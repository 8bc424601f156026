"""Reading ruleset files (TOML or JSON) and checking every field, with paths in errors.

The validation is written out by hand rather than through cattrs: a window is a
small tagged union written as a string or a one-key table, and each problem must be
reported in the words of the file format (``rules[2].until.hours: must be a positive
number``), all at once, with no import cost on the path that loads the default.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import math
import os
import re
import stat
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, cast

from ketamine_guidance._errors import RulesetError, RulesetFileError, RulesetProblem
from ketamine_guidance._rules.model import (
    DEFAULT_NEXT_DAY_BEGINS,
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
from ketamine_guidance._text import UNSAFE, shorten

if TYPE_CHECKING:
    from pathlib import Path


def _toml_loads(text: str) -> object:
    """Parse TOML; the parser is imported on first use to keep the package's import fast."""
    if sys.version_info >= (3, 11):  # pragma: no cover (one branch per Python version)
        import tomllib
    else:  # pragma: no cover (one branch per Python version)
        import tomli as tomllib
    return tomllib.loads(text)


__all__ = [
    "CLAIMED_DIGEST",
    "MAX_FILE_BYTES",
    "Fields",
    "default_fields",
    "load_fields",
    "read_ruleset_data",
    "ruleset_fields",
    "validate_ruleset",
]

#: A ruleset's checked fields, as keyword arguments for ``Ruleset``.  The loader hands
#: back fields, not a ``Ruleset``, so that the class (in ``ruleset.py``, above this
#: module) can offer ``from_dict`` without an import circle.
Fields: TypeAlias = "dict[str, Any]"

RULESET_SCHEMA = "ketamine-guidance/ruleset/v1"
#: The key under which the fields hand on a document's own ``digest`` for the ruleset
#: class to check (the loader, below it, cannot compute one).
CLAIMED_DIGEST = "claimed_digest"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
MAX_FILE_BYTES = 1024 * 1024
MAX_HOURS = 24 * 366 * 10  # ten years: anything longer is a typing mistake, not a window
MAX_DAYS = 366 * 10
MAX_EXTENDS_DEPTH = 8  # a chain of bases deeper than this is a mistake, not a design
MAX_DEPTH = 32  # tables and lists inside each other: a ruleset needs about 8
MAX_ITEMS = 200_000  # values in all (a 1 MiB file holds fewer); bounds the work on shared data
MAX_TEXT = 10_000  # characters in one text field: a long paragraph of advice is 1,000
_BASE_SUFFIXES = (".toml", ".json")

# Only YYYY-MM-DD: from Python 3.11 on, date.fromisoformat also takes forms such as
# "20260115" and "2026-W03-4", which 3.10 and the JSON Schema refuse.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")  # ASCII digits: \d takes any script's
_ID = re.compile(r"[a-z][a-z0-9_]*")
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:_[A-Z]{2})?")  # "es", "pt_BR": the sheet's locale form
_SIMPLE_WINDOWS: dict[str, Window] = {
    "immediately": Immediately(),
    "next_day": NextDay(),
    "end_of_day": EndOfDay(),
    "never": Never(),
}
_RESTRICTED = {
    "not_permitted": Status.NOT_PERMITTED,
    "permitted_with_caution": Status.PERMITTED_WITH_CAUTION,
}

T = TypeVar("T")
_NO_TEXTS: tuple[str, ...] = ()


class _InvalidFieldError(Exception):
    """Abandons one field or table after its problem was recorded."""


class _Reader:
    """Walks the raw data, recording every problem with the path where it was found.

    A parser for one field records its problem and raises ``_InvalidFieldError``; a
    parser for a table reads every field (so every problem is recorded) and then
    gives up on the table if any of them failed.
    """

    def __init__(self, *, base_dir: Path | None = None, chain: tuple[Path, ...] = ()) -> None:
        self.problems: list[RulesetProblem] = []
        self.base_dir = base_dir  # where ``extends`` paths start; None: only "default"
        self.chain = chain  # the files being loaded, outermost first (to find cycles)

    def fail(self, path: str, message: str) -> _InvalidFieldError:
        self.problems.append(RulesetProblem(path, message))
        return _InvalidFieldError()

    def attempt(self, value: object, path: str, parse: Callable[[object, str], T]) -> T | None:
        """``parse(value, path)``, or None once its problem has been recorded."""
        try:
            return parse(value, path)
        except _InvalidFieldError:
            return None

    def table(  # noqa: PLR0913  (the options after * are keyword-only, each named at the call)
        self,
        value: object,
        path: str,
        parsers: Mapping[str, Callable[[object, str], object]],
        *,
        required: tuple[str, ...],
        defaults: Mapping[str, object],
        partial: bool = False,
    ) -> dict[str, Any]:
        """Parse a table field by field; raise once every problem in it is recorded.

        With ``partial``, do not raise: a field that failed is None, so checks across
        fields can still run on the fields that did parse.
        """
        if not isinstance(value, Mapping):
            raise self.fail(path, f"must be a table, not {_kind(value)}")
        table = cast("Mapping[object, object]", value)
        before = len(self.problems)
        for key in table:
            if key not in parsers:
                name = shorten(key, 40) if isinstance(key, str) else _shown(key, 40)
                self.fail(_join(path, name), f"unknown key (allowed: {', '.join(parsers)})")
        fields: dict[str, Any] = {}
        for key, parse in parsers.items():
            if key in table:
                fields[key] = self.attempt(table[key], _join(path, key), parse)
            elif key in required:
                self.fail(_join(path, key), "is required")
            else:
                fields[key] = defaults[key]
        if len(self.problems) > before and not partial:
            raise _InvalidFieldError
        return fields

    # Scalars

    def text(self, value: object, path: str) -> str:
        if not isinstance(value, str):
            raise self.fail(path, f"must be a string, not {_kind(value)}")
        if not value.strip():
            raise self.fail(path, "must not be empty")
        if len(value) > MAX_TEXT:
            raise self.fail(path, f"is {len(value)} characters long; the limit is {MAX_TEXT}")
        unsafe = UNSAFE.search(value)
        if unsafe is not None:
            raise self.fail(
                path,
                f"holds the invisible or control character {_shown(unsafe.group())} at "
                f"position {unsafe.start()} (terminal controls, bidi controls and zero-width "
                "characters can hide or reorder what a reader sees)",
            )
        return value

    def ident(self, value: object, path: str) -> str:
        text = self.text(value, path)
        if not _ID.fullmatch(text):
            raise self.fail(
                path,
                f"{_shown(text)} is not an id (lower-case letters, digits and _; a letter first)",
            )
        return text

    def boolean(self, value: object, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false, not {_kind(value)}")
        return value

    def hhmm(self, value: object, path: str) -> dt.time:
        if not isinstance(value, str) or not _HHMM.fullmatch(value):
            raise self.fail(path, f"must be a time as HH:MM (00:00 to 23:59), not {_shown(value)}")
        return dt.time(int(value[:2]), int(value[3:]))

    def date(self, value: object, path: str) -> dt.date:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str) and _DATE.fullmatch(value):
            with contextlib.suppress(ValueError):
                return dt.date.fromisoformat(value)
        raise self.fail(path, f"must be a date as YYYY-MM-DD, not {_shown(value)}")

    def listing(
        self, value: object, path: str, parse: Callable[[object, str], T], what: str
    ) -> tuple[T, ...]:
        """A list whose every item is parsed (every bad item recorded)."""
        if not isinstance(value, list):
            raise self.fail(path, f"must be a list of {what}, not {_kind(value)}")
        values = cast("list[object]", value)
        before = len(self.problems)
        items = [self.attempt(item, f"{path}[{i}]", parse) for i, item in enumerate(values)]
        if len(self.problems) > before:
            raise _InvalidFieldError
        return tuple(i for i in items if i is not None)

    def texts(self, value: object, path: str) -> tuple[str, ...]:
        return self.listing(value, path, self.text, "strings")

    def idents(self, value: object, path: str) -> tuple[str, ...]:
        return self.listing(value, path, self.ident, "ids")

    def _number(self, value: object, path: str, what: str, limit: int) -> int | float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, f"must be {what}, not {_kind(value)}")
        # Compare before anything converts: math.isfinite(10**400) raises OverflowError.
        if (isinstance(value, float) and not math.isfinite(value)) or value <= 0:
            raise self.fail(path, f"must be {what}, not {_shown(value)}")
        if value > limit:
            raise self.fail(path, f"must be at most {limit}, not {_shown(value)}")
        return value

    def hours(self, value: object, path: str) -> int | float:
        return self._number(value, path, "a positive number of hours", MAX_HOURS)

    def day(self, value: object, path: str) -> int:
        # 2.0 is a whole number (as JSON Schema's "integer" says); 2.5 is not.
        if isinstance(value, float) and not value.is_integer():
            raise self.fail(path, f"must be a whole number of days, not {value!r}")
        return int(self._number(value, path, "a whole number of days from 1", MAX_DAYS))

    # Structures

    def source(self, value: object, path: str) -> Source:
        parsers = {"title": self.text, "section": self.text}
        return Source(**self.table(value, path, parsers, required=tuple(parsers), defaults={}))

    def window(self, value: object, path: str) -> Window:
        if isinstance(value, str):
            if value in _SIMPLE_WINDOWS:
                return _SIMPLE_WINDOWS[value]
            names = ", ".join(_SIMPLE_WINDOWS)
            raise self.fail(path, f"unknown window {_shown(value)} (known: {names}, or a table)")
        if isinstance(value, Mapping):
            value = cast("Mapping[object, object]", value)
            if "hours" in value:
                parsers: dict[str, Callable[[object, str], object]] = {"hours": self.hours}
                return Hours(**self.table(value, path, parsers, required=("hours",), defaults={}))
            if "day" in value or "at" in value:
                parsers = {"day": self.day, "at": self.hhmm}
                return DayAt(
                    **self.table(value, path, parsers, required=("day", "at"), defaults={})
                )
            if "latest_of" in value:
                parsers = {"latest_of": self._windows}
                fields = self.table(value, path, parsers, required=("latest_of",), defaults={})
                return LatestOf(fields["latest_of"])
        raise self.fail(
            path,
            "must be a window: one of immediately, next_day, end_of_day, never, "
            'or a table { hours = N }, { day = N, at = "HH:MM" }, { latest_of = [...] }',
        )

    def _windows(self, value: object, path: str) -> tuple[Window, ...]:
        windows = self.listing(value, path, self.window, "windows")
        if not windows:
            raise self.fail(path, "must list at least one window")
        return windows

    def status(self, value: object, path: str) -> Status:
        if isinstance(value, str) and value in _RESTRICTED:
            return _RESTRICTED[value]
        raise self.fail(path, f"must be one of {', '.join(_RESTRICTED)}, not {_shown(value)}")

    def category(self, value: object, path: str) -> AdviceCategory:
        for category in AdviceCategory:
            if value == category.value:
                return category
        names = ", ".join(c.value for c in AdviceCategory)
        raise self.fail(path, f"must be one of {names}, not {_shown(value)}")

    def rule(self, value: object, path: str) -> Rule:
        parsers = {
            "activity": self.ident,
            "label": self.text,
            "until": self.window,
            "reason": self.text,
            "source": self.source,
            "while_restricted": self.status,
            "clinician_adjustable": self.boolean,
            "codes": self.codes,
        }
        defaults = {
            "while_restricted": Status.NOT_PERMITTED,
            "clinician_adjustable": False,
            "codes": (),
        }
        required = ("activity", "label", "until", "reason", "source")
        return Rule(**self.table(value, path, parsers, required=required, defaults=defaults))

    def code(self, value: object, path: str) -> Code:
        parsers = {"system": self.text, "code": self.text}
        fields = self.table(value, path, parsers, required=tuple(parsers), defaults={})
        return Code(fields["system"].strip(), fields["code"].strip())

    def codes(self, value: object, path: str) -> tuple[Code, ...]:
        return self.listing(value, path, self.code, "tables { system, code }")

    def advice(self, value: object, path: str) -> Advice:
        parsers = {
            "id": self.ident,
            "category": self.category,
            "title": self.text,
            "text": self.text,
            "source": self.source,
            "actions": self.texts,
            "examples": self.texts,
            "symptoms": self.idents,
        }
        defaults = {"actions": _NO_TEXTS, "examples": _NO_TEXTS, "symptoms": _NO_TEXTS}
        required = ("id", "category", "title", "text", "source")
        fields = self.table(value, path, parsers, required=required, defaults=defaults)
        if fields["symptoms"] and fields["category"] is not AdviceCategory.AFTER_EFFECTS:
            raise self.fail(_join(path, "symptoms"), "only after_effects advice may list symptoms")
        return Advice(**fields)

    # Translations

    def language(self, value: object, path: str) -> str:
        if not isinstance(value, str) or not _LANGUAGE.fullmatch(value):
            raise self.fail(path, f"must be a language such as 'es' or 'pt_BR', not {value!r}")
        return value

    def rule_translation(self, value: object, path: str) -> RuleTranslation:
        parsers = {"activity": self.ident, "label": self.text, "reason": self.text}
        defaults = {"label": None, "reason": None}
        return RuleTranslation(
            **self.table(value, path, parsers, required=("activity",), defaults=defaults)
        )

    def advice_translation(self, value: object, path: str) -> AdviceTranslation:
        parsers = {
            "id": self.ident,
            "title": self.text,
            "text": self.text,
            "actions": self.texts,
            "examples": self.texts,
        }
        defaults = {"title": None, "text": None, "actions": _NO_TEXTS, "examples": _NO_TEXTS}
        return AdviceTranslation(
            **self.table(value, path, parsers, required=("id",), defaults=defaults)
        )

    def translation(self, value: object, path: str) -> Translation:
        parsers: dict[str, Callable[[object, str], object]] = {
            "language": self.language,
            "reviewed_by": self.text,
            "reviewed_on": self.date,
            "source_digest": self.digest,
            "title": self.text,
            "contact": self.text,
            "emergency": self.text,
            "rules": self.rule_translations,
            "advice": self.advice_translations,
        }
        defaults: dict[str, object] = {k: None for k in parsers if k not in ("rules", "advice")}
        defaults.update(rules=(), advice=())
        return Translation(
            **self.table(value, path, parsers, required=("language",), defaults=defaults)
        )

    def rule_translations(self, value: object, path: str) -> tuple[RuleTranslation, ...]:
        return self.unique(value, path, self.rule_translation, "activity")

    def advice_translations(self, value: object, path: str) -> tuple[AdviceTranslation, ...]:
        return self.unique(value, path, self.advice_translation, "id")

    def translations(self, value: object, path: str) -> tuple[Translation, ...]:
        return self.unique(value, path, self.translation, "language")

    def check_translations(self, fields: Fields) -> None:
        """Each translation names only rules and advice the ruleset has, and translates
        every action and example of an item when it translates any."""
        rules = {r.activity for r in fields["rules"] or ()}
        advice = {a.id: a for a in fields["advice"] or ()}
        translations: tuple[Translation, ...] = fields["translations"] or ()
        for i, tr in enumerate(translations):
            where = f"translations[{i}]"
            if tr.language == fields["language"]:
                self.fail(f"{where}.language", f"{tr.language!r} is the ruleset's own language")
            for j, rt in enumerate(tr.rules):
                if rt.activity not in rules:
                    self.fail(f"{where}.rules[{j}].activity", f"no rule for {rt.activity!r}")
            for j, at in enumerate(tr.advice):
                item = advice.get(at.id)
                if item is None:
                    self.fail(f"{where}.advice[{j}].id", f"no advice item {at.id!r}")
                    continue
                for key in ("actions", "examples"):
                    given, own = getattr(at, key), getattr(item, key)
                    if given and len(given) != len(own):
                        self.fail(
                            f"{where}.advice[{j}].{key}",
                            f"has {len(given)} texts; the item has {len(own)}",
                        )

    def unique(
        self, value: object, path: str, parse: Callable[[object, str], T], key: str
    ) -> tuple[T, ...]:
        """A list of tables, each parsed; their ``key`` values must be unique."""
        items = self.listing(value, path, parse, "tables")
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            ident = getattr(item, key)
            if ident in seen:
                self.fail(
                    f"{path}[{i}].{key}",
                    f"duplicate {_shown(ident)} (first at {path}[{seen[ident]}])",
                )
            seen.setdefault(ident, i)
        if len(seen) != len(items):
            raise _InvalidFieldError
        return items

    def rules(self, value: object, path: str) -> tuple[Rule, ...]:
        rules = self.unique(value, path, self.rule, "activity")
        if not rules:
            raise self.fail(path, "must list at least one rule")
        return rules

    def rules_or_none(self, value: object, path: str) -> tuple[Rule, ...]:
        """The rules of a file that extends another: it may list none of its own."""
        return self.unique(value, path, self.rule, "activity")

    def base(self, value: object, path: str) -> Fields:
        """The ruleset named by ``extends``: "default", or a file relative to this one."""
        name = self.text(value, path)
        if name == "default":
            return default_fields()
        shown = _shown(name)
        if self.base_dir is None:
            raise self.fail(
                path,
                f"cannot extend {shown}: a ruleset given as data may only extend 'default' "
                "(load the file with load_ruleset to extend another file)",
            )
        target = self._base_path(name, path)
        if target in self.chain:
            names = " -> ".join(p.name for p in (*self.chain, target))
            raise self.fail(path, f"extends itself: {shorten(names, 200)}")
        if len(self.chain) > MAX_EXTENDS_DEPTH:
            raise self.fail(path, f"more than {MAX_EXTENDS_DEPTH} levels of extends")
        try:
            data = read_ruleset_data(target)
            return ruleset_fields(data, source=name, _origin=(*self.chain, target))
        except RulesetFileError as exc:
            # Why the file cannot be read (missing, not a regular file): never its content.
            for problem in exc.problems:
                self.fail(path, f"base {shown}: {problem.message}")
            raise _InvalidFieldError from None
        except RulesetError as exc:
            # The base's own problems would quote its content (values, key names): a
            # base may be any file the process can read, so say only how many there are.
            # Problems of the chain itself (too deep, a cycle, a base further down that
            # cannot be read) are the loader's own words: those are passed on.
            chained = [p for p in exc.problems if _is_chain_problem(p)]
            for problem in chained:
                self.fail(path, f"base {shown}: {problem.message}")
            count = len(exc.problems) - len(chained)
            if not count:
                raise _InvalidFieldError from None
            raise self.fail(
                path,
                f"base {shown} is not a valid ruleset ({count} problem"
                f"{'' if count == 1 else 's'}; run 'ketamine-guidance validate' on it to see "
                f"{'it' if count == 1 else 'them'})",
            ) from None

    def _base_path(self, name: str, path: str) -> Path:
        """The resolved file an ``extends`` path names: relative, ``.toml`` or ``.json``."""
        from pathlib import PurePosixPath, PureWindowsPath

        assert self.base_dir is not None  # noqa: S101  (base() checked it)
        shown = _shown(name)
        if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute():
            raise self.fail(
                path,
                f"cannot extend {shown}: give a path relative to this file, not an absolute one",
            )
        if not name.lower().endswith(_BASE_SUFFIXES):
            raise self.fail(
                path, f"cannot extend {shown}: a base must be a .toml or .json ruleset file"
            )
        try:
            return (self.base_dir / name).resolve()
        except (OSError, RuntimeError):  # a symbolic link loop (RuntimeError before 3.13)
            raise self.fail(
                path, f"cannot extend {shown}: its path is a loop of symbolic links"
            ) from None

    def _merge(self, base: Fields, fields: Fields, remove: tuple[str, ...], key: str) -> None:
        """Put the base's items, less those removed, with this file's replacing and added.

        Where this file's own items failed (None), only the removals are checked, so
        their problems are listed in the same pass.
        """
        attr = "activity" if key == "rules" else "id"
        remove_key = "remove" if key == "rules" else "remove_advice"
        given = fields[key]
        own = {} if given is None else {getattr(item, attr): item for item in given}
        inherited = {getattr(item, attr): item for item in base[key]}
        for i, ident in enumerate(remove):
            where = f"{remove_key}[{i}]"
            if ident not in inherited:
                known = shorten(", ".join(inherited) or "none", 400)
                self.fail(where, f"{_shown(ident)} is not in the base ruleset (it has: {known})")
            elif ident in own:
                self.fail(where, f"{_shown(ident)} is removed and also given in {key}; keep one")
        if given is None:
            return
        merged = {k: own.get(k, v) for k, v in inherited.items() if k not in remove}
        merged.update(own)
        if key == "rules" and not merged:
            self.fail(remove_key, "removes every rule; a ruleset needs at least one")
        fields[key] = tuple(merged.values())

    def advice_items(self, value: object, path: str) -> tuple[Advice, ...]:
        return self.unique(value, path, self.advice, "id")

    def schema(self, value: object, path: str) -> str:
        # Ruleset documents (Ruleset.to_dict) are tagged; a file may carry the tag too.
        if value != RULESET_SCHEMA:
            raise self.fail(path, f"must be {RULESET_SCHEMA!r}, not {_shown(value)}")
        return RULESET_SCHEMA

    def digest(self, value: object, path: str) -> str:
        # Ruleset documents name their digest; the ruleset class checks it matches.
        if not isinstance(value, str) or not _DIGEST.fullmatch(value):
            raise self.fail(path, f"must be 'sha256:' and 64 hex digits, not {value!r}")
        return value

    def ruleset(self, value: object, path: str) -> Fields:
        given: set[object] = (
            set(cast("Mapping[object, object]", value)) if isinstance(value, Mapping) else set()
        )
        extending = "extends" in given
        parsers: dict[str, Callable[[object, str], object]] = {
            "schema": self.schema,
            "digest": self.digest,
            "id": self.text,
            "version": self.text,
            "title": self.text,
            "extends": self.base,
            "rules": self.rules_or_none if extending else self.rules,
            "remove": self.idents,
            "remove_advice": self.idents,
            "next_day_begins": self.hhmm,
            "advice": self.advice_items,
            "contact": self.text,
            "emergency": self.text,
            "language": self.language,
            "translations": self.translations,
            "reviewed_by": self.text,
            "reviewed_on": self.date,
            "effective_from": self.date,
        }
        defaults = {
            "schema": RULESET_SCHEMA,
            "digest": None,
            "extends": None,
            "rules": (),
            "remove": (),
            "remove_advice": (),
            "next_day_begins": None,
            "advice": (),
            "contact": None,
            "emergency": None,
            "language": None,
            "translations": (),
            "reviewed_by": None,
            "reviewed_on": None,
            "effective_from": None,
        }
        required = ("id", "version", "title") if extending else ("id", "version", "title", "rules")
        # Read every field even if some fail, so that the checks across fields below
        # report their problems in the same pass.
        fields = self.table(
            value,  # pyright: ignore[reportUnknownArgumentType]  (raw data: anything at all)
            path,
            parsers,
            required=required,
            defaults=defaults,
            partial=True,
        )
        del fields["schema"]
        claimed = fields.pop("digest")
        if claimed is not None:
            fields[CLAIMED_DIGEST] = claimed
        base: Fields | None = fields.pop("extends")
        removals = {key: fields.pop(key) for key in ("remove", "remove_advice")}
        self._inherit(fields, base, removals, given, path, extending=extending)
        if fields["translations"]:
            self.check_translations(fields)
        if self.problems:
            raise _InvalidFieldError
        return fields

    def _inherit(  # noqa: PLR0913  (the flag after * is named at the call)
        self,
        fields: Fields,
        base: Fields | None,
        removals: dict[str, Any],
        given: set[object],
        path: str,
        *,
        extending: bool,
    ) -> None:
        """Fill in what a file leaves out: the defaults, or what it takes from its base."""
        if not extending:
            for key in removals:
                if key in given:
                    self.fail(_join(path, key), "only a ruleset that extends another may remove")
            if fields["next_day_begins"] is None:
                fields["next_day_begins"] = DEFAULT_NEXT_DAY_BEGINS
            if fields["language"] is None:
                fields["language"] = "en"
        elif base is not None:
            # id, version, title, the review fields and the translations are this file's
            # own (a translation reviewed for the base's texts may not fit this file's);
            # the next morning, the contact, the emergency line and the language are
            # inherited unless this file sets them.
            for key, remove_key in (("rules", "remove"), ("advice", "remove_advice")):
                if removals[remove_key] is not None:
                    self._merge(base, fields, removals[remove_key], key)
            for key in ("next_day_begins", "contact", "emergency", "language"):
                if fields[key] is None:
                    fields[key] = base[key]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


_CHAIN_PROBLEMS = ("more than ", "extends itself", "base ")


def _is_chain_problem(problem: RulesetProblem) -> bool:
    return problem.path == "extends" and problem.message.startswith(_CHAIN_PROBLEMS)


def _shown(value: object, limit: int = 80) -> str:
    """``value`` as a message shows it: its repr, cut to about ``limit`` characters."""
    import reprlib

    return shorten(repr(value) if isinstance(value, str) else reprlib.repr(value), limit)


def _kind(value: object) -> str:
    names = {dict: "a table", list: "a list", str: "a string", bool: "a boolean"}
    for cls, name in names.items():
        if isinstance(value, cls):
            return name
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


class _JSONObject(dict[str, object]):
    """A JSON object, with the keys it gave more than once (json keeps the last)."""

    duplicates: tuple[str, ...] = ()


def _json_object(pairs: list[tuple[str, object]]) -> _JSONObject:
    made = _JSONObject(pairs)
    if len(made) != len(pairs):
        counts: dict[str, int] = {}
        for key, _ in pairs:
            counts[key] = counts.get(key, 0) + 1
        made.duplicates = tuple(k for k, n in counts.items() if n > 1)
    return made


# A value met while walking raw data: the value, the node it sits in, its key or index
# there, and its depth.  Paths are spelt out only for a problem, so the walk stays cheap.
_Node: TypeAlias = "tuple[object, _Node | None, object, int]"


def _node_path(node: _Node) -> str:
    steps: list[tuple[bool, object]] = []  # (in a table, key or index), innermost first
    current = node
    while current[1] is not None:
        parent = current[1]
        steps.append((isinstance(parent[0], Mapping), current[2]))
        current = parent
    path = ""
    for in_table, key in reversed(steps):
        if not in_table:
            path = f"{path}[{key}]"
        else:
            path = _join(path, shorten(key, 40) if isinstance(key, str) else _shown(key, 40))
    return path


def _shape_problems(data: object) -> tuple[list[RulesetProblem], bool]:
    """Problems in the shape of raw data, found without recursion: tables and lists
    nested deeper than ``MAX_DEPTH``, more than ``MAX_ITEMS`` values, and keys given
    twice in a JSON object.  The flag says whether the data is unsafe to walk.

    Shared or circular data (from a caller's mapping) is walked as the tree it reads
    as, so a loop is too deep and a heavily shared structure too large.
    """
    problems: list[RulesetProblem] = []
    stack: list[_Node] = [(data, None, None, 0)]
    count = 1
    while stack:
        node = stack.pop()
        value, _, _, depth = node
        if not isinstance(value, Mapping | list | tuple):
            continue
        if depth >= MAX_DEPTH:
            message = f"is nested more than {MAX_DEPTH} tables and lists deep"
            return [RulesetProblem(_node_path(node), message)], True
        container = cast("Mapping[object, object] | list[object]", value)
        count += len(container)
        if count > MAX_ITEMS:
            return [RulesetProblem("", f"holds more than {MAX_ITEMS} values, the limit")], True
        if isinstance(container, Mapping):
            if isinstance(container, _JSONObject):
                for key in container.duplicates:
                    problems.append(
                        RulesetProblem(
                            _join(_node_path(node), shorten(key, 40)),
                            "is given more than once in this table (only one value may be given)",
                        )
                    )
            children = [(v, node, k, depth + 1) for k, v in container.items()]
        else:
            children = [(v, node, i, depth + 1) for i, v in enumerate(container)]
        stack.extend(reversed(children))
    return problems, False


def ruleset_fields(
    data: object, *, source: str | None = None, _origin: tuple[Path, ...] = ()
) -> Fields:
    """Validate raw data (as parsed from TOML or JSON) into a ruleset's fields.

    ``_origin`` is the chain of files being loaded, this one last: an ``extends``
    path is read relative to the last.  Without it, only ``extends = "default"`` works.
    """
    problems, unsafe = _shape_problems(data)
    if unsafe:
        raise RulesetError(problems, source=source)
    base_dir = _origin[-1].parent if _origin else None
    reader = _Reader(base_dir=base_dir, chain=_origin)
    reader.problems.extend(problems)
    fields = reader.attempt(data, "", reader.ruleset)
    if fields is None:
        raise RulesetError(reader.problems, source=source)
    return fields


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
)


def _not_regular(mode: int) -> str:
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return "not a regular file"  # pragma: no cover (doors, ports: not on Linux or macOS)


def _read_bytes(path: str, name: str) -> bytes:
    """The bytes of the regular file ``path``, at most one past the limit.

    Anything else (a directory, a named pipe, a device, a socket) is refused before it
    is opened, and the file is opened without blocking, so a pipe can never hang the
    loader; the open file is checked again in case it was swapped.
    """
    from pathlib import Path

    reason: str | None = None
    size, raw = 0, b""
    if "\x00" in path:
        reason = "the path holds a NUL character"
    else:
        try:
            mode = Path(path).stat().st_mode
            if stat.S_ISREG(mode):
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
                with os.fdopen(fd, "rb") as stream:
                    info = os.fstat(stream.fileno())
                    mode = info.st_mode
                    size = info.st_size
                    raw = stream.read(MAX_FILE_BYTES + 1) if size <= MAX_FILE_BYTES else b""
            if not stat.S_ISREG(mode):
                reason = f"it is {_not_regular(mode)}, not a regular file"
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
    if reason is not None:
        raise RulesetFileError([RulesetProblem("", f"cannot read file: {reason}")], source=name)
    if size > MAX_FILE_BYTES:
        message = f"file is {size} bytes; the limit is {MAX_FILE_BYTES}"
        raise RulesetError([RulesetProblem("", message)], source=name)
    if len(raw) > MAX_FILE_BYTES:  # pragma: no cover (the file grew after the fstat)
        message = f"file is over {MAX_FILE_BYTES} bytes, the limit"
        raise RulesetError([RulesetProblem("", message)], source=name)
    return raw


def read_ruleset_data(path: str | os.PathLike[str]) -> object:
    """Read a ruleset file's raw data (TOML by default; JSON for ``.json``)."""
    import json

    name = shorten(os.fspath(path), 200)
    raw = _read_bytes(os.fspath(path), name)
    kind = "JSON" if os.fspath(path).lower().endswith(".json") else "TOML"
    try:
        text = raw.decode("utf-8")
        if kind == "JSON":
            return json.loads(text, object_pairs_hook=_json_object)
        return _toml_loads(text)
    except RecursionError:
        problem = f"not valid {kind}: nested too deeply to read (the limit is {MAX_DEPTH})"
        raise RulesetError([RulesetProblem("", problem)], source=name) from None
    except (UnicodeDecodeError, ValueError) as exc:  # JSON and TOML errors are ValueErrors
        message = shorten(str(exc), 200)
        raise RulesetError(
            [RulesetProblem("", f"not valid {kind}: {message}")], source=name
        ) from None


def load_fields(path: str | os.PathLike[str]) -> Fields:
    """Load and validate a ruleset file's fields: TOML, or JSON for ``.json``.

    Raises :class:`~ketamine_guidance.RulesetError` naming the file and every problem.
    """
    from pathlib import Path

    data = read_ruleset_data(path)
    name = shorten(os.fspath(path), 200)
    origin = Path(path).resolve()  # read_ruleset_data has read it: no loop in its path
    return ruleset_fields(data, source=name, _origin=(origin,))


def validate_ruleset(data_or_path: object) -> list[RulesetProblem]:
    """Every problem in a ruleset, each with its field path; an empty list if it is valid.

    ``data_or_path`` is a file path (``str`` or path-like; TOML, or JSON for ``.json``)
    or the data already parsed from one.  Syntax errors and oversize files are problems
    too (with an empty path).  A file that is missing or cannot be read raises
    :class:`~ketamine_guidance.RulesetFileError`: that is not a problem in the file.

    >>> data = {"id": "x", "version": "1", "title": "X", "rules": [], "next_day_begins": "6am"}
    >>> for problem in validate_ruleset(data):
    ...     print(problem)
    rules: must list at least one rule
    next_day_begins: must be a time as HH:MM (00:00 to 23:59), not '6am'

    .. versionadded:: 0.1.0
    """
    try:
        if isinstance(data_or_path, str | os.PathLike):
            load_fields(os.fspath(data_or_path))
        else:
            ruleset_fields(data_or_path)
    except RulesetFileError:
        raise
    except RulesetError as exc:
        return list(exc.problems)
    return []


@functools.cache
def default_fields() -> Fields:
    """The default ruleset's fields, from the source article (read once, then shared)."""
    from importlib import resources

    text = (
        resources.files("ketamine_guidance").joinpath("_rules/data/default.toml").read_text("utf-8")
    )
    return ruleset_fields(_toml_loads(text), source="default.toml")
