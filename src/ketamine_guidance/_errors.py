"""The library's exceptions: one base class, and standard bases where they fit."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

from attrs import frozen

__all__ = [
    "BeforeSessionEndError",
    "ExportError",
    "GuidanceError",
    "MissingExtraError",
    "MissingTimezoneError",
    "NaiveDatetimeError",
    "OverrideError",
    "RulesetError",
    "RulesetFileError",
    "RulesetNotInEffectError",
    "RulesetProblem",
    "UnknownActivityError",
    "UnknownSymptomError",
    "UnknownTimezoneError",
]


class GuidanceError(Exception):
    """Base class of every error this library raises on purpose."""


class NaiveDatetimeError(GuidanceError, ValueError):
    """A datetime without a time zone was given where an instant is needed."""


class BeforeSessionEndError(GuidanceError, ValueError):
    """A question was asked about an instant before the session ended."""


class UnknownTimezoneError(GuidanceError, ValueError):
    """A time zone name could not be resolved, or a tzinfo gave no offset.

    Also raised for a tz database name that is not listed in
    ``zoneinfo.available_timezones()`` (``right/...``, ``posix/...``) and for a
    fixed-offset name that reads like a region (``EST``, ``Etc/GMT+5``); the message
    suggests a region name.
    """


class MissingTimezoneError(GuidanceError, ValueError):
    """A session's end carries UTC or another fixed offset and no zone was given.

    Pass the patient's zone (``Session(ended_at, "America/New_York")``): the UTC
    calendar is not the patient's, and "the next day" would come at the wrong time.

    .. versionadded:: 0.2.0
    """


class OverrideError(GuidanceError, ValueError):
    """A clinician override cannot be recorded as given.

    For example, widening a rule that is not ``clinician_adjustable`` without a note
    giving the clinical reason, or an ``until`` that is not after ``effective_from``.

    .. versionadded:: 0.2.0
    """


class _UnknownIdError(GuidanceError, LookupError):
    """An id that the ruleset does not declare; names the ids it does know."""

    kind = "id"

    def __init__(
        self, given: str, known: Iterable[str], *, suggestions: Sequence[str] = ()
    ) -> None:
        self.given = given
        self.known = tuple(sorted(known))
        self.suggestions = tuple(suggestions)
        if self.suggestions:
            hint = f"did you mean {', '.join(repr(s) for s in self.suggestions)}?"
        elif self.known:
            hint = f"known: {', '.join(self.known)}"
        else:
            hint = f"the ruleset declares no {self.kind} ids"
        super().__init__(f"unknown {self.kind} {given!r}; {hint}")

    def __str__(self) -> str:  # LookupError would otherwise repr() the message
        return str(self.args[0])

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # An exception pickles as its class and args (the message); rebuild from the
        # fields instead, so the error survives a trip back from a worker process.
        return (
            functools.partial(type(self), suggestions=self.suggestions),
            (self.given, self.known),
        )


class UnknownActivityError(_UnknownIdError):
    """The ruleset has no rule for this activity, so nothing can be permitted.

    ``suggestions`` holds the closest known activity ids.
    """

    kind = "activity"


class UnknownSymptomError(_UnknownIdError):
    """The ruleset declares no advice for this symptom.

    The message names the symptoms that are known, so a caller never mistakes an
    unlisted symptom for one that needs no attention.
    """

    kind = "symptom"


@frozen
class RulesetProblem:
    """One thing wrong with a ruleset: where (``path``, as ``rules[2].until.hours``) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.message}"


class RulesetError(GuidanceError, ValueError):
    """A ruleset file or mapping is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: Sequence[RulesetProblem], *, source: str | None = None) -> None:
        self.problems = tuple(problems)
        self.source = source
        prefix = f"{source}: " if source else ""
        lines = "; ".join(str(p) for p in self.problems)
        super().__init__(f"{prefix}invalid ruleset: {lines}")

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # As for _UnknownIdError: rebuild from the fields, not from the message.
        return (functools.partial(type(self), source=self.source), (self.problems,))


class ExportError(GuidanceError, ValueError):
    """A plan or decision cannot be exported as asked (a bad FHIR subject, for instance)."""


class MissingExtraError(GuidanceError, ImportError):
    """A function needs an optional dependency that is not installed.

    The message names the extra to install (``pip install 'ketamine-guidance[ical]'``).
    """


class RulesetFileError(RulesetError):
    """A ruleset file is missing or cannot be read (as opposed to read and found invalid).

    .. versionadded:: 0.1.0
    """


class RulesetNotInEffectError(GuidanceError, ValueError):
    """A ruleset was used for a session that ended before the ruleset's ``effective_from``.

    .. versionadded:: 0.1.0
    """
