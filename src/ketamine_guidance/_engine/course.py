"""Courses of sessions: the most restrictive answer of every session that has ended.

A course is answered from one :class:`~ketamine_guidance.AftercarePlan` per session
(each with the course's overrides), merged activity by activity:

* at an instant, only the sessions that have ended by then count, and the answer is
  the most restrictive of theirs (NOT_PERMITTED over PERMITTED_WITH_CAUTION over
  PERMITTED);
* ``permitted_from`` is the earliest instant from which the merged answer is
  PERMITTED and stays so, counting every session, including those still to come;
* an override ends at the end of the next session after its ``effective_from`` (or
  at its ``until``, if that is earlier): each new session's restrictions start afresh.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable

import attrs
from attrs import field, frozen

from ketamine_guidance._engine.plan import (
    AftercarePlan,
    Decision,
    Override,
    TimelineEntry,
    Track,
    add_override,
    lift_order,
    rule_status,
)
from ketamine_guidance._engine.session import Session, ensure_aware
from ketamine_guidance._engine.windows import UTC
from ketamine_guidance._errors import BeforeSessionEndError
from ketamine_guidance._rules.model import Status, unknown_activity
from ketamine_guidance._rules.ruleset import Ruleset, default_ruleset

__all__ = ["CoursePlan", "plan_for_course"]

_NEVER = dt.datetime.max.replace(tzinfo=UTC)


def _session_order(session: Session) -> tuple[dt.datetime, str]:
    # A total order, so that the order in which sessions are given never matters.
    return (session.ended_at_utc, session.zone_name or repr(session.timezone))


@frozen
class _Piece:
    """From ``start`` on (until the next piece), ``plan`` governs with ``status``."""

    start: dt.datetime
    status: Status
    plan: AftercarePlan


@frozen
class _CourseTrack:
    pieces: tuple[_Piece, ...]
    starts: tuple[dt.datetime, ...]
    permitted_from: dt.datetime | None

    @classmethod
    def merge(cls, activity: str, plans: tuple[AftercarePlan, ...]) -> _CourseTrack:
        tracks: list[Track] = [p._track(activity) for p in plans]
        ends = [p.session.ended_at_utc for p in plans]
        instants = sorted({s.start for t in tracks for s in t.segments})
        pieces: list[_Piece] = []
        for instant in instants:
            ended = [i for i, end in enumerate(ends) if end <= instant]
            # The governing session: the most restrictive now, then the one whose own
            # restriction lasts longest, then the one that ended last.
            governing = max(
                ended,
                key=lambda i: (
                    tracks[i].at(instant).status.restrictiveness,
                    tracks[i].permitted_from or _NEVER,
                    i,
                ),
            )
            status = tracks[governing].at(instant).status
            if pieces and (pieces[-1].status, pieces[-1].plan) == (status, plans[governing]):
                continue
            pieces.append(_Piece(instant, status, plans[governing]))
        permitted_from = None
        for piece in reversed(pieces):
            if piece.status is not Status.PERMITTED:
                break
            permitted_from = piece.start
        return cls(tuple(pieces), tuple(p.start for p in pieces), permitted_from)

    def at(self, instant: dt.datetime) -> _Piece:
        return self.pieces[bisect.bisect_right(self.starts, instant) - 1]


def _scoped(override: Override, sessions: tuple[Session, ...]) -> Override:
    """``override`` ending at the end of the next session after the one it is about.

    It is about the last session that ended by its ``effective_from`` (the first one,
    if it starts earlier), and ends when the next one ends, or at ``until`` if earlier.
    """
    if not isinstance(override, Override):
        msg = f"overrides must hold Override objects, not {type(override).__name__}"
        raise TypeError(msg)
    start = max(override.effective_from_utc, sessions[0].ended_at_utc)
    later = [s.ended_at_utc for s in sessions if s.ended_at_utc > start]
    if not later:
        return override
    end = later[0]
    if override.until_utc is not None and override.until_utc <= end:
        return override
    return attrs.evolve(override, until=end.astimezone(override.effective_from.tzinfo))


def _sessions(value: Iterable[Session]) -> tuple[Session, ...]:
    if isinstance(value, Session) or not isinstance(value, Iterable):
        msg = f"sessions must be an iterable of Session, not {type(value).__name__}"
        raise TypeError(msg)
    sessions = tuple(value)
    for s in sessions:
        if not isinstance(s, Session):
            msg = f"sessions must be an iterable of Session; got a {type(s).__name__}"
            raise TypeError(msg)
    if not sessions:
        msg = "a course needs at least one session"
        raise ValueError(msg)
    return tuple(sorted(sessions, key=_session_order))


@frozen
class CoursePlan:
    """The aftercare for a course of sessions under one ruleset, with clinician overrides.

    Make one with :func:`plan_for_course`.  It answers the same questions as
    :class:`~ketamine_guidance.AftercarePlan`; each :class:`~ketamine_guidance.Decision`
    names the session that governs it in ``session``, and its ``permitted_from`` is in
    that session's zone.  ``sessions`` are held in the order they ended.

    .. versionadded:: 0.1.0
    """

    sessions: tuple[Session, ...] = field(converter=_sessions)
    ruleset: Ruleset
    overrides: tuple[Override, ...] = ()
    _plans: tuple[AftercarePlan, ...] = field(init=False, eq=False, repr=False)
    _tracks: dict[str, _CourseTrack] = field(init=False, eq=False, repr=False, hash=False)

    def __attrs_post_init__(self) -> None:
        scoped = tuple(_scoped(ov, self.sessions) for ov in self.overrides)
        plans = tuple(AftercarePlan(s, self.ruleset, scoped) for s in self.sessions)
        tracks = {a: _CourseTrack.merge(a, plans) for a in self.ruleset.activities}
        object.__setattr__(self, "_plans", plans)
        object.__setattr__(self, "_tracks", tracks)

    # Questions

    def is_permitted(self, activity: str, at: dt.datetime) -> bool:
        """Whether ``activity`` is permitted (with or without caution) at the instant ``at``."""
        track = self._track(activity)
        return track.at(self._checked_at(at)).status is not Status.NOT_PERMITTED

    def check(self, activity: str, at: dt.datetime) -> Decision:
        """The full :class:`~ketamine_guidance.Decision` for ``activity`` at ``at``."""
        track = self._track(activity)
        return self._decide(activity, track, self._checked_at(at))

    def decisions_at(self, at: dt.datetime) -> tuple[Decision, ...]:
        """One :class:`~ketamine_guidance.Decision` per activity of the ruleset, in its order."""
        at = self._checked_at(at)
        return tuple(self._decide(a, t, at) for a, t in self._tracks.items())

    def timeline(self) -> tuple[TimelineEntry, ...]:
        """When each restriction lifts for the whole course, in the latest session's zone.

        ``status_until_lift`` is the most restrictive of the sessions'.
        """
        tz = self.sessions[-1].timezone
        latest = {e.activity: e for e in self._plans[-1].timeline()}
        entries: list[TimelineEntry] = []
        for activity, track in self._tracks.items():
            lift = track.permitted_from
            before = max(
                (p._track(activity).status_until_lift for p in self._plans),
                key=lambda s: s.restrictiveness,
            )
            entries.append(
                attrs.evolve(
                    latest[activity],
                    status_until_lift=before,
                    permitted_from=None if lift is None else lift.astimezone(tz),
                    permitted_from_utc=lift,
                )
            )
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
    ) -> CoursePlan:
        """A new course plan with a clinician's override, as
        :meth:`~ketamine_guidance.AftercarePlan.with_override`, scoped to one session.

        The override ends at the end of the next session of the course after its
        ``effective_from`` (or at ``until``, if that is earlier): a change made after
        one session never carries into the restrictions of the next.  An override that
        starts before the first session ended applies from its end.  Decisions carry
        the override with ``until`` set to where it ends.  The plan it is called on is
        unchanged.

        .. versionchanged:: 0.2.0
           Scoped to the next session; ``until`` and ``clinician_id``.
        """
        self._track(activity)
        rule = self.ruleset._by_activity[activity]
        overrides = add_override(
            self.overrides,
            activity,
            status=status,
            effective_from=effective_from,
            clinician=clinician,
            note=note,
            until=until,
            clinician_id=clinician_id,
            rule=rule,
            rule_status_at=lambda at: self._rule_status(activity, at),
        )
        return CoursePlan(self.sessions, self.ruleset, overrides)

    # Helpers

    def _rule_status(self, activity: str, at: dt.datetime) -> Status:
        """The rules' own answer (no overrides) at ``at``, or at the first end if later."""
        at = max(at, self.sessions[0].ended_at_utc)
        statuses = [
            rule_status(p.ruleset._by_activity[activity], p.session.ended_at_utc, lift, at)
            for p in self._plans
            if p.session.ended_at_utc <= at
            for lift in (p._lift(activity),)
        ]
        return max(statuses, key=lambda s: s.restrictiveness)

    def _track(self, activity: str) -> _CourseTrack:
        try:
            return self._tracks[activity]
        except (KeyError, TypeError):
            raise unknown_activity(activity, self.ruleset._by_activity) from None

    def _checked_at(self, at: dt.datetime) -> dt.datetime:
        at = ensure_aware(at, "at").astimezone(UTC)
        first = self.sessions[0].ended_at_utc
        if at < first:
            msg = (
                f"at ({at.isoformat()}) is before the first session of the course ended "
                f"({first.isoformat()})"
            )
            raise BeforeSessionEndError(msg)
        return at

    def _decide(self, activity: str, track: _CourseTrack, at: dt.datetime) -> Decision:
        plan = track.at(at).plan
        decision = plan.check(activity, at)
        lift = track.permitted_from
        tz = plan.session.timezone
        return attrs.evolve(
            decision,
            permitted_from=None if lift is None else lift.astimezone(tz),
            permitted_from_utc=lift,
        )


