"""A ruleset's windows compiled once, so that a lift instant costs a look-up and an addition.

A window's instant depends on two things only:

* a calendar window (``next_day``, ``day``/``at``, ``end_of_day``) lifts at a local wall
  time on a later day, so its instant depends only on the zone and the local date on which
  the session ended;
* ``immediately`` and ``hours`` depend only on the session's end in UTC: one addition;
* ``never`` is None, and ``latest_of`` is the latest of its parts (None if any is None).

:class:`Compiled` turns each distinct window of a ruleset into one small function of the
session's end and of the calendar instants of its (zone, local date), which
:meth:`Compiled.calendar` resolves with the time engine
(:func:`~ketamine_guidance._engine.windows.lift_instant`).  Plans share those calendar
instants through :meth:`Compiled.days`, a bounded cache per (zone, local date), and the
batch keeps its own per call.  Every instant equals ``lift_instant(rule.until, ...)``; a
property test checks it for random windows, zones and ends.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable
from typing import TypeAlias

from ketamine_guidance._engine.windows import UTC, lift_instant
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
from ketamine_guidance._rules.ruleset import Ruleset

__all__ = ["Compiled", "Days", "Row", "compiled"]

Row: TypeAlias = "tuple[dt.datetime | None, ...]"
#: Each calendar window's instant for one (zone, local date), in ``calendar_windows`` order.
Days: TypeAlias = "tuple[dt.datetime | None, ...]"
# How one window becomes an instant: a function of the session's end (UTC), the calendar
# instants of its (zone, local date), and the zone.
_Slot: TypeAlias = "Callable[[dt.datetime, Days, dt.tzinfo], dt.datetime | None]"

# The earliest instant there is: ``lift_instant`` never returns earlier than the session's
# end, so asking it with this end gives a calendar window's own instant, unclamped.
_DAWN = dt.datetime.min.replace(tzinfo=UTC)


def _never(_ended: dt.datetime, _days: Days, _tz: dt.tzinfo) -> None:
    return None


def _ended(ended: dt.datetime, _days: Days, _tz: dt.tzinfo) -> dt.datetime:
    return ended


def _after(delta: dt.timedelta) -> _Slot:
    def hours(ended: dt.datetime, _days: Days, tz: dt.tzinfo) -> dt.datetime | None:
        try:
            lift = ended + delta
            if lift.year == dt.MAXYEAR:  # its local reading must exist too (east of UTC)
                lift.astimezone(tz)
        except OverflowError:  # beyond the last datetime Python has: never, as the engine says
            return None
        return lift

    return hours


def _calendar(i: int) -> _Slot:
    def day(ended: dt.datetime, days: Days, _tz: dt.tzinfo) -> dt.datetime | None:
        lift = days[i]
        return None if lift is None else lift if lift > ended else ended

    return day


def _latest(parts: list[_Slot]) -> _Slot:
    def latest(ended: dt.datetime, days: Days, tz: dt.tzinfo) -> dt.datetime | None:
        found = ended  # a part is never before the end, so the end is the floor
        for part in parts:
            lift = part(ended, days, tz)
            if lift is None:
                return None
            found = max(found, lift)
        return found

    return latest


def _effective(rule: Rule) -> Window:
    """The window whose instant is the rule's ``permitted_from_utc`` without overrides."""
    if rule.while_restricted is Status.PERMITTED:  # only a hand-built, unvalidated ruleset
        return Immediately()
    return rule.until


# Calendar instants per (zone, local date), shared by every plan of one compiled ruleset.
# Zones are keyed by identity (which also serves tzinfos that cannot be hashed), and each
# value holds its zone, so an id is never reused while it is cached.
_DAYS_MAX = 1 << 14


class Compiled:
    """A ruleset turned into one function per distinct window."""

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self.next_day_begins = ruleset.next_day_begins
        #: Each rule's effective window, in ruleset order.
        self.effective: list[Window] = [_effective(rule) for rule in ruleset.rules]
        self.calendar_windows: list[Window] = []  # each distinct calendar window once
        slots: dict[Window, int] = {}
        self.slots: list[_Slot] = []
        index: list[int] = []
        for key in self.effective:
            if key not in slots:
                slots[key] = len(self.slots)
                self.slots.append(self._compile(key))
            index.append(slots[key])
        #: Each activity's slot, for a plan that asks about one activity at a time.
        self.slot_of: dict[str, _Slot] = {
            rule.activity: self.slots[i] for rule, i in zip(ruleset.rules, index, strict=True)
        }
        # One C call turns the distinct values into the row, in ruleset order.
        self.row: Callable[[list[dt.datetime | None]], Row] = (
            operator.itemgetter(*index) if len(index) > 1 else lambda vs: (vs[index[0]],)
        )
        self._days: dict[tuple[int, dt.date], tuple[dt.tzinfo, Days]] = {}

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

    def calendar(self, local_day: dt.date, tz: dt.tzinfo) -> Days:
        """Each calendar window's instant for sessions that ended on ``local_day`` in ``tz``."""
        begins = self.next_day_begins
        return tuple(lift_instant(w, _DAWN, local_day, tz, begins) for w in self.calendar_windows)

    def days(self, local_day: dt.date, tz: dt.tzinfo) -> Days:
        """:meth:`calendar`, worked out once per (zone, local date) for every plan."""
        key = (id(tz), local_day)
        hit = self._days.get(key)
        if hit is not None and hit[0] is tz:
            return hit[1]
        days = self.calendar(local_day, tz)
        if len(self._days) >= _DAYS_MAX:
            self._days.clear()
        self._days[key] = (tz, days)
        return days


# One Compiled per ruleset, keyed by the ruleset's identity and holding it (through the
# Compiled), so its id cannot be reused while it is cached.
_COMPILED: dict[int, Compiled] = {}
_COMPILED_MAX = 256


def compiled(ruleset: Ruleset) -> Compiled:
    """The ruleset's :class:`Compiled`, made once and shared."""
    hit = _COMPILED.get(id(ruleset))
    if hit is not None and hit.ruleset is ruleset:
        return hit
    made = Compiled(ruleset)
    if len(_COMPILED) >= _COMPILED_MAX:
        _COMPILED.clear()
    _COMPILED[id(ruleset)] = made
    return made
