"""Lift instants for many sessions at once: a columnar batch, without a plan per session.

``plan_for(session).timeline()`` builds an :class:`AftercarePlan` and a
:class:`TimelineEntry` per rule, which costs tens of microseconds a session.  A nightly
job over a clinic's whole history needs only the instants, so :func:`lift_times` works
out each rule's ``permitted_from_utc`` straight from the time engine, as plain tuples.

It is fast because of what each window depends on:

* a calendar window (``next_day``, ``day``/``at``, ``end_of_day``) lifts at a local wall
  time on a later day, so its instant depends only on the zone and the local date on which
  the session ended: it is resolved once per (zone, local date) for the whole batch;
* ``immediately`` and ``hours`` depend only on the session's end in UTC: one addition;
* ``never`` is None, and ``latest_of`` is the latest of its parts (None if any is None).

Every instant is the engine's own (:func:`~ketamine_guidance._engine.windows.lift_instant`), so
the table equals the plans' timelines exactly; a test checks that over every zone.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Iterable
from typing import TypeAlias

from attrs import frozen

from ketamine_guidance._engine.session import Session
from ketamine_guidance._engine.windows import UTC, lift_instant
from ketamine_guidance._errors import RulesetNotInEffectError, UnknownActivityError
from ketamine_guidance._rules.model import (
    DayAt,
    EndOfDay,
    Hours,
    Immediately,
    LatestOf,
    Never,
    NextDay,
    Rule,
    Status,
    Window,
)
from ketamine_guidance._rules.ruleset import Ruleset, default_ruleset

__all__ = ["LiftTable", "lift_times"]

Row: TypeAlias = "tuple[dt.datetime | None, ...]"

# The earliest instant there is: ``lift_instant`` never returns earlier than the session's
# end, so asking it with this end gives a calendar window's own instant, unclamped.
_DAWN = dt.datetime.min.replace(tzinfo=UTC)


@frozen
class LiftTable:
    """Each session's lift instants, one column per activity of the ruleset.

    ``rows[i][j]`` is the instant (UTC) from which ``activities[j]`` is permitted after
    ``sessions[i]``: the same instant as ``permitted_from_utc`` of that activity's entry
    in ``plan_for(sessions[i], ruleset).timeline()``.  None means the ruleset never lifts
    the restriction (only a clinician can).  Columns are in ruleset order; rows are in the
    order the sessions were given.

    Make one with :func:`lift_times`.

    .. versionadded:: 0.1.0
    """

    activities: tuple[str, ...]
    sessions: tuple[Session, ...]
    rows: tuple[tuple[dt.datetime | None, ...], ...]

    def __len__(self) -> int:
        """The number of sessions."""
        return len(self.rows)

    def column(self, activity: str) -> tuple[dt.datetime | None, ...]:
        """One activity's lift instant for every session, in session order.

        Raises :class:`~ketamine_guidance.UnknownActivityError` for an activity the
        ruleset does not know.
        """
        try:
            j = self.activities.index(activity)
        except ValueError:
            text = activity if isinstance(activity, str) else repr(activity)
            import difflib  # on first use: only an unknown activity needs it

            close = difflib.get_close_matches(text, self.activities, n=3, cutoff=0.5)
            raise UnknownActivityError(text, self.activities, suggestions=close) from None
        return tuple(row[j] for row in self.rows)


# How one window becomes an instant: a function of the session's end (UTC) and of the
# calendar lifts of its (zone, local date), which ``_Compiled.calendar`` works out once.
_Slot: TypeAlias = "Callable[[dt.datetime, tuple[dt.datetime | None, ...]], dt.datetime | None]"


def _never(_ended: dt.datetime, _days: tuple[dt.datetime | None, ...]) -> None:
    return None


def _ended(ended: dt.datetime, _days: tuple[dt.datetime | None, ...]) -> dt.datetime:
    return ended


def _after(delta: dt.timedelta) -> _Slot:
    def hours(ended: dt.datetime, _days: tuple[dt.datetime | None, ...]) -> dt.datetime | None:
        try:
            return ended + delta
        except OverflowError:  # beyond the last datetime Python has: never, as the engine says
            return None

    return hours


def _calendar(i: int) -> _Slot:
    def day(ended: dt.datetime, days: tuple[dt.datetime | None, ...]) -> dt.datetime | None:
        lift = days[i]
        return None if lift is None else lift if lift > ended else ended

    return day


def _latest(parts: list[_Slot]) -> _Slot:
    def latest(ended: dt.datetime, days: tuple[dt.datetime | None, ...]) -> dt.datetime | None:
        found = ended  # a part is never before the end, so the end is the floor
        for part in parts:
            lift = part(ended, days)
            if lift is None:
                return None
            found = max(found, lift)
        return found

    return latest


class _Compiled:
    """A ruleset turned into one function per distinct window, for a whole batch."""

    def __init__(self, ruleset: Ruleset) -> None:
        self.next_day_begins = ruleset.next_day_begins
        self.calendar_windows: list[Window] = []  # each distinct calendar window once
        slots: dict[Window, int] = {}
        self.slots: list[_Slot] = []
        index: list[int] = []
        for rule in ruleset.rules:
            key = _effective(rule)
            if key not in slots:
                slots[key] = len(self.slots)
                self.slots.append(self._compile(key))
            index.append(slots[key])
        # One C call turns the distinct values into the row, in ruleset order.
        self.row: Callable[[list[dt.datetime | None]], Row] = (
            operator.itemgetter(*index) if len(index) > 1 else lambda vs: (vs[index[0]],)
        )

    def _compile(self, window: Window) -> _Slot:
        if isinstance(window, Immediately):
            return _ended
        if isinstance(window, Never):
            return _never
        if isinstance(window, Hours):
            try:
                delta = dt.timedelta(hours=window.hours)
            except OverflowError:  # more hours than a timedelta holds: never lifts
                return _never
            # The engine never lifts before the session ends, whatever a hand-built
            # (unvalidated) window says.
            return _after(delta) if delta > dt.timedelta(0) else _ended
        if isinstance(window, LatestOf):
            return _latest([self._compile(w) for w in window.windows])
        assert isinstance(window, NextDay | DayAt | EndOfDay)  # noqa: S101  (a closed union)
        if window not in self.calendar_windows:
            self.calendar_windows.append(window)
        return _calendar(self.calendar_windows.index(window))

    def calendar(self, local_day: dt.date, tz: dt.tzinfo) -> tuple[dt.datetime | None, ...]:
        """Each calendar window's instant for sessions that ended on ``local_day`` in ``tz``."""
        begins = self.next_day_begins
        return tuple(lift_instant(w, _DAWN, local_day, tz, begins) for w in self.calendar_windows)


