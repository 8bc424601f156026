"""Aftercare plans: what is permitted when, for one session and one ruleset."""

from __future__ import annotations

import bisect
import datetime as dt
import unicodedata
from collections.abc import Callable
from typing import Any, NamedTuple, TypeAlias

from attrs import field, frozen

from ketamine_guidance._engine.lifts import compiled
from ketamine_guidance._engine.session import Session, ensure_aware, in_range, resolve_timezone
from ketamine_guidance._engine.windows import UTC, never_lifts
from ketamine_guidance._engine.words import format_local
from ketamine_guidance._errors import (
    BeforeSessionEndError,
    OverrideError,
    RulesetNotInEffectError,
)
from ketamine_guidance._rules.model import (
    Advice,
    AdviceCategory,
    Rule,
    Source,
    Status,
    unknown_activity,
)
from ketamine_guidance._rules.ruleset import Ruleset, default_ruleset

__all__ = [
    "AftercarePlan",
    "Track",
    "add_override",
    "lift_order",
    "override_reason",
    "override_span",
    "rule_status",
    "Decision",
    "Override",
    "TimelineEntry",
    "is_permitted",
    "plan_for",
]

_PERMITTED = Status.PERMITTED
_NOT_PERMITTED = Status.NOT_PERMITTED


def _aware_effective_from(value: dt.datetime) -> dt.datetime:
    return ensure_aware(value, "effective_from")


