"""Aftercare plans: what is permitted when, for one session and one ruleset."""

from __future__ import annotations

import bisect
import datetime as dt
import unicodedata
from collections.abc import Callable
from typing import Any, NamedTuple, TypeAlias

from attrs import field, frozen

from ketamine_guidance._engine.session import Session, ensure_aware
from ketamine_guidance._engine.windows import UTC, lift_instant
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
    "rule_status",
    "Decision",
    "Override",
    "TimelineEntry",
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
        start = self.effective_from.astimezone(UTC)
        end = None if self.until is None else self.until.astimezone(UTC)
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
        from ketamine_guidance._engine.documents import decision_dict

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
    """Without overrides: the status until the lift, and the instant permitted from."""
    if lift == ended:
        return _PERMITTED, ended
    before = rule.while_restricted
    if before is _PERMITTED:  # only a ruleset built by hand, unvalidated, says this
        return before, ended
    return before, lift


class Track(NamedTuple):
    """One activity's status over time, as segments that start at the session's end.

    ``gate`` is a shortcut for ``is_permitted``: the instant from which the activity is
    permitted for good, True (always), False (never), or None (look the segment up).
    A named tuple, not an attrs class: a plan builds one per rule, so it must be cheap.
    """

    rule: Rule
    status_until_lift: Status
    segments: tuple[_Segment, ...]
    starts: tuple[dt.datetime, ...]
    permitted_from: dt.datetime | None
    gate: dt.datetime | bool | None

    @classmethod
    def build(
        cls, rule: Rule, ended: dt.datetime, lift: dt.datetime | None, overrides: list[Override]
    ) -> Track:
        before, since = _unchanged(rule, ended, lift)
        if not overrides:  # the common case, without the general machinery below
            first = _Segment(ended, before, None)
            if lift is None or lift == ended:
                return cls(rule, before, (first,), (ended,), since, before is not _NOT_PERMITTED)
            gate = lift if before is _NOT_PERMITTED else True
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


def _gate(segments: tuple[_Segment, ...]) -> dt.datetime | bool | None:
    """A threshold instant, always (True), never (False), or None (bisect)."""
    banned = [s.status is _NOT_PERMITTED for s in segments]
    if not any(banned):
        return True
    first_ok = banned.index(False) if False in banned else len(banned)
    if any(banned[first_ok:]):
        return None
    return False if first_ok == len(banned) else segments[first_ok].start


