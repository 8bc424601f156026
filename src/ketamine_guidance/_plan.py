"""Aftercare plans: what is permitted when, for one session and one ruleset."""

from __future__ import annotations

import bisect
import datetime as dt
from typing import Any

from attrs import field, frozen

from ketamine_guidance._errors import BeforeSessionEndError, RulesetNotInEffectError
from ketamine_guidance._model import (
    Advice,
    AdviceCategory,
    Rule,
    Ruleset,
    Source,
    Status,
    unknown_activity,
)
from ketamine_guidance._session import Session, ensure_aware
from ketamine_guidance._windows import UTC, lift_instant

__all__ = [
    "AftercarePlan",
    "Decision",
    "Override",
    "TimelineEntry",
    "plan_for",
]

_PERMITTED = Status.PERMITTED
_NOT_PERMITTED = Status.NOT_PERMITTED


def _aware_effective_from(value: dt.datetime) -> dt.datetime:
    return ensure_aware(value, "effective_from")


def _check_status(value: Status) -> Status:
    if not isinstance(value, Status):
        msg = f"status must be a Status, not {value!r}"
        raise TypeError(msg)
    return value


def _check_clinician(value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        msg = "clinician must name who made the override"
        raise ValueError(msg)
    return value


@frozen(kw_only=True)
class Override:
    """A clinician's decision that sets an activity's status from an instant on."""

    activity: str
    status: Status = field(converter=_check_status)
    effective_from: dt.datetime = field(converter=_aware_effective_from, eq=False)
    clinician: str = field(converter=_check_clinician)
    note: str = ""
    effective_from_utc: dt.datetime = field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "effective_from_utc", self.effective_from.astimezone(UTC))


@frozen(kw_only=True)
class Decision:
    """The answer for one activity at one instant.

    ``permitted_from`` is the earliest instant from which the activity is PERMITTED and
    stays so, in the session's zone (None where the ruleset gives none);
    ``permitted_from_utc`` is the same instant in UTC, safe to store and compare.
    ``at`` is the instant the decision answers for (None for one built by hand).
    """

    activity: str
    label: str
    status: Status
    permitted_from: dt.datetime | None = field(eq=False)
    permitted_from_utc: dt.datetime | None
    reason: str
    source: Source
    override: Override | None = None
    session: Session
    at: dt.datetime | None = field(default=None, eq=False)

    @property
    def permitted(self) -> bool:
        """False only when the status is NOT_PERMITTED."""
        return self.status is not _NOT_PERMITTED

    def to_dict(self) -> dict[str, Any]:
        """This decision as a ``ketamine-guidance/decision/v1`` JSON document.

        .. versionadded:: 0.1.0
        """
        from ketamine_guidance._serialize import decision_dict

        return decision_dict(self)