def _effective(rule: Rule) -> Window:
    """The window whose instant is the rule's ``permitted_from_utc`` without overrides."""
    if rule.while_restricted is Status.PERMITTED:  # only a hand-built, unvalidated ruleset
        return Immediately()
    return rule.until


def lift_times(sessions: Iterable[Session], ruleset: Ruleset | None = None) -> LiftTable:
    """Every rule's lift instant for many sessions at once, as a :class:`LiftTable`.

    For each session, in the order given, and each rule of ``ruleset`` (None: the default
    ruleset), in ruleset order: the instant in UTC from which the activity is permitted,
    exactly as ``plan_for(session, ruleset).timeline()`` gives it without overrides, or
    None where the restriction never lifts.  A batch takes no overrides: apply a
    clinician's override with :meth:`AftercarePlan.with_override` on that session's plan.

    Sessions must be :class:`Session` objects; a ruleset that takes effect after a
    session's local date raises :class:`~ketamine_guidance.RulesetNotInEffectError`, as
    :func:`plan_for` does, naming the session's position.

    >>> import datetime as dt
    >>> utc = dt.timezone.utc
    >>> table = lift_times(
    ...     [
    ...         Session(dt.datetime(2026, 3, 7, 23, 30, tzinfo=utc), "America/New_York"),
    ...         Session(dt.datetime(2026, 3, 7, 23, 30, tzinfo=utc), "Asia/Tokyo"),
    ...     ]
    ... )
    >>> [lift.isoformat() for lift in table.column("driving")]
    ['2026-03-08T10:00:00+00:00', '2026-03-08T21:00:00+00:00']

    .. versionadded:: 0.1.0
    """
    if ruleset is None:
        ruleset = default_ruleset()
    elif not isinstance(ruleset, Ruleset):
        msg = f"ruleset must be a Ruleset, not {type(ruleset).__name__}"
        raise TypeError(msg)
    if isinstance(sessions, Session | str | bytes):
        msg = "sessions must be an iterable of Sessions; for one session use plan_for"
        raise TypeError(msg)
    try:
        given = tuple(sessions)
    except TypeError:
        msg = f"sessions must be an iterable of Sessions, not {type(sessions).__name__}"
        raise TypeError(msg) from None
    compiled = _Compiled(ruleset)
    rows = _rows(given, compiled, ruleset)
    return LiftTable(tuple(r.activity for r in ruleset.rules), given, rows)


def _rows(sessions: tuple[Session, ...], compiled: _Compiled, ruleset: Ruleset) -> tuple[Row, ...]:
    effective_from = ruleset.effective_from
    slots, row, calendar = compiled.slots, compiled.row, compiled.calendar
    # The calendar lifts per (zone, local date).  Zones are keyed by identity, which also
    # serves tzinfos that cannot be hashed; ``zones`` keeps each one alive meanwhile.
    by_zone: dict[int, dict[dt.date, tuple[dt.datetime | None, ...]]] = {}
    zones: list[dt.tzinfo] = []
    rows: list[Row] = []
    append = rows.append
    for i, session in enumerate(sessions):
        if not isinstance(session, Session):
            msg = f"sessions[{i}] must be a Session, not {type(session).__name__}"
            raise TypeError(msg)
        ended = session.ended_at_utc
        tz = session.timezone
        local_day = ended.astimezone(tz).date()
        if effective_from is not None and local_day < effective_from:
            msg = (
                f"ruleset {ruleset.id!r} takes effect on {effective_from}, after "
                f"sessions[{i}] ended ({local_day}, the patient's local date)"
            )
            raise RulesetNotInEffectError(msg)
        days_of_zone = by_zone.get(id(tz))
        if days_of_zone is None:
            days_of_zone = by_zone[id(tz)] = {}
            zones.append(tz)
        days = days_of_zone.get(local_day)
        if days is None:
            days = days_of_zone[local_day] = calendar(local_day, tz)
        append(row([slot(ended, days) for slot in slots]))
    return tuple(rows)
