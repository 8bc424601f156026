"""The ruleset: a complete set of rules and advice, and the ways to get one.

This module sits above the loader: :meth:`Ruleset.from_dict`, :func:`load_ruleset` and
:func:`default_ruleset` ask the loader for a checked set of fields and build the
ruleset from them, so the loader never needs this class and no import runs upwards.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from ketamine_guidance._errors import RulesetError, RulesetProblem
from ketamine_guidance._rules.model import (
    DEFAULT_NEXT_DAY_BEGINS,
    Advice,
    Rule,
    Translation,
    converter,
    schema_id,
    unknown_activity,
)

if TYPE_CHECKING:
    import cattrs

__all__ = [
    "Ruleset",
    "default_ruleset",
    "load_ruleset",
    "ruleset_dict",
    "ruleset_from_data",
    "ruleset_summary_dict",
]


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
    emergency: str | None = None
    language: str = "en"
    translations: tuple[Translation, ...] = ()
    reviewed_by: str | None = None
    reviewed_on: dt.date | None = None
    effective_from: dt.date | None = None
    _by_activity: dict[str, Rule] = field(init=False, eq=False, repr=False, hash=False)
    _digest: list[str] = field(init=False, factory=list[str], eq=False, repr=False, hash=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_by_activity", {r.activity: r for r in self.rules})

    @property
    def digest(self) -> str:
        """``sha256:`` and the hex SHA-256 of the ruleset's canonical JSON form.

        The canonical form is the ruleset's document (:meth:`to_dict`, without its own
        ``digest``) written with sorted keys, no spaces and UTF-8: it depends only on the
        rules and advice, not on the file's layout, field order, comments or the Python
        version.  Two rulesets with the same id and version but different content have
        different digests, so every answer can name exactly which rules produced it.

        .. versionadded:: 0.2.0
        """
        if not self._digest:
            import hashlib
            import json

            canonical = json.dumps(
                ruleset_content(self), sort_keys=True, separators=(",", ":"), ensure_ascii=False
            )
            self._digest.append("sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest())
        return self._digest[0]

    @classmethod
    def from_dict(cls, data: object) -> Ruleset:
        """Validate a mapping (as read from TOML or JSON) and build a ruleset.

        Raises :class:`~ketamine_guidance.RulesetError` listing every problem, each with
        the path of the offending field.
        """
        return ruleset_from_data(data)

    def to_dict(self) -> dict[str, Any]:
        """This ruleset as a ``ketamine-guidance/ruleset/v1`` JSON document.

        It names its own :attr:`digest`, so the document says exactly which rules it
        holds; loading a document whose rules no longer match its ``digest`` (edited
        after it was written) raises :class:`~ketamine_guidance.RulesetError`.

        The document is a complete, flat ruleset file: :meth:`from_dict` (or
        :func:`~ketamine_guidance.load_ruleset` on it saved as JSON) gives back an equal
        ruleset.

        .. versionadded:: 0.1.0
        .. versionchanged:: 0.2.0
           ``digest``.
        """
        return ruleset_dict(self)

    @property
    def activities(self) -> tuple[str, ...]:
        """The activity ids, in file order."""
        return tuple(self._by_activity)

    def rule(self, activity: str) -> Rule:
        """The rule for ``activity``; :class:`~ketamine_guidance.UnknownActivityError` if none."""
        try:
            return self._by_activity[activity]
        except (KeyError, TypeError):  # TypeError: an unhashable "activity"
            raise unknown_activity(activity, self._by_activity) from None

    def translation(self, language: str) -> Translation | None:
        """The translation into ``language`` (``"es"``), reviewed or not; None if none.

        .. versionadded:: 0.2.0
        """
        return next((t for t in self.translations if t.language == language), None)

    @property
    def texts_digest(self) -> str:
        """``sha256:`` and the SHA-256 of the texts a translation translates: the title,
        contact and emergency line, each rule's label and reason, and each advice item's
        title, text, actions and examples, in the ruleset's own language.

        A translation names the digest of the texts it was reviewed against in its
        ``source_digest``; when any of these texts changes (in the clinic's file or in
        the ruleset it extends), so does the digest, and the translation is no longer
        used until a clinician reviews it again and records the new one.

        .. versionadded:: 0.2.0
        """
        import hashlib
        import json

        texts = {
            "title": self.title,
            "contact": self.contact,
            "emergency": self.emergency,
            "rules": [[r.activity, r.label, r.reason] for r in self.rules],
            "advice": [
                [a.id, a.title, a.text, list(a.actions), list(a.examples)] for a in self.advice
            ],
        }
        canonical = json.dumps(texts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def reviewed_translation(self, language: str) -> Translation | None:
        """The translation into ``language`` if a clinician reviewed it against the
        ruleset's current texts (:attr:`Translation.reviewed`, and its
        ``source_digest`` is :attr:`texts_digest`); None otherwise.

        This is the translation the aftercare sheet uses: a stale one (reviewed before
        the texts it translates changed) is never shown to a patient.

        .. versionadded:: 0.2.0
        """
        found = self.translation(language)
        if found is None or not found.reviewed or found.source_digest != self.texts_digest:
            return None
        return found

    @property
    def symptoms(self) -> tuple[str, ...]:
        """The symptom ids the advice declares, in file order, each once."""
        return tuple(dict.fromkeys(s for a in self.advice for s in a.symptoms))


def ruleset_from_data(data: object, *, source: str | None = None) -> Ruleset:
    """Validate raw data (as parsed from TOML or JSON) into a :class:`Ruleset`.

    Only ``extends = "default"`` works here: a file's ``extends`` path is read relative
    to the file, so load files with :func:`load_ruleset`.
    """
    from ketamine_guidance._rules.loader import ruleset_fields  # on first use: import time

    return _built(ruleset_fields(data, source=source), source)


def load_ruleset(path: str | os.PathLike[str]) -> Ruleset:
    """Load and validate a ruleset file: TOML, or JSON when the name ends in ``.json``.

    Raises :class:`~ketamine_guidance.RulesetError` naming the file and every problem.
    """
    if not isinstance(path, str | os.PathLike):
        msg = f"path must be a str or a path-like object, not {type(path).__name__}"
        raise TypeError(msg)
    from ketamine_guidance._rules.loader import load_fields

    return _built(load_fields(path), os.fspath(path))


def _built(fields: dict[str, Any], source: str | None) -> Ruleset:
    """The ruleset of checked fields; a document's own ``digest``, where it names one,
    must be the digest of the rules it holds (fail closed on a document edited after it
    was written)."""
    from ketamine_guidance._rules.loader import CLAIMED_DIGEST

    claimed = fields.pop(CLAIMED_DIGEST, None)
    ruleset = Ruleset(**fields)
    if claimed is not None and claimed != ruleset.digest:
        problem = RulesetProblem(
            "digest",
            f"is {claimed}, but the rules in the document give {ruleset.digest}: "
            "it was changed after it was written (remove digest to accept the change)",
        )
        raise RulesetError([problem], source=source)
    return ruleset


@functools.cache
def default_ruleset() -> Ruleset:
    """The default ruleset, from the source article (loaded once, then shared)."""
    from ketamine_guidance._rules.loader import default_fields

    return Ruleset(**default_fields())


# The ruleset's JSON document


@functools.cache
def _converter() -> cattrs.Converter:
    """The model converter, plus how a ruleset is written: built once, on first use."""
    from cattrs.gen import make_dict_unstructure_fn, override

    made = converter().copy()
    # The optional fields (contact, reviewed_by, ...) are left out when unset, as in a
    # file; next_day_begins and advice are always written, so the document says them.
    made.register_unstructure_hook(
        Ruleset,
        make_dict_unstructure_fn(
            Ruleset,
            made,
            _cattrs_omit_if_default=True,
            next_day_begins=override(omit_if_default=False),
            advice=override(omit_if_default=False),
        ),
    )
    return made


def ruleset_content(ruleset: Ruleset) -> dict[str, Any]:
    """The ruleset's document without its digest: what the digest is computed over."""
    return {"schema": schema_id("ruleset"), **_converter().unstructure(ruleset)}


def ruleset_dict(ruleset: Ruleset) -> dict[str, Any]:
    """A ruleset as a ``ketamine-guidance/ruleset/v1`` document: a complete, flat ruleset
    file that :meth:`Ruleset.from_dict` loads back to an equal ruleset, naming its own
    ``digest`` (checked on loading)."""
    return {**ruleset_content(ruleset), "digest": ruleset.digest}


def ruleset_summary_dict(ruleset: Ruleset) -> dict[str, Any]:
    """The ruleset's identity: id, version, title and digest (which rules, exactly)."""
    return {
        "id": ruleset.id,
        "version": ruleset.version,
        "title": ruleset.title,
        "digest": ruleset.digest,
    }