@frozen(kw_only=True)
class TimelineEntry:
    """When one activity's restriction lifts."""

    activity: str
    label: str
    status_until_lift: Status
    permitted_from: dt.datetime | None = field(eq=False)
    permitted_from_utc: dt.datetime | None
    reason: str
    source: Source
    clinician_adjustable: bool
    overrides: tuple[Override, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """This entry as a ``ketamine-guidance/timeline-entry/v1`` JSON document.

        .. versionadded:: 0.1.0
        """
        from ketamine_guidance._serialize import timeline_entry_dict

        return timeline_entry_dict(self)


@frozen
class _Segment:
    start: dt.datetime
    status: Status
    override: Override | None


@frozen
class _Track:
    """One activity's status over time, as segments that start at the session's end."""

    rule: Rule
    status_until_lift: Status
    segments: tuple[_Segment, ...]
    starts: tuple[dt.datetime, ...]
    permitted_from: dt.datetime | None

    @classmethod
    def build(
        cls, rule: Rule, ended: dt.datetime, lift: dt.datetime | None, overrides: list[Override]
    ) -> _Track:
        before = _PERMITTED if lift == ended else rule.while_restricted
        segments = [_Segment(ended, before, None)]
        if lift is not None and lift != ended:
            segments.append(_Segment(lift, _PERMITTED, None))
        # Overrides apply from their instant on; the later one wins (stable sort: the
        # one added last wins a tie).
        for ov in sorted(overrides, key=lambda o: o.effective_from_utc):
            start = max(ov.effective_from_utc, ended)
            segments = [s for s in segments if s.start < start]
            segments.append(_Segment(start, ov.status, ov))
        permitted_from = None
        for seg in reversed(segments):
            if seg.status is not _PERMITTED:
                break
            permitted_from = seg.start
        starts = tuple(s.start for s in segments)
        return cls(rule, before, tuple(segments), starts, permitted_from)

    def at(self, instant: dt.datetime) -> _Segment:
        return self.segments[bisect.bisect_right(self.starts, instant) - 1]


def _gate(track: _Track) -> dt.datetime | bool | None:
    """A shortcut for ``is_permitted``: a threshold instant, always, never, or None (bisect)."""
    banned = [s.status is _NOT_PERMITTED for s in track.segments]
    if not any(banned):
        return True
    first_ok = banned.index(False) if False in banned else len(banned)
    if any(banned[first_ok:]):
        return None
    return False if first_ok == len(banned) else track.segments[first_ok].start


@frozen
class AftercarePlan:
    """The aftercare for one session under one ruleset, with any clinician overrides.

    Make one with :func:`plan_for`.  Every question takes an aware datetime ``at`` and
    compares instants, never wall-clock readings.
    """

    session: Session
    ruleset: Ruleset
    overrides: tuple[Override, ...] = ()
    _tracks: dict[str, _Track] = field(init=False, eq=False, repr=False, hash=False)
    _gates: dict[str, dt.datetime | bool | None] = field(
        init=False, eq=False, repr=False, hash=False
    )

    def __attrs_post_init__(self) -> None:
        session, ruleset = self.session, self.ruleset
        if ruleset.effective_from is not None:
            ended_day = session.ended_at_local.date()
            if ended_day < ruleset.effective_from:
                msg = (
                    f"ruleset {ruleset.id!r} takes effect on {ruleset.effective_from}, "
                    f"after this session ended ({ended_day}, the patient's local date)"
                )
                raise RulesetNotInEffectError(msg)
        ended = session.ended_at_utc
        tz = session.timezone
        local_day = session.ended_at_local.date()
        lifts: dict[object, dt.datetime | None] = {}
        by_activity: dict[str, list[Override]] = {}
        for ov in self.overrides:
            by_activity.setdefault(ov.activity, []).append(ov)
        tracks = {}
        for rule in ruleset.rules:
            if rule.until not in lifts:
                lifts[rule.until] = lift_instant(
                    rule.until, ended, local_day, tz, ruleset.next_day_begins
                )
            tracks[rule.activity] = _Track.build(
                rule, ended, lifts[rule.until], by_activity.get(rule.activity, [])
            )
        object.__setattr__(self, "_tracks", tracks)
        object.__setattr__(self, "_gates", {a: _gate(t) for a, t in tracks.items()})

    # Questions

    def is_permitted(self, activity: str, at: dt.datetime) -> bool:
        """Whether ``activity`` is permitted (with or without caution) at the instant ``at``.

        Raises :class:`~ketamine_guidance.UnknownActivityError` for an activity the
        ruleset does not know: nothing unknown is ever reported as permitted.
        """
        try:
            gate = self._gates[activity]
        except (KeyError, TypeError):
            raise unknown_activity(activity, self.ruleset._by_activity) from None
        at = self._checked_at(at)
        if gate.__class__ is dt.datetime:
            return at >= gate  # type: ignore[operator,unused-ignore]
        if gate is None:
            return self._tracks[activity].at(at).status is not _NOT_PERMITTED
        return gate is True

    def check(self, activity: str, at: dt.datetime) -> Decision:
        """The full :class:`Decision` for ``activity`` at the instant ``at``."""
        track = self._track(activity)
        return self._decide(track, self._checked_at(at))

    def decisions_at(self, at: dt.datetime) -> tuple[Decision, ...]:
        """One :class:`Decision` per activity of the ruleset, in ruleset order."""
        at = self._checked_at(at)
        return tuple(self._decide(t, at) for t in self._tracks.values())

    def timeline(self) -> tuple[TimelineEntry, ...]:
        """One entry per rule, in the order the restrictions lift; never-lifting ones last."""
        tz = self.session.timezone
        entries = [
            TimelineEntry(
                activity=t.rule.activity,
                label=t.rule.label,
                status_until_lift=t.status_until_lift,
                permitted_from=None
                if t.permitted_from is None
                else t.permitted_from.astimezone(tz),
                permitted_from_utc=t.permitted_from,
                reason=t.rule.reason,
                source=t.rule.source,
                clinician_adjustable=t.rule.clinician_adjustable,
                overrides=tuple(o for o in self.overrides if o.activity == t.rule.activity),
            )
            for t in self._tracks.values()
        ]
        return tuple(sorted(entries, key=_lift_order))

    def with_override(
        self,
        activity: str,
        *,
        status: Status,
        effective_from: dt.datetime,
        clinician: str,
        note: str = "",
    ) -> AftercarePlan:
        """A new plan in which ``clinician`` sets ``activity`` to ``status`` from an instant on.

        The plan it is called on is unchanged.
        """
        self._track(activity)
        override = Override(
            activity=activity,
            status=status,
            effective_from=effective_from,
            clinician=clinician,
            note=note,
        )
        return AftercarePlan(self.session, self.ruleset, (*self.overrides, override))

    # Advice

    def advice(self, category: AdviceCategory | None = None) -> tuple[Advice, ...]:
        """The ruleset's advice in file order, or only that of ``category``.

        .. versionadded:: 0.1.0
        """
        from ketamine_guidance._advice import advice_in

        return advice_in(self.ruleset, category)

    def advice_for_symptom(self, symptom: str) -> tuple[Advice, ...]:
        """The advice for a symptom id the ruleset declares (``Ruleset.symptoms``).

        Raises :class:`~ketamine_guidance.UnknownSymptomError`, naming the known
        symptoms, for any other: an unlisted symptom is never treated as harmless.

        .. versionadded:: 0.1.0
        """
        from ketamine_guidance._advice import advice_for_symptom

        return advice_for_symptom(self.ruleset, symptom)

    def to_dict(self, at: dt.datetime | None = None) -> dict[str, Any]:
        """This plan as a ``ketamine-guidance/plan/v1`` JSON document.

        With ``at``, the document also holds every activity's decision at that instant.

        .. versionadded:: 0.1.0
        """
        from ketamine_guidance._serialize import plan_dict

        return plan_dict(self, at)

    # Helpers

    def _track(self, activity: str) -> _Track:
        try:
            return self._tracks[activity]
        except (KeyError, TypeError):
            raise unknown_activity(activity, self.ruleset._by_activity) from None

    def _checked_at(self, at: dt.datetime) -> dt.datetime:
        if at.__class__ is not dt.datetime or at.tzinfo is not UTC:
            at = ensure_aware(at, "at")
        if at < self.session.ended_at_utc:
            msg = (
                f"at ({at.isoformat()}) is before the session ended "
                f"({self.session.ended_at_utc.isoformat()})"
            )
            raise BeforeSessionEndError(msg)
        return at

    def _decide(self, track: _Track, instant: dt.datetime) -> Decision:
        segment = track.at(instant)
        rule = track.rule
        reason = rule.reason
        override = segment.override
        tz = self.session.timezone
        if override is not None:
            when = override.effective_from_utc.astimezone(tz)
            reason = (
                f"{override.clinician} set this to {override.status.text} "
                f"from {when.isoformat()}" + (f": {override.note}" if override.note else ".")
            )
        lift = track.permitted_from
        return Decision(
            activity=rule.activity,
            label=rule.label,
            status=segment.status,
            permitted_from=None if lift is None else lift.astimezone(tz),
            permitted_from_utc=lift,
            reason=reason,
            source=rule.source,
            override=override,
            session=self.session,
            at=instant,
        )


_NEVER = dt.datetime.max.replace(tzinfo=UTC)


def _lift_order(entry: TimelineEntry) -> tuple[bool, dt.datetime]:
    lift = entry.permitted_from_utc
    return (lift is None, _NEVER if lift is None else lift)


def plan_for(session: Session, ruleset: Ruleset | None = None) -> AftercarePlan:
    """The aftercare plan for ``session`` under ``ruleset`` (None: the default ruleset)."""
    if not isinstance(session, Session):
        msg = f"session must be a Session, not {type(session).__name__}"
        raise TypeError(msg)
    if ruleset is None:
        from ketamine_guidance._loader import default_ruleset

        ruleset = default_ruleset()
    elif not isinstance(ruleset, Ruleset):
        msg = f"ruleset must be a Ruleset, not {type(ruleset).__name__}"
        raise TypeError(msg)
    return AftercarePlan(session, ruleset)
