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
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, cast

from ketamine_guidance._errors import RulesetError, RulesetFileError, RulesetProblem
from ketamine_guidance._rules.model import (
    DEFAULT_NEXT_DAY_BEGINS,
    Advice,
    AdviceCategory,
    Code,
    DayAt,
    EndOfDay,
    Hours,
    Immediately,
    LatestOf,
    Never,
    NextDay,
    Rule,
    Source,
    Status,
    Window,
)

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
MAX_FILE_BYTES = 1024 * 1024
MAX_HOURS = 24 * 366 * 10  # ten years: anything longer is a typing mistake, not a window
MAX_DAYS = 366 * 10
MAX_EXTENDS_DEPTH = 8  # a chain of bases deeper than this is a mistake, not a design

# Only YYYY-MM-DD: from Python 3.11 on, date.fromisoformat also takes forms such as
# "20260115" and "2026-W03-4", which 3.10 and the JSON Schema refuse.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")  # ASCII digits: \d takes any script's
_ID = re.compile(r"[a-z][a-z0-9_]*")
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
                name = key if isinstance(key, str) else repr(key)
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
        return value

    def ident(self, value: object, path: str) -> str:
        text = self.text(value, path)
        if not _ID.fullmatch(text):
            raise self.fail(
                path, f"{text!r} is not an id (lower-case letters, digits and _; a letter first)"
            )
        return text

    def boolean(self, value: object, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false, not {_kind(value)}")
        return value

    def hhmm(self, value: object, path: str) -> dt.time:
        if not isinstance(value, str) or not _HHMM.fullmatch(value):
            raise self.fail(path, f"must be a time as HH:MM (00:00 to 23:59), not {value!r}")
        return dt.time(int(value[:2]), int(value[3:]))

    def date(self, value: object, path: str) -> dt.date:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str) and _DATE.fullmatch(value):
            with contextlib.suppress(ValueError):
                return dt.date.fromisoformat(value)
        raise self.fail(path, f"must be a date as YYYY-MM-DD, not {value!r}")

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
        if not math.isfinite(value) or value <= 0:
            raise self.fail(path, f"must be {what}, not {value!r}")
        if value > limit:
            raise self.fail(path, f"must be at most {limit}, not {value!r}")
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
            raise self.fail(path, f"unknown window {value!r} (known: {names}, or a table)")
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
        raise self.fail(path, f"must be one of {', '.join(_RESTRICTED)}, not {value!r}")

    def category(self, value: object, path: str) -> AdviceCategory:
        for category in AdviceCategory:
            if value == category.value:
                return category
        names = ", ".join(c.value for c in AdviceCategory)
        raise self.fail(path, f"must be one of {names}, not {value!r}")

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
                    f"{path}[{i}].{key}", f"duplicate {ident!r} (first at {path}[{seen[ident]}])"
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
        if self.base_dir is None:
            raise self.fail(
                path,
                f"cannot extend {name!r}: a ruleset given as data may only extend 'default' "
                "(load the file with load_ruleset to extend another file)",
            )
        target = (self.base_dir / name).resolve()
        if target in self.chain:
            names = " -> ".join(p.name for p in (*self.chain, target))
            raise self.fail(path, f"extends itself: {names}")
        if len(self.chain) > MAX_EXTENDS_DEPTH:
            raise self.fail(path, f"more than {MAX_EXTENDS_DEPTH} levels of extends")
        try:
            data = read_ruleset_data(target)
            return ruleset_fields(data, source=name, _origin=(*self.chain, target))
        except RulesetError as exc:
            for problem in exc.problems:
                where = f"{problem.path}: " if problem.path else ""
                self.fail(path, f"base {name!r}: {where}{problem.message}")
            raise _InvalidFieldError from None

    def _merge(self, base: Fields, fields: Fields, remove: tuple[str, ...], key: str) -> None:
        """Put the base's items, less those removed, with this file's replacing and added."""
        attr = "activity" if key == "rules" else "id"
        remove_key = "remove" if key == "rules" else "remove_advice"
        own = {getattr(item, attr): item for item in fields[key]}
        inherited = {getattr(item, attr): item for item in base[key]}
        for i, ident in enumerate(remove):
            where = f"{remove_key}[{i}]"
            if ident not in inherited:
                known = ", ".join(inherited) or "none"
                self.fail(where, f"{ident!r} is not in the base ruleset (it has: {known})")
            elif ident in own:
                self.fail(where, f"{ident!r} is removed and also given in {key}; keep one")
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
            raise self.fail(path, f"must be {RULESET_SCHEMA!r}, not {value!r}")
        return RULESET_SCHEMA

    def ruleset(self, value: object, path: str) -> Fields:
        given: set[object] = (
            set(cast("Mapping[object, object]", value)) if isinstance(value, Mapping) else set()
        )
        extending = "extends" in given
        parsers: dict[str, Callable[[object, str], object]] = {
            "schema": self.schema,
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
            "reviewed_by": self.text,
            "reviewed_on": self.date,
            "effective_from": self.date,
        }
        defaults = {
            "schema": RULESET_SCHEMA,
            "extends": None,
            "rules": (),
            "remove": (),
            "remove_advice": (),
            "next_day_begins": None,
            "advice": (),
            "contact": None,
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
        base: Fields | None = fields.pop("extends")
        removals = {key: fields.pop(key) for key in ("remove", "remove_advice")}
        if not extending:
            for key in removals:
                if key in given:
                    self.fail(_join(path, key), "only a ruleset that extends another may remove")
            if fields["next_day_begins"] is None:
                fields["next_day_begins"] = DEFAULT_NEXT_DAY_BEGINS
        elif base is not None:
            # id, version, title and the review fields are this file's own; the next
            # morning and the contact are inherited unless this file sets them.
            for key, remove_key in (("rules", "remove"), ("advice", "remove_advice")):
                if fields[key] is not None and removals[remove_key] is not None:
                    self._merge(base, fields, removals[remove_key], key)
            for key in ("next_day_begins", "contact"):
                if fields[key] is None:
                    fields[key] = base[key]
        if self.problems:
            raise _InvalidFieldError
        return fields


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: object) -> str:
    names = {dict: "a table", list: "a list", str: "a string", bool: "a boolean"}
    for cls, name in names.items():
        if isinstance(value, cls):
            return name
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