@frozen
class AftercarePlan:
    """The aftercare for one session under one ruleset, with any clinician overrides.

    Make one with :func:`plan_for`.  Every question takes an aware datetime ``at`` and
    compares instants, never wall-clock readings.
    """

    session: Session
    ruleset: Ruleset
    overrides: tuple[Override, ...] = ()
    # Each activity's lift instant is worked out when the plan is made (one engine
    # call per distinct window); its track of segments is built on first use, so a
    # plan asked about one activity pays for one.
    _lifts: dict[str, dt.datetime | None] = field(init=False, eq=False, repr=False, hash=False)
    _tracks: dict[str, Track] = field(init=False, eq=False, repr=False, hash=False)
    _by_activity: dict[str, list[Override]] = field(init=False, eq=False, repr=False, hash=False)
    # Answers that depend only on the plan, built on first use: a Decision per
    # (activity, segment) and the timeline.  Equal plans give equal answers.
    _memo: dict[object, object] = field(init=False, eq=False, repr=False, hash=False)

    def __attrs_post_init__(self) -> None:
        session, ruleset = self.session, self.ruleset
        ended = session.ended_at_utc
        tz = session.timezone
        local_day = ended.astimezone(tz).date()
        if ruleset.effective_from is not None and local_day < ruleset.effective_from:
            msg = (
                f"ruleset {ruleset.id!r} takes effect on {ruleset.effective_from}, "
                f"after this session ended ({local_day}, the patient's local date)"
            )
            raise RulesetNotInEffectError(msg)
        # Equal windows (the default's eight "latest of next day and 8 hours") are
        # worked out once: the ruleset's rules are grouped by window once, then shared.
        by_window: dict[int, dt.datetime | None] = {}
        lifts: dict[str, dt.datetime | None] = {}
        next_day_begins = ruleset.next_day_begins
        for rule, key in zip(ruleset.rules, _window_groups(ruleset), strict=True):
            if key not in by_window:
                by_window[key] = lift_instant(rule.until, ended, local_day, tz, next_day_begins)
            lifts[rule.activity] = by_window[key]
        by_activity: dict[str, list[Override]] = {}
        for ov in self.overrides:
            if not isinstance(ov, Override):
                msg = f"overrides must hold Override objects, not {type(ov).__name__}"
                raise TypeError(msg)
            if ov.activity not in lifts:  # fail closed: never a change to an unknown rule
                raise unknown_activity(ov.activity, ruleset._by_activity)
            by_activity.setdefault(ov.activity, []).append(ov)
        object.__setattr__(self, "_lifts", lifts)
        object.__setattr__(self, "_tracks", {})
        object.__setattr__(self, "_by_activity", by_activity)
        object.__setattr__(self, "_memo", {})

    # Questions

    def is_permitted(self, activity: str, at: dt.datetime) -> bool:
        """Whether ``activity`` is permitted (with or without caution) at the instant ``at``.

        Raises :class:`~ketamine_guidance.UnknownActivityError` for an activity the
        ruleset does not know: nothing unknown is ever reported as permitted.
        """
        try:
            track = self._tracks[activity]
        except (KeyError, TypeError):
            track = self._track(activity)
        at = self._checked_at(at)
        gate = track.gate
        if gate.__class__ is dt.datetime:
            return at >= gate  # type: ignore[operator,unused-ignore]
        if gate is None:
            return track.at(at).status is not _NOT_PERMITTED
        return gate is True

    def check(self, activity: str, at: dt.datetime) -> Decision:
        """The full :class:`Decision` for ``activity`` at the instant ``at``."""
        track = self._track(activity)
        return self._decide(track, self._checked_at(at))

    def decisions_at(self, at: dt.datetime) -> tuple[Decision, ...]:
        """One :class:`Decision` per activity of the ruleset, in ruleset order."""
        at = self._checked_at(at)
        return tuple(self._decide(self._track(a), at) for a in self._lifts)

    def timeline(self) -> tuple[TimelineEntry, ...]:
        """One entry per rule, in the order the restrictions lift; never-lifting ones last."""
        timeline = self._memo.get("timeline")
        if timeline is None:
            timeline = self._memo["timeline"] = self._timeline()
        return timeline  # type: ignore[return-value]

    def _timeline(self) -> tuple[TimelineEntry, ...]:
        tz = self.session.timezone
        ended = self.session.ended_at_utc
        rules = self.ruleset._by_activity
        entries: list[TimelineEntry] = []
        for activity, lift in self._lifts.items():
            rule = rules[activity]
            if activity in self._by_activity:
                track = self._track(activity)
                overrides = tuple(o for o in self.overrides if o.activity == activity)
                entry = _entry(rule, tz, track.status_until_lift, track.permitted_from, overrides)
            else:
                before, since = _unchanged(rule, ended, lift)
                if since == ended:
                    entry = _entry(rule, tz, before, since, ())
                else:  # shared by every session in this zone that lifts at that instant
                    entry = _shared_entry(rule, tz, before, since)
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
        ended, lift = self.session.ended_at_utc, self._lifts[activity]
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

    def advice(self, category: AdviceCategory | None = None) -> tuple[Advice, ...]:
        """The ruleset's advice in file order, or only that of ``category``.

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

    def _track(self, activity: str) -> Track:
        """The activity's track, built on first use; UnknownActivityError if none."""
        try:
            return self._tracks[activity]
        except KeyError:
            pass
        except TypeError:  # an unhashable "activity"
            raise unknown_activity(activity, self.ruleset._by_activity) from None
        try:
            lift = self._lifts[activity]
        except KeyError:
            raise unknown_activity(activity, self.ruleset._by_activity) from None
        rule = self.ruleset._by_activity[activity]
        overrides = self._by_activity.get(activity, [])
        track = Track.build(rule, self.session.ended_at_utc, lift, overrides)
        self._tracks[activity] = track
        return track

    def _checked_at(self, at: dt.datetime) -> dt.datetime:
        """``at`` checked and in UTC: one conversion, so later comparisons are cheap."""
        given = at
        if at.__class__ is not dt.datetime or at.tzinfo is not UTC:
            at = ensure_aware(at, "at").astimezone(UTC)
        if at < self.session.ended_at_utc:
            msg = (
                f"at ({given.isoformat()}) is before the session ended "
                f"({self.session.ended_at_utc.isoformat()})"
            )
            raise BeforeSessionEndError(msg)
        return at

    def _decide(self, track: Track, instant: dt.datetime) -> Decision:
        """The decision for the segment in force at ``instant``.

        Everything but ``at`` depends only on the segment, so it is worked out once per
        segment; each call makes a new Decision that carries its own ``at``.
        """
        key = (track.rule.activity, track.position(instant))
        fields = self._memo.get(key)
        if fields is None:
            fields = self._memo[key] = self._decision_fields(track, track.segments[key[1]])
        return Decision(**fields, at=instant)  # type: ignore[arg-type]

    def _decision_fields(self, track: Track, segment: _Segment) -> dict[str, Any]:
        rule = track.rule
        reason = rule.reason
        override = segment.override
        tz = self.session.timezone
        if override is not None:
            reason = override_reason(override, self.session)
        lift = track.permitted_from
        return {
            "activity": rule.activity,
            "label": rule.label,
            "status": segment.status,
            "permitted_from": None if lift is None else lift.astimezone(tz),
            "permitted_from_utc": lift,
            "reason": reason,
            "source": rule.source,
            "override": override,
            "session": self.session,
        }