def _aware_until(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else ensure_aware(value, "until")


def _check_status(value: Status | str) -> Status:
    if isinstance(value, Status):
        return value
    if isinstance(value, str):
        try:
            return Status(value)
        except ValueError:
            pass
    known = ", ".join(repr(s.value) for s in Status)
    msg = f"status must be a Status or one of {known}, not {value!r}"
    raise TypeError(msg) if not isinstance(value, str) else OverrideError(msg)


# Characters that show nothing: zero-width ones, the soft hyphen, bidi controls and the
# byte-order mark (all of Unicode's "format" category), and white space.
_MAX_CLINICIAN = 200


def _visible(text: str) -> str:
    return "".join(c for c in text if unicodedata.category(c) != "Cf" and not c.isspace())


def _check_clinician(value: str) -> str:
    if not isinstance(value, str):
        msg = f"clinician must be a str naming who made the override, not {type(value).__name__}"
        raise TypeError(msg)
    if not any(c.isalnum() for c in _visible(value)):
        msg = (
            "clinician must name who made the override "
            f"(with at least one letter or digit), not {value!r}"
        )
        raise OverrideError(msg)
    if len(value) > _MAX_CLINICIAN:
        msg = f"clinician must be at most {_MAX_CLINICIAN} characters, not {len(value)}"
        raise OverrideError(msg)
    return value


def _check_note(value: str) -> str:
    if not isinstance(value, str):
        msg = f"note must be a str, not {type(value).__name__}"
        raise TypeError(msg)
    return value


def _check_clinician_id(value: str | None) -> str | None:
    if value is not None and not isinstance(value, str):
        kind = type(value).__name__
        msg = f"clinician_id must be a str (an NPI, a FHIR Practitioner/...), not {kind}"
        raise TypeError(msg)
    return value


@frozen(kw_only=True)
class Override:
    """A clinician's decision that sets an activity's status from an instant on.

    ``until`` (None: no end) ends it: from then on the rules apply again.  In a
    course it also ends at the end of the next session.  ``clinician`` names who made
    it, for the patient to read; ``clinician_id`` identifies them for systems (an
    NPI, a FHIR ``Practitioner/...`` reference).  ``status`` may be given as its
    value (``"permitted"``).

    .. versionchanged:: 0.2.0
       ``until`` and ``clinician_id``; ``clinician`` must hold a letter or digit.
    """

    activity: str
    status: Status = field(converter=_check_status)
    effective_from: dt.datetime = field(converter=_aware_effective_from, eq=False)
    clinician: str = field(converter=_check_clinician)
    note: str = field(default="", converter=_check_note)
    until: dt.datetime | None = field(default=None, converter=_aware_until, eq=False)
    clinician_id: str | None = field(default=None, converter=_check_clinician_id)
    effective_from_utc: dt.datetime = field(init=False, repr=False)
    until_utc: dt.datetime | None = field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        start = in_range(self.effective_from, UTC, "effective_from")
        end = None if self.until is None else in_range(self.until, UTC, "until")
        if end is not None and end <= start:
            msg = (
                f"until ({self.until.isoformat()}) must be after effective_from "  # type: ignore[union-attr]
                f"({self.effective_from.isoformat()})"
            )
            raise OverrideError(msg)
        object.__setattr__(self, "effective_from_utc", start)
        object.__setattr__(self, "until_utc", end)


def add_override(  # noqa: PLR0913  (the options after * are keyword-only, each named at the call)
    overrides: tuple[Override, ...],
    activity: str,
    *,
    status: Status | str,
    effective_from: dt.datetime,
    clinician: str,
    note: str,
    until: dt.datetime | None,
    clinician_id: str | None,
    rule: Rule,
    rule_status_at: Callable[[dt.datetime], Status],
) -> tuple[Override, ...]:
    """``overrides`` with a new one appended: the one step that both plan kinds'
    ``with_override`` share (each checks ``activity`` against its ruleset first).

    ``rule_status_at`` gives the rule's own status at the instant the override starts
    to apply; widening a rule that is not clinician-adjustable needs a note.
    """
    override = Override(
        activity=activity,
        status=status,
        effective_from=effective_from,
        clinician=clinician,
        note=note,
        until=until,
        clinician_id=clinician_id,
    )
    if not rule.clinician_adjustable and not override.note.strip():
        before = rule_status_at(override.effective_from_utc)
        if override.status.restrictiveness < before.restrictiveness:
            msg = (
                f"{activity!r} is not clinician-adjustable: an override that widens it from "
                f"{before.text} to {override.status.text} needs a note giving the clinical reason"
            )
            raise OverrideError(msg)
    return (*overrides, override)


def rule_status(
    rule: Rule, ended: dt.datetime, lift: dt.datetime | None, at: dt.datetime
) -> Status:
    """The rule's own status (no overrides) at ``at`` (from the session end on)."""
    before, since = _unchanged(rule, ended, lift)
    if since is not None and max(at, ended) >= since:
        return _PERMITTED
    return before


@frozen(kw_only=True, slots=False)
class Decision:
    """The answer for one activity at one instant.

    ``permitted_from`` is the earliest instant from which the activity is PERMITTED and
    stays so, in the session's zone (None where the ruleset gives none);
    ``permitted_from_utc`` is the same instant in UTC, safe to store and compare.
    ``at`` is the instant the decision answers for (None for one built by hand).
    ``lifts_beyond_range`` is True when ``permitted_from`` is None only because the
    restriction would lift after ``datetime.max``: it is in force for as long as this
    library can tell, which is not the same as "no end is given".
    ``ruleset`` is the ruleset that gave the answer (None for one built by hand): its
    id, version and :attr:`~ketamine_guidance.Ruleset.digest` go into every document
    and export made from the decision.

    .. versionchanged:: 0.2.0
       ``ruleset`` and ``lifts_beyond_range``.
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
    lifts_beyond_range: bool = False
    # The ruleset that gave this answer (None for a decision built by hand); its id,
    # version and digest go into every document and export made from the decision.
    ruleset: Ruleset | None = field(default=None, eq=False, repr=False)

    @property
    def permitted(self) -> bool:
        """False only when the status is NOT_PERMITTED."""
        return self.status is not _NOT_PERMITTED

    def to_dict(self) -> dict[str, Any]:
        """This decision as a ``ketamine-guidance/decision/v1`` JSON document.

        .. versionadded:: 0.1.0
        """
        from ketamine_guidance._engine.documents import decision_dict

        return decision_dict(self)


@frozen(kw_only=True)
class TimelineEntry:
    """When one activity's restriction lifts.

    ``ruleset`` is the ruleset the entry comes from (None for one built by hand).

    .. versionchanged:: 0.2.0
       ``ruleset``.
    """

    activity: str
    label: str
    status_until_lift: Status
    permitted_from: dt.datetime | None = field(eq=False)
    permitted_from_utc: dt.datetime | None
    reason: str
    source: Source
    clinician_adjustable: bool
    overrides: tuple[Override, ...] = ()
    #: True when ``permitted_from`` is None only because the restriction would lift
    #: after ``datetime.max``, as for a :class:`Decision`.
    lifts_beyond_range: bool = False
    # The ruleset the entry comes from (None for one built by hand).
    ruleset: Ruleset | None = field(default=None, eq=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """This entry as a ``ketamine-guidance/timeline-entry/v1`` JSON document.

        .. versionadded:: 0.1.0
        """
        from ketamine_guidance._engine.documents import timeline_entry_dict

        return timeline_entry_dict(self)


class _Segment(NamedTuple):
    """From ``start`` (UTC) on, the activity has ``status``, set by ``override`` if any."""

    start: dt.datetime
    status: Status
    override: Override | None


def _unchanged(
    rule: Rule, ended: dt.datetime, lift: dt.datetime | None
) -> tuple[Status, dt.datetime | None]:
    """Without overrides: the status until the lift, and the instant permitted from.

    ``lift`` is the compiled ruleset's (:mod:`~ketamine_guidance._engine.lifts`), which
    is the session's end for a rule that is permitted even while restricted (only a
    hand-built, unvalidated ruleset says that).
    """
    if lift == ended:
        return _PERMITTED, ended
    return rule.while_restricted, lift


class Track(NamedTuple):
    """One activity's status over time, as segments that start at the session's end.

    ``gate`` is a shortcut for ``is_permitted``: the instant from which the activity is
    permitted for good (the session's end: always), or None (look the segment up, which
    says "never" too).
    A named tuple, not an attrs class: a plan builds one per rule, so it must be cheap.
    """

    rule: Rule
    status_until_lift: Status
    segments: tuple[_Segment, ...]
    starts: tuple[dt.datetime, ...]
    permitted_from: dt.datetime | None
    gate: dt.datetime | None

    @classmethod
    def build(
        cls, rule: Rule, ended: dt.datetime, lift: dt.datetime | None, overrides: list[Override]
    ) -> Track:
        before, since = _unchanged(rule, ended, lift)
        if not overrides:  # the common case, without the general machinery below
            first = _Segment(ended, before, None)
            gate = _gate_of(before, since, ended)
            if lift is None or lift == ended:
                return cls(rule, before, (first,), (ended,), since, gate)
            return cls(
                rule, before, (first, _Segment(lift, _PERMITTED, None)), (ended, lift), since, gate
            )
        base = [_Segment(ended, before, None)]
        if lift is not None and lift != ended:
            base.append(_Segment(lift, _PERMITTED, None))
        # Each override is in force from its instant (not before the session ended)
        # until its ``until``; where several are in force, the one added last wins,
        # whatever their effective times.
        spans: list[tuple[dt.datetime, dt.datetime | None, Override]] = []
        for ov in overrides:
            start, end = max(ov.effective_from_utc, ended), ov.until_utc
            if end is None or end > start:
                spans.append((start, end, ov))
        bounds = {s.start for s in base}
        bounds.update(start for start, _, _ in spans)
        bounds.update(end for _, end, _ in spans if end is not None)
        base_starts = [s.start for s in base]
        listed: list[_Segment] = []
        for instant in sorted(bounds):
            ruling = base[bisect.bisect_right(base_starts, instant) - 1]
            seg = _Segment(instant, ruling.status, None)
            for start, end, ov in reversed(spans):
                if start <= instant and (end is None or instant < end):
                    seg = _Segment(instant, ov.status, ov)
                    break
            last = listed[-1] if listed else None
            if last is not None and last.status is seg.status and last.override is seg.override:
                continue
            listed.append(seg)
        permitted_from = None
        for seg in reversed(listed):
            if seg.status is not _PERMITTED:
                break
            permitted_from = seg.start
        segments = tuple(listed)
        starts = tuple(s.start for s in segments)
        return cls(rule, before, segments, starts, permitted_from, _gate(segments))

    def position(self, instant: dt.datetime) -> int:
        """The index of the segment in force at ``instant`` (UTC, not before the start)."""
        return bisect.bisect_right(self.starts, instant) - 1

    def at(self, instant: dt.datetime) -> _Segment:
        return self.segments[self.position(instant)]


def _gate(segments: tuple[_Segment, ...]) -> dt.datetime | None:
    """The instant from which permitted for good, or None (bisect, never included)."""
    banned = [s.status is _NOT_PERMITTED for s in segments]
    first_ok = banned.index(False) if False in banned else len(banned)
    if first_ok == len(banned) or any(banned[first_ok:]):
        return None
    return segments[first_ok].start


@frozen
class AftercarePlan:
    """The aftercare for one session under one ruleset, with any clinician overrides.

    Make one with :func:`plan_for`.  Every question takes an aware datetime ``at`` and
    compares instants, never wall-clock readings.
    """

    session: Session
    ruleset: Ruleset
    overrides: tuple[Override, ...] = ()
    # Nothing is resolved when the plan is made: each activity's lift instant, its
    # gate for is_permitted, its track of segments and its decisions are worked out on
    # first use, so a plan asked one question pays for one activity.  The calendar
    # instants of the plan's (zone, local date) come from a cache shared by all plans.
    _ended: dt.datetime = field(init=False, eq=False, repr=False, hash=False)
    _lifts: dict[str, dt.datetime | None] = field(init=False, eq=False, repr=False, hash=False)
    _gates: dict[str, dt.datetime | None] = field(init=False, eq=False, repr=False, hash=False)
    _tracks: dict[str, Track] = field(init=False, eq=False, repr=False, hash=False)
    # Per activity, its track and a Decision per segment (with ``at`` None), each made
    # when first needed; a question copies the one in force and sets ``at``.
    _decisions: dict[str, tuple[Track, list[Decision | None]]] = field(
        init=False, eq=False, repr=False, hash=False
    )
    _by_activity: dict[str, list[Override]] = field(init=False, eq=False, repr=False, hash=False)
    # The timeline, the local date and its calendar instants, on first use.
    _memo: dict[str, Any] = field(init=False, eq=False, repr=False, hash=False)

    def __attrs_post_init__(self) -> None:
        session, ruleset = self.session, self.ruleset
        memo: dict[str, Any] = {}
        if ruleset.effective_from is not None:
            memo["day"] = _in_effect(ruleset, session.ended_at_utc, session.timezone)
        by_activity: dict[str, list[Override]] = {}
        for ov in self.overrides:
            if not isinstance(ov, Override):
                msg = f"overrides must hold Override objects, not {type(ov).__name__}"
                raise TypeError(msg)
            if ov.activity not in ruleset._by_activity:  # fail closed: never an unknown rule
                raise unknown_activity(ov.activity, ruleset._by_activity)
            by_activity.setdefault(ov.activity, []).append(ov)
        setattr_ = object.__setattr__
        setattr_(self, "_ended", session.ended_at_utc)
        setattr_(self, "_lifts", {})
        setattr_(self, "_gates", {})
        setattr_(self, "_tracks", {})
        setattr_(self, "_decisions", {})
        setattr_(self, "_by_activity", by_activity)
        setattr_(self, "_memo", memo)

    # Questions

    def is_permitted(self, activity: str, at: dt.datetime) -> bool:
        """Whether ``activity`` is permitted (with or without caution) at the instant ``at``.

        Raises :class:`~ketamine_guidance.UnknownActivityError` for an activity the
        ruleset does not know: nothing unknown is ever reported as permitted.
        """
        try:
            gate = self._gates[activity]
        except (KeyError, TypeError):
            gate = self._gate(activity)
        if gate is not None and at.__class__ is _DATETIME and at.tzinfo is UTC:
            if at >= gate:
                return True  # (the gate is never before the session's end)
            if at >= self._ended:
                return False
        at = self._checked_at(at)
        if gate is not None:
            return at >= gate
        return self._track(activity).at(at).status is not _NOT_PERMITTED

    def check(self, activity: str, at: dt.datetime) -> Decision:
        """The full :class:`Decision` for ``activity`` at the instant ``at``."""
        try:
            track, decisions = self._decisions[activity]
        except (KeyError, TypeError):
            track, decisions = self._decisions_of(activity)
        if at.__class__ is not _DATETIME or at.tzinfo is not UTC or at < self._ended:
            at = self._checked_at(at)
        i = _segment(track, at)
        one = decisions[i] or self._prototype(track, decisions, i)
        fields = one.__dict__.copy()  # the segment's Decision, with ``at`` set
        fields["at"] = at
        decision = _NEW(Decision)
        _SET(decision, "__dict__", fields)
        return decision

    def decisions_at(self, at: dt.datetime) -> tuple[Decision, ...]:
        """One :class:`Decision` per activity of the ruleset, in ruleset order."""
        if at.__class__ is not _DATETIME or at.tzinfo is not UTC or at < self._ended:
            at = self._checked_at(at)
        every = self._memo.get("decisions")
        if every is None:
            every = self._memo["decisions"] = [
                self._decisions_of(a) for a in self.ruleset._by_activity
            ]
        new, set_, cls = _NEW, _SET, Decision
        answers: list[Decision] = []
        append = answers.append
        for track, decisions in every:
            starts = track.starts  # _segment, inline: it runs once a rule
            count = len(starts)
            i = 0 if count == 1 else int(at >= starts[1]) if count == 2 else _segment(track, at)
            one = decisions[i] or self._prototype(track, decisions, i)
            fields = one.__dict__.copy()
            fields["at"] = at
            decision = new(cls)
            set_(decision, "__dict__", fields)
            append(decision)
        return tuple(answers)

    def timeline(self) -> tuple[TimelineEntry, ...]:
        """One entry per rule, in the order the restrictions lift; never-lifting ones last."""
        timeline = self._memo.get("timeline")
        if timeline is None:
            timeline = self._memo["timeline"] = self._timeline()
        return timeline

    def _timeline(self) -> tuple[TimelineEntry, ...]:
        tz = self.session.timezone
        ended = self._ended
        ruleset = self.ruleset
        entries: list[TimelineEntry] = []
        for activity, rule in ruleset._by_activity.items():
            if activity in self._by_activity:
                track = self._track(activity)
                overrides = tuple(o for o in self.overrides if o.activity == activity)
                entry = _entry(
                    rule,
                    tz,
                    track.status_until_lift,
                    track.permitted_from,
                    overrides,
                    ruleset,
                    beyond=_beyond_range(track),
                )
            else:
                before, since = _unchanged(rule, ended, self._lift(activity))
                if since == ended:
                    entry = _entry(rule, tz, before, since, (), ruleset)
                else:  # shared by every session in this zone that lifts at that instant
                    entry = _shared_entry(rule, tz, before, since, ruleset)
            entries.append(entry)
        return tuple(sorted(entries, key=lift_order))

    def with_override(  # noqa: PLR0913  (keyword-only options, each named at the call)
        self,
        activity: str,
        *,
        status: Status | str,
        effective_from: dt.datetime,
        clinician: str,
        note: str = "",
        until: dt.datetime | None = None,
        clinician_id: str | None = None,
    ) -> AftercarePlan:
        """A new plan in which ``clinician`` sets ``activity`` to ``status`` from an instant on.

        ``status`` is a :class:`Status` or its value (``"permitted"``).  The override
        applies from ``effective_from`` (or the session's end, if that is later) until
        ``until`` (None: for the rest of the plan).  Where several overrides of one
        activity are in force at an instant, the one added last wins.  Widening a rule
        that is not ``clinician_adjustable`` (a status less restrictive than the rule's
        own at that instant) needs a ``note`` giving the clinical reason, else
        :class:`~ketamine_guidance.OverrideError`.  ``clinician`` must hold a letter or
        digit (at most 200 characters); ``clinician_id`` identifies them for systems.
        The plan it is called on is unchanged.

        .. versionchanged:: 0.2.0
           ``until``, ``clinician_id``, the order of adding decides, and widening a
           fixed rule needs a note.
        """
        track = self._track(activity)
        ended, lift = self._ended, self._lift(activity)
        overrides = add_override(
            self.overrides,
            activity,
            status=status,
            effective_from=effective_from,
            clinician=clinician,
            note=note,
            until=until,
            clinician_id=clinician_id,
            rule=track.rule,
            rule_status_at=lambda at: rule_status(track.rule, ended, lift, at),
        )
        return AftercarePlan(self.session, self.ruleset, overrides)

    # Advice

    def advice(self, category: AdviceCategory | str | None = None) -> tuple[Advice, ...]:
        """The ruleset's advice in file order, or only that of ``category``.

        ``category`` is an :class:`~ketamine_guidance.AdviceCategory` or its value, as
        ``"integration"``.

        .. versionadded:: 0.1.0
        """
        from ketamine_guidance._engine.advice import advice_in

        return advice_in(self.ruleset, category)

    def advice_for_symptom(self, symptom: str) -> tuple[Advice, ...]:
        """The advice for a symptom id the ruleset declares (``Ruleset.symptoms``).

        Raises :class:`~ketamine_guidance.UnknownSymptomError`, naming the known
        symptoms, for any other: an unlisted symptom is never treated as harmless.

        .. versionadded:: 0.1.0
        """
        from ketamine_guidance._engine.advice import advice_for_symptom

        return advice_for_symptom(self.ruleset, symptom)

    def to_dict(self, at: dt.datetime | None = None) -> dict[str, Any]:
        """This plan as a ``ketamine-guidance/plan/v1`` JSON document.

        With ``at``, the document also holds every activity's decision at that instant.

        .. versionadded:: 0.1.0
        """
        from ketamine_guidance._engine.documents import plan_dict

        return plan_dict(self, at)

    # Helpers

    def _lift(self, activity: str) -> dt.datetime | None:
        """The activity's lift instant without overrides (None: never), on first use.

        The caller has checked that the ruleset knows ``activity``.
        """
        lifts = self._lifts
        if activity in lifts:
            return lifts[activity]
        memo = self._memo
        made = compiled(self.ruleset)  # shared, not kept in the plan: a plan must pickle
        tz = self.session.timezone
        days = memo.get("days")
        if days is None:
            local_day = memo.get("day")
            if local_day is None:
                local_day = memo["day"] = self._ended.astimezone(tz).date()
            days = memo["days"] = made.days(local_day, tz)
        lift = lifts[activity] = made.slot_of[activity](self._ended, days, tz)
        return lift

    def _gate(self, activity: str) -> dt.datetime | None:
        """The activity's gate for :meth:`is_permitted`; UnknownActivityError if none."""
        rule = self._rule(activity)
        if activity in self._by_activity:
            gate = self._track(activity).gate
        else:
            gate = _plain_gate(rule, self._ended, self._lift(activity))
        self._gates[activity] = gate
        return gate

    def _rule(self, activity: str) -> Rule:
        """The ruleset's rule for ``activity``; UnknownActivityError if none."""
        rules = self.ruleset._by_activity
        try:
            return rules[activity]
        except (KeyError, TypeError):  # TypeError: an unhashable "activity"
            raise unknown_activity(activity, rules) from None

    def _track(self, activity: str) -> Track:
        """The activity's track, built on first use; UnknownActivityError if none."""
        try:
            return self._tracks[activity]
        except (KeyError, TypeError):
            pass
        rule = self._rule(activity)
        overrides = self._by_activity.get(activity, [])
        track = Track.build(rule, self._ended, self._lift(activity), overrides)
        self._tracks[activity] = track
        return track

    def _decisions_of(self, activity: str) -> tuple[Track, list[Decision | None]]:
        """The activity's track and its segments' Decisions, each made on first use."""
        try:
            return self._decisions[activity]
        except (KeyError, TypeError):
            pass
        track = self._track(activity)
        built: tuple[Track, list[Decision | None]] = (track, [None] * len(track.segments))
        self._decisions[activity] = built
        return built

    def _prototype(self, track: Track, decisions: list[Decision | None], i: int) -> Decision:
        """The Decision of the track's ``i``-th segment, made now and kept in ``decisions``."""
        made = decisions[i] = self._decision(track, track.segments[i])
        return made

    def _checked_at(self, at: dt.datetime) -> dt.datetime:
        """``at`` checked and in UTC: one conversion, so later comparisons are cheap."""
        return _checked_at(at, self.session.timezone, self._ended)

    def _decision(self, track: Track, segment: _Segment) -> Decision:
        """The decision for one segment, with ``at`` None: questions copy it."""
        rule = track.rule
        reason = rule.reason
        override = segment.override
        tz = self.session.timezone
        if override is not None:
            reason = override_reason(override, self.session)
        lift = track.permitted_from
        # Every field, as Decision's own __init__ would set them (a test holds the two
        # equal, field for field), without its twelve checked assignments.
        decision = _NEW(Decision)
        _SET(
            decision,
            "__dict__",
            {
                "activity": rule.activity,
                "label": rule.label,
                "status": segment.status,
                "permitted_from": None if lift is None else lift.astimezone(tz),
                "permitted_from_utc": lift,
                "reason": reason,
                "source": rule.source,
                "override": override,
                "session": self.session,
                "at": None,
                "lifts_beyond_range": _beyond_range(track),
                "ruleset": self.ruleset,
            },
        )
        return decision


_DATETIME = dt.datetime
# A question's Decision is a copy of its segment's, made without __init__: every field
# but ``at`` is the segment's, worked out once, so copying the instance's __dict__ (the
# reason Decision has no __slots__) and setting ``at`` is all that a question costs.
_NEW = object.__new__
_SET = object.__setattr__


def _segment(track: Track, at: dt.datetime) -> int:
    """The index of the segment in force at ``at`` (UTC, not before the session end)."""
    starts = track.starts
    count = len(starts)
    if count == 1:
        return 0
    if count == 2:  # the common track: restricted, then permitted from the lift
        return 1 if at >= starts[1] else 0
    return track.position(at)


def _in_effect(ruleset: Ruleset, ended: dt.datetime, tz: dt.tzinfo) -> dt.date:
    """The session's local date; RulesetNotInEffectError if the ruleset starts later."""
    local_day = ended.astimezone(tz).date()
    if ruleset.effective_from is not None and local_day < ruleset.effective_from:
        msg = (
            f"ruleset {ruleset.id!r} takes effect on {ruleset.effective_from}, "
            f"after this session ended ({local_day}, the patient's local date)"
        )
        raise RulesetNotInEffectError(msg)
    return local_day


def _checked_at(at: dt.datetime, tz: dt.tzinfo, ended: dt.datetime) -> dt.datetime:
    """``at`` checked to be aware and not before the session's end, in UTC."""
    given = at
    if at.__class__ is not _DATETIME or at.tzinfo is not UTC:
        at = in_range(ensure_aware(at, "at"), tz, "at")
    if at < ended:
        msg = f"at ({given.isoformat()}) is before the session ended ({ended.isoformat()})"
        raise BeforeSessionEndError(msg)
    return at


def _plain_gate(rule: Rule, ended: dt.datetime, lift: dt.datetime | None) -> dt.datetime | None:
    """The gate of a track without overrides, as :meth:`Track.build` gives it, without
    building the track: the session's end (always permitted), the lift, or None."""
    return _gate_of(*_unchanged(rule, ended, lift), ended)


def _gate_of(before: Status, since: dt.datetime | None, ended: dt.datetime) -> dt.datetime | None:
    """The gate without overrides, from the rule's own status until the lift and the
    instant permitted from: the session's end if never banned, else that instant (None:
    never)."""
    return ended if before is not _NOT_PERMITTED else since


def override_reason(override: Override, session: Session) -> str:
    """An override in words a patient can read, in place of the rule's own reason:
    who changed it, to what, and from (and until) when in the session's local time."""
    start = max(override.effective_from_utc, session.ended_at_utc)
    note = f" {override.note.strip()}" if override.note.strip() else ""
    return (
        f"{override.clinician.strip()} changed this to {override.status.text} "
        f"{override_span(override, session.timezone, start)}.{note}"
    )


def override_span(
    override: Override,
    tz: dt.tzinfo,
    start: dt.datetime | None = None,
    *,
    words: Callable[..., str] = format_local,
) -> str:
    """``from <time> until <time>`` (or without ``until``), local to ``tz``: from ``start``
    (UTC; None: the override's own start), each time written by ``words`` (a formatter
    that takes ``down``, as ``format_local`` and ``format_short`` do).

    Each time is rounded to the minute on the safe side: a ban is shown starting no later
    and ending no earlier than it does, a permission (with or without caution) starting
    no earlier and ending no later.
    """
    ban = override.status is _NOT_PERMITTED
    begin = override.effective_from_utc if start is None else start
    text = f"from {words(begin.astimezone(tz), down=ban)}"
    if override.until_utc is not None:
        text += f" until {words(override.until_utc.astimezone(tz), down=not ban)}"
    return text


_NEVER = dt.datetime.max.replace(tzinfo=UTC)


def _beyond_range(track: Track) -> bool:
    """Whether the track is never permitted only because its lift is after datetime.max."""
    return (
        track.permitted_from is None
        and track.segments[-1].override is None
        and not never_lifts(track.rule.until)
    )


def _entry(  # noqa: PLR0913, PLR0917  (private; called in three places with all six)
    rule: Rule,
    tz: dt.tzinfo,
    before: Status,
    since: dt.datetime | None,
    overrides: tuple[Override, ...],
    ruleset: Ruleset,
    *,
    beyond: bool | None = None,
) -> TimelineEntry:
    if beyond is None:  # no overrides: only the rule's own window decides
        beyond = since is None and not never_lifts(rule.until)
    return TimelineEntry(
        activity=rule.activity,
        label=rule.label,
        status_until_lift=before,
        permitted_from=None if since is None else since.astimezone(tz),
        permitted_from_utc=since,
        reason=rule.reason,
        source=rule.source,
        clinician_adjustable=rule.clinician_adjustable,
        overrides=overrides,
        lifts_beyond_range=beyond,
        ruleset=ruleset,
    )


# Timeline entries that do not depend on the session's own instant (a "next day"
# lift is the same for every session that ended on that local day in that zone),
# keyed by the identity of the rule, the zone and the ruleset.  Each value holds them
# themselves, so none can be freed and its id reused while it is cached.
_SharedKey: TypeAlias = "tuple[int, int, dt.datetime | None, int]"
_SHARED: dict[_SharedKey, tuple[Rule, dt.tzinfo, Ruleset, TimelineEntry]] = {}
_SHARED_MAX = 1 << 16


def _shared_entry(
    rule: Rule, tz: dt.tzinfo, before: Status, since: dt.datetime | None, ruleset: Ruleset
) -> TimelineEntry:
    # ``before`` follows from the rule when lift > end
    key = (id(rule), id(tz), since, id(ruleset))
    hit = _SHARED.get(key)
    if hit is not None and hit[0] is rule and hit[1] is tz and hit[2] is ruleset:
        return hit[3]
    entry = _entry(rule, tz, before, since, (), ruleset)
    if len(_SHARED) >= _SHARED_MAX:
        _SHARED.clear()
    _SHARED[key] = (rule, tz, ruleset, entry)
    return entry


def lift_order(entry: TimelineEntry) -> tuple[bool, dt.datetime]:
    lift = entry.permitted_from_utc
    return (lift is None, _NEVER if lift is None else lift)


def plan_for(session: Session, ruleset: Ruleset | None = None) -> AftercarePlan:
    """The aftercare plan for ``session`` under ``ruleset`` (None: the default ruleset)."""
    if not isinstance(session, Session):
        msg = f"session must be a Session, not {type(session).__name__}"
        raise TypeError(msg)
    if ruleset is None:
        ruleset = default_ruleset()
    elif not isinstance(ruleset, Ruleset):
        msg = f"ruleset must be a Ruleset, not {type(ruleset).__name__}"
        raise TypeError(msg)
    return AftercarePlan(session, ruleset)


def is_permitted(
    activity: str,
    at: dt.datetime,
    *,
    ended_at: dt.datetime,
    timezone: dt.tzinfo | str,
    ruleset: Ruleset | None = None,
) -> bool:
    """Whether ``activity`` is permitted at ``at`` after a session that ended at
    ``ended_at``, for a patient in ``timezone``: one question, no plan kept.

    The answer, and every error, is that of
    ``plan_for(Session(ended_at, timezone), ruleset).is_permitted(activity, at)``
    (``ruleset`` None: the default), without making the session or the plan: the path
    for a service that gets a new session with every question.  ``timezone``, the
    patient's zone (an IANA name or a tzinfo), is required (None is refused, where
    ``Session`` would read ``ended_at``'s own zone): a stored UTC end does not say on
    which calendar "the next day" falls.  Keep a plan instead when asking
    more than once about one session, or for a :class:`Decision`.

    >>> import datetime as dt
    >>> ended = dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.timezone.utc)
    >>> is_permitted("driving", dt.datetime(2026, 11, 26, 11, 0, tzinfo=dt.timezone.utc),
    ...              ended_at=ended, timezone="America/New_York")
    True

    .. versionadded:: 0.2.0
    """
    # The common case, a UTC end well inside datetime's range, needs no conversion: the
    # same checks as Session's, in the same order, with less work.
    utc_end = ended_at.__class__ is _DATETIME and ended_at.tzinfo is UTC
    ended = ended_at if utc_end else ensure_aware(ended_at, "ended_at")
    tz = resolve_timezone(timezone)
    if not (utc_end and dt.MINYEAR < ended.year < dt.MAXYEAR):
        ended = in_range(ended, tz, "ended_at")
    if ruleset is None:
        ruleset = default_ruleset()
    elif not isinstance(ruleset, Ruleset):
        msg = f"ruleset must be a Ruleset, not {type(ruleset).__name__}"
        raise TypeError(msg)
    local_day = ended.astimezone(tz).date()
    if ruleset.effective_from is not None:
        _in_effect(ruleset, ended, tz)
    rules = ruleset._by_activity
    try:
        rule = rules[activity]
    except (KeyError, TypeError):  # TypeError: an unhashable "activity"
        raise unknown_activity(activity, rules) from None
    if at.__class__ is not _DATETIME or at.tzinfo is not UTC or at < ended:
        at = _checked_at(at, tz, ended)
    if rule.while_restricted is not _NOT_PERMITTED:  # _plain_gate, inline: always True
        return True
    made = compiled(ruleset)
    lift = made.slot_of[activity](ended, made.days(local_day, tz), tz)
    return lift is not None and at >= lift