def ruleset_fields(
    data: object, *, source: str | None = None, _origin: tuple[Path, ...] = ()
) -> Fields:
    """Validate raw data (as parsed from TOML or JSON) into a ruleset's fields.

    ``_origin`` is the chain of files being loaded, this one last: an ``extends``
    path is read relative to the last.  Without it, only ``extends = "default"`` works.
    """
    base_dir = _origin[-1].parent if _origin else None
    reader = _Reader(base_dir=base_dir, chain=_origin)
    fields = reader.attempt(data, "", reader.ruleset)
    if fields is None:
        raise RulesetError(reader.problems, source=source)
    return fields


def read_ruleset_data(path: str | os.PathLike[str]) -> object:
    """Read a ruleset file's raw data (TOML by default; JSON for ``.json``)."""
    import json
    from pathlib import Path

    p = Path(path)
    name = str(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise RulesetError(
                [RulesetProblem("", f"file is {size} bytes; the limit is {MAX_FILE_BYTES}")],
                source=name,
            )
        # Read at most one byte past the limit: stat() says 0 for pipes and devices.
        with p.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise RulesetError(
                [RulesetProblem("", f"file is over {MAX_FILE_BYTES} bytes, the limit")],
                source=name,
            )
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RulesetFileError(
            [RulesetProblem("", f"cannot read file: {reason}")], source=name
        ) from None
    try:
        text = raw.decode("utf-8")
        if p.suffix.lower() == ".json":
            return json.loads(text)
        return _toml_loads(text)
    except (
        UnicodeDecodeError,
        ValueError,
    ) as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        kind = "JSON" if p.suffix.lower() == ".json" else "TOML"
        raise RulesetError([RulesetProblem("", f"not valid {kind}: {exc}")], source=name) from None


def load_fields(path: str | os.PathLike[str]) -> Fields:
    """Load and validate a ruleset file's fields: TOML, or JSON for ``.json``.

    Raises :class:`~ketamine_guidance.RulesetError` naming the file and every problem.
    """
    from pathlib import Path

    data = read_ruleset_data(path)
    return ruleset_fields(data, source=str(path), _origin=(Path(path).resolve(),))


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