def plan_for_course(sessions: Iterable[Session], ruleset: Ruleset | None = None) -> CoursePlan:
    """The aftercare plan for a course of ``sessions`` (in any order) under ``ruleset``.

    None means the default ruleset.  At any instant each activity gets the most
    restrictive answer of the sessions that have ended by then.

    >>> utc = dt.timezone.utc
    >>> course = plan_for_course([
    ...     Session(dt.datetime(2026, 11, 23, 18, tzinfo=utc), "Europe/London"),
    ...     Session(dt.datetime(2026, 11, 25, 18, tzinfo=utc), "Europe/London"),
    ... ])
    >>> course.is_permitted("driving", dt.datetime(2026, 11, 24, 9, tzinfo=utc))
    True
    >>> decision = course.check("driving", dt.datetime(2026, 11, 25, 19, tzinfo=utc))
    >>> decision.status.text, decision.session.ended_at_utc.day
    ('not permitted', 25)
    >>> decision.permitted_from.isoformat()
    '2026-11-26T06:00:00+00:00'

    .. versionadded:: 0.1.0
    """
    if ruleset is None:
        ruleset = default_ruleset()
    elif not isinstance(ruleset, Ruleset):
        msg = f"ruleset must be a Ruleset, not {type(ruleset).__name__}"
        raise TypeError(msg)
    return CoursePlan(sessions, ruleset)