# Per ruleset, the index of the first rule with an equal window, for each rule; keyed
# by the ruleset's identity and holding the ruleset, so its id cannot be reused.
_GROUPS: dict[int, tuple[Ruleset, tuple[int, ...]]] = {}
_GROUPS_MAX = 256


def _window_groups(ruleset: Ruleset) -> tuple[int, ...]:
    hit = _GROUPS.get(id(ruleset))
    if hit is not None and hit[0] is ruleset:
        return hit[1]
    first: dict[object, int] = {}
    groups = tuple(first.setdefault(r.until, i) for i, r in enumerate(ruleset.rules))
    if len(_GROUPS) >= _GROUPS_MAX:
        _GROUPS.clear()
    _GROUPS[id(ruleset)] = (ruleset, groups)
    return groups


def override_reason(override: Override, session: Session) -> str:
    """An override in words a patient can read, in place of the rule's own reason:
    who changed it, to what, and from (and until) when in the session's local time."""
    tz = session.timezone
    start = max(override.effective_from_utc, session.ended_at_utc).astimezone(tz)
    end = (
        ""
        if override.until_utc is None
        else f" until {format_local(override.until_utc.astimezone(tz))}"
    )
    note = f" {override.note.strip()}" if override.note.strip() else ""
    return (
        f"{override.clinician.strip()} changed this to {override.status.text} "
        f"from {format_local(start)}{end}.{note}"
    )


_NEVER = dt.datetime.max.replace(tzinfo=UTC)


def _entry(
    rule: Rule,
    tz: dt.tzinfo,
    before: Status,
    since: dt.datetime | None,
    overrides: tuple[Override, ...],
) -> TimelineEntry:
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
    )


# Timeline entries that do not depend on the session's own instant (a "next day"
# lift is the same for every session that ended on that local day in that zone),
# keyed by the identity of the rule and the zone.  Each value holds the rule and the
# zone themselves, so neither can be freed and its id reused while it is cached.
_SharedKey: TypeAlias = "tuple[int, int, dt.datetime | None]"
_SHARED: dict[_SharedKey, tuple[Rule, dt.tzinfo, TimelineEntry]] = {}
_SHARED_MAX = 1 << 16


def _shared_entry(
    rule: Rule, tz: dt.tzinfo, before: Status, since: dt.datetime | None
) -> TimelineEntry:
    key = (id(rule), id(tz), since)  # ``before`` follows from the rule when lift > end
    hit = _SHARED.get(key)
    if hit is not None and hit[0] is rule and hit[1] is tz:
        return hit[2]
    entry = _entry(rule, tz, before, since, ())
    if len(_SHARED) >= _SHARED_MAX:
        _SHARED.clear()
    _SHARED[key] = (rule, tz, entry)
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
