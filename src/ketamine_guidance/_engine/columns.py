"""Lift instants from columns with NumPy: session ends and zones in, one array per rule out.

A health system's nightly job holds its sessions as columns (end instants in UTC and
zone names), not as :class:`Session` objects.  This module answers such a batch with
array arithmetic, and with the time engine only where a wall-clock reading must be
resolved:

1. **Local dates, vectorised.**  For each distinct zone, its UTC offsets over the span
   of the batch are read from the zone itself (``datetime.astimezone``, as the engine
   does) at probes every :data:`PROBE_STEP` and bisected to the microsecond wherever
   the offset changes, giving a transition table.  Each session's offset is then one
   ``searchsorted`` into that table, and its local date one integer division.
2. **Calendar windows, once per (zone, local date), vectorised too.**  ``next_day``,
   ``day``/``at`` and ``end_of_day`` lift at a wall time that depends only on those two;
   each distinct pair's wall time is resolved from the zone's transition table around
   it, the way the engine resolves it from the zone
   (:func:`~ketamine_guidance._engine.windows.latest_instant`: the same probes, the
   latest exact reading, in a gap the offset before it), and spread back to its rows.
   Pairs within days of the first or last date a datetime holds go to the engine itself.
3. **The rest is arithmetic.**  ``immediately`` is the end, ``hours`` the end plus a
   duration, ``never`` is ``NaT``, ``latest_of`` an element-wise maximum (``NaT``, never,
   wins), and nothing lifts before the session ended.

Instants are ``datetime64[us]`` in UTC; ``NaT`` means the ruleset never lifts the
restriction, as None does elsewhere.  A property test checks every row against
``plan_for(...).timeline()``, DST gaps, folds and skipped days included.

NumPy is the optional ``batch`` extra; this module is imported only when it is used.
"""

# NumPy's stubs leave many array methods partly unknown to pyright's strict mode; mypy
# --strict checks this module with NumPy's own types.
# pyright: reportUnknownMemberType=false, reportUnknownVariableType=false, reportUnknownArgumentType=false

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeAlias, cast

import numpy as np

from ketamine_guidance._engine.session import ensure_aware, resolve_timezone
from ketamine_guidance._engine.windows import UTC, calendar_wall, lift_instant
from ketamine_guidance._errors import GuidanceError, RulesetNotInEffectError
from ketamine_guidance._rules.model import (
    DayAt,
    EndOfDay,
    Hours,
    Immediately,
    LatestOf,
    Never,
    NextDay,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ketamine_guidance._engine.lifts import Compiled
    from ketamine_guidance._rules.model import Window
    from ketamine_guidance._rules.ruleset import Ruleset

__all__ = ["PROBE_STEP", "Instants", "lift_columns", "to_instants"]

Instants: TypeAlias = "NDArray[np.datetime64]"
_Ints: TypeAlias = "NDArray[np.int64]"

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = dt.date(1970, 1, 1)
_DAY = 86_400_000_000  # microseconds
#: How far apart the offset probes are: no zone in the tz database changes its offset
#: twice within this span (the closest changes are days apart), so a change between two
#: probes is found, and bisected to the microsecond.
PROBE_STEP = 6 * 3_600_000_000
_NAT = np.iinfo(np.int64).min  # datetime64's NaT, as an integer
# Instants this library can represent, with two days' margin for any zone's offset.
_LOWEST = ((dt.datetime.min.replace(tzinfo=UTC) - _EPOCH) // dt.timedelta(microseconds=1)) + (
    2 * _DAY
)
_HIGHEST = ((dt.datetime.max.replace(tzinfo=UTC) - _EPOCH) // dt.timedelta(microseconds=1)) - (
    2 * _DAY
)
_LAST = (dt.datetime.max.replace(tzinfo=UTC) - _EPOCH) // dt.timedelta(microseconds=1)


def _micros(moment: dt.datetime) -> int:
    """An aware datetime as exact integer microseconds since 1970-01-01T00:00Z."""
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


def _instant(micros: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=micros)


def to_instants(ended_at: object) -> _Ints:
    """Session ends as int64 microseconds since the epoch (UTC), checked.

    ``ended_at`` is a NumPy ``datetime64`` array (read as UTC; a unit finer than a
    microsecond is rounded up, so no restriction can lift early) or a sequence of aware
    datetimes.
    """
    if isinstance(ended_at, np.ndarray):
        array: NDArray[np.generic] = ended_at
        if array.dtype.kind != "M" or array.ndim != 1:
            msg = f"ended_at must be a 1-D datetime64 array, not {array.dtype} of {array.ndim} D"
            raise TypeError(msg)
        unit, _ = np.datetime_data(cast("np.dtype[np.datetime64]", array.dtype))
        if unit in {"ns", "ps", "fs", "as"}:
            per = {"ns": 1_000, "ps": 1_000_000, "fs": 10**9, "as": 10**12}[unit]
            raw = array.view(np.int64)
            micros = -(-raw // per)  # the ceiling: never earlier than given
            micros[raw == _NAT] = _NAT
        else:
            micros = array.astype("datetime64[us]").view(np.int64)
    elif isinstance(ended_at, str | bytes) or not isinstance(ended_at, Sequence):
        msg = (
            "ended_at must be a sequence of aware datetimes or a datetime64 array, "
            f"not {type(ended_at).__name__}"
        )
        raise TypeError(msg)
    else:
        given: Sequence[object] = ended_at
        micros = np.fromiter(
            (_micros(ensure_aware(e, f"ended_at[{i}]")) for i, e in enumerate(given)),
            dtype=np.int64,
            count=len(given),
        )
    bad = (micros == _NAT) | (micros < _LOWEST) | (micros > _HIGHEST)
    if bad.any():
        i = int(np.argmax(bad))
        what = "NaT" if micros[i] == _NAT else "beyond the dates this library can represent"
        msg = f"ended_at[{i}] is {what}"
        raise GuidanceError(msg)
    return micros


def _zone_codes(timezone: object, n: int) -> tuple[list[dt.tzinfo], _Ints]:
    """The distinct zones, checked once each, and each row's index into them."""
    if isinstance(timezone, str | dt.tzinfo):
        return [resolve_timezone(timezone)], np.zeros(n, dtype=np.int64)
    if isinstance(timezone, np.ndarray) and timezone.dtype.kind == "U" and timezone.ndim == 1:
        hashed = _name_codes(timezone) if len(timezone) == n else None
        if hashed is not None:
            codes, first_rows = hashed
            return _resolved([str(timezone[i]) for i in first_rows.tolist()], codes), codes
    if isinstance(timezone, np.ndarray):
        zones_given: Sequence[object] = timezone.tolist()
    elif isinstance(timezone, Sequence):
        zones_given = timezone
    else:
        msg = (
            "timezone must be a zone (an IANA name or a tzinfo) or a sequence of zones, "
            f"not {type(timezone).__name__}"
        )
        raise TypeError(msg)
    if len(zones_given) != n:
        msg = f"timezone has {len(zones_given)} zones for {n} session ends; give one per row"
        raise ValueError(msg)
    # One dictionary look-up a row (a tzinfo is keyed by identity: some, such as
    # dateutil's, cannot be hashed); an array of names holds only str, so no check.
    names = isinstance(timezone, np.ndarray) and timezone.dtype.kind == "U"
    keys = zones_given if names else [z if isinstance(z, str) else id(z) for z in zones_given]
    index: dict[object, int] = {}
    setdefault = index.setdefault
    codes = np.array([setdefault(k, len(index)) for k in keys], dtype=np.int64)
    _, first_rows = np.unique(codes, return_index=True)
    firsts = [zones_given[int(i)] for i in first_rows]  # the first zone given for each code
    return _resolved(firsts, codes), codes


def _resolved(firsts: list[object], codes: _Ints) -> list[dt.tzinfo]:
    """Each code's zone, checked, in code order (the order of first appearance), so the
    first bad zone named is the first one in the rows."""
    resolved: list[dt.tzinfo] = []
    for code, zone in enumerate(firsts):
        try:
            resolved.append(resolve_timezone(zone))
        except (TypeError, GuidanceError) as exc:
            where = int(np.argmax(codes == code))
            msg = f"timezone[{where}]: {exc}"
            raise type(exc)(msg) from None
    return resolved


_HASH_ROWS = 1 << 15


def _name_codes(names: NDArray[np.str_]) -> tuple[_Ints, _Ints] | None:
    """Each row's code, in the order names first appear, and the first row of each: by a
    vectorised hash of the characters, checked exactly; None if two names share a hash
    (then the caller's dictionary does it), so a collision can never merge two zones."""
    width = max(names.dtype.itemsize // 4, 1)  # (NumPy keeps one character even for "")
    chars = np.ascontiguousarray(names).view(np.uint32).reshape(len(names), width)
    powers = np.full(width, 1_000_003, dtype=np.uint64) ** np.arange(width, dtype=np.uint64)
    hashes = np.empty(len(names), dtype=np.uint64)
    for lo in range(0, len(names), _HASH_ROWS):  # in blocks: small temporaries, warm caches
        block = chars[lo : lo + _HASH_ROWS].astype(np.uint64)
        np.matmul(block, powers, out=hashes[lo : lo + _HASH_ROWS])  # wraps modulo 2**64
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    if not np.array_equal(names, names[first][inverse]):
        return None
    order = np.argsort(first, kind="stable")  # codes in the order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    codes: _Ints = rank[inverse].astype(np.int64)
    firsts: _Ints = first[order]
    return codes, firsts


def _offset(micros: int, tz: dt.tzinfo) -> int:
    """The zone's UTC offset (microseconds) at an instant, as ``astimezone`` gives it."""
    if micros % 1_000_000:
        local = _instant(micros).astimezone(tz)
    else:  # whole seconds, the probes' case: the same conversion, made without a timedelta
        local = dt.datetime.fromtimestamp(micros // 1_000_000, tz)
    offset = local.utcoffset()
    if offset is None:  # pragma: no cover (resolve_timezone checked the zone)
        msg = f"time zone {tz!r} gives no UTC offset"
        raise GuidanceError(msg)
    return offset // dt.timedelta(microseconds=1)


def transitions(tz: dt.tzinfo, lo: int, hi: int) -> tuple[_Ints, _Ints]:
    """``(starts, offsets)``: from ``starts[k]`` on (microseconds since the epoch), the
    zone's UTC offset is ``offsets[k]`` microseconds, for every instant in ``[lo, hi]``."""
    probes = [*range(lo, hi, PROBE_STEP), hi]
    starts, offsets = [lo], [_offset(lo, tz)]
    for step_start, after in itertools.pairwise(probes):
        new, low = _offset(after, tz), step_start
        while new != offsets[-1]:
            # The offset changed in (low, after]: find the first microsecond of the
            # change (one change a step; see PROBE_STEP), then look on from there.
            high = _first_change(low, after, offsets[-1], tz)
            starts.append(high)
            offsets.append(_offset(high, tz))
            low = high
    return np.array(starts, dtype=np.int64), np.array(offsets, dtype=np.int64)


def _first_change(low: int, high: int, old: int, tz: dt.tzinfo) -> int:
    """The first instant in ``(low, high]`` whose offset is not ``old``: bisected by whole
    seconds (the tz database's resolution), then by microseconds within the last second."""
    for unit in (1_000_000, 1):
        while high - low > unit:
            mid = low + max(unit, (high - low) // 2 // unit * unit)  # in (low, high)
            if _offset(mid, tz) == old:
                low = mid
            else:
                high = mid
    return high


def _day_runs(days: _Ints) -> list[tuple[int, int]]:
    """Sorted distinct day numbers as runs of consecutive days ``[lo, hi]`` in
    microseconds: offsets are needed there and nowhere else, however sparse the batch."""
    breaks = np.flatnonzero(np.diff(days) > 1)
    firsts = [int(days[0]), *(int(days[b + 1]) for b in breaks)]
    lasts = [*(int(days[b]) for b in breaks), int(days[-1])]
    return [(first * _DAY, (last + 1) * _DAY) for first, last in zip(firsts, lasts, strict=True)]


class _ZoneTable:
    """One zone's offsets over the UTC days asked for so far, read off the zone itself:
    the local dates of the ends, then the wall times of the calendar windows, share it."""

    def __init__(self, tz: dt.tzinfo) -> None:
        self.tz = tz
        self.days: _Ints = np.empty(0, dtype=np.int64)
        self.starts: _Ints = np.empty(0, dtype=np.int64)
        self.offsets: _Ints = np.empty(0, dtype=np.int64)

    def cover(self, instants: _Ints, margin: int = 0) -> None:
        """Make the table cover the UTC days of ``instants``, and ``margin`` days around."""
        days = np.unique(instants // _DAY)
        if margin:
            days = np.unique((days[:, None] + np.arange(-margin, margin + 1)[None, :]).ravel())
        new = np.setdiff1d(days, self.days, assume_unique=True)
        if len(new) == 0:
            return
        tables = [transitions(self.tz, lo, hi) for lo, hi in _day_runs(new)]
        starts = np.concatenate([self.starts, *(t for t, _ in tables)])
        offsets = np.concatenate([self.offsets, *(o for _, o in tables)])
        order = np.argsort(starts, kind="stable")  # runs never overlap: a plain merge
        self.starts, self.offsets = starts[order], offsets[order]
        self.days = np.union1d(self.days, new)

    def offset(self, instants: _Ints) -> _Ints:
        """The offset (microseconds) at each instant, which must lie on a covered day."""
        found: _Ints = self.offsets[np.searchsorted(self.starts, instants, side="right") - 1]
        return found


def _local_days(micros: _Ints, codes: _Ints, tables: list[_ZoneTable]) -> _Ints:
    """Each session's local date in its zone, as days since 1970-01-01."""
    days = np.empty(len(micros), dtype=np.int64)
    for code, table in enumerate(tables):
        rows = np.flatnonzero(codes == code) if len(tables) > 1 else slice(None)
        mine = micros[rows]
        table.cover(mine)
        days[rows] = (mine + table.offset(mine)) // _DAY
    return days


_Slot: TypeAlias = "Callable[[_Ints, _Ints], _Ints]"
# (zone, local date) pairs as one integer: the zone's code times _ZONE plus the date's
# day number shifted to be positive (dates run from -719,162 to 2,932,896 days).
_ZONE = 1 << 32
_DAY_SHIFT = 1 << 31


def _compile(window: Window, calendar_index: Callable[[Window], int]) -> _Slot:
    """One window as a function of the ends and of the calendar lifts (both int64)."""
    if isinstance(window, Immediately):
        return lambda ended, _cal: ended
    if isinstance(window, Never):
        return lambda ended, _cal: np.full_like(ended, _NAT)
    if isinstance(window, Hours):
        try:
            delta = dt.timedelta(hours=window.hours) // dt.timedelta(microseconds=1)
        except OverflowError:  # more hours than a timedelta holds: never lifts
            delta = _LAST - _LOWEST + 1
        if delta <= 0:  # the engine never lifts before the session ends
            return lambda ended, _cal: ended
        if delta > _LAST - _LOWEST:
            return lambda ended, _cal: np.full_like(ended, _NAT)
        return lambda ended, _cal: np.where(ended > _LAST - delta, _NAT, ended + delta)
    if isinstance(window, LatestOf):
        parts = [_compile(w, calendar_index) for w in window.windows]

        def latest(ended: _Ints, cal: _Ints) -> _Ints:
            found = ended
            for part in parts:
                lift = part(ended, cal)
                found = np.where((found == _NAT) | (lift == _NAT), _NAT, np.maximum(found, lift))
            return found

        return latest
    assert isinstance(window, NextDay | DayAt | EndOfDay)  # noqa: S101  (a closed union)
    i = calendar_index(window)

    def calendar(ended: _Ints, cal: _Ints) -> _Ints:
        lift = cal[:, i]
        return np.where(lift == _NAT, _NAT, np.maximum(lift, ended))

    return calendar


def lift_columns(
    ended_at: object, timezone: object, ruleset: Ruleset, compiled: Compiled
) -> tuple[_Ints, tuple[_Ints, ...]]:
    """The ends (int64 microseconds, UTC) and one int64 column per rule, ``_NAT`` for never."""
    micros = to_instants(ended_at)
    zones, codes = _zone_codes(timezone, len(micros))
    if len(micros) == 0:
        return micros, tuple(np.empty(0, dtype=np.int64) for _ in ruleset.rules)
    tables = [_ZoneTable(tz) for tz in zones]
    days = _local_days(micros, codes, tables)
    if ruleset.effective_from is not None:
        early = days < (ruleset.effective_from - _EPOCH_DAY).days
        if early.any():
            i = int(np.argmax(early))
            local_day = _EPOCH_DAY + dt.timedelta(days=int(days[i]))
            msg = (
                f"ruleset {ruleset.id!r} takes effect on {ruleset.effective_from}, after "
                f"ended_at[{i}] ended ({local_day}, the patient's local date)"
            )
            raise RulesetNotInEffectError(msg)
    # The calendar lifts, once per distinct (zone, local date).
    pairs, inverse = np.unique(codes * _ZONE + (days + _DAY_SHIFT), return_inverse=True)
    cal = _calendar_table(pairs, tables, compiled)[inverse.reshape(-1)]
    windows = compiled.calendar_windows
    slots = {w: _compile(w, windows.index) for w in dict.fromkeys(compiled.effective)}
    computed = {w: slot(micros, cal) for w, slot in slots.items()}
    return micros, tuple(computed[w] for w in compiled.effective)


def _calendar_table(pairs: _Ints, tables: list[_ZoneTable], compiled: Compiled) -> _Ints:
    """Each calendar window's instant (``_NAT``: none) for each (zone, local date) pair.

    A calendar window lifts at a wall time: a number of days after the local date, at a
    time of day.  Its instant is worked out from the zone's transition table, as the
    engine's :func:`~ketamine_guidance._engine.windows.latest_instant` works it out from
    the zone (the same five probes, the latest exact reading, in a gap the offset before
    it); pairs within a few days of the last or first date a datetime holds are left to
    the engine itself, which knows what cannot be represented.
    """
    windows = compiled.calendar_windows
    table = np.full((len(pairs), max(len(windows), 1)), _NAT, dtype=np.int64)
    pair_codes, shifted = np.divmod(pairs, _ZONE)
    local_days = shifted - _DAY_SHIFT
    for code, zone in enumerate(tables):
        tz = zone.tz
        rows = np.flatnonzero(pair_codes == code)
        if len(rows) == 0:  # pragma: no cover (every zone given has a row)
            continue
        for j, window in enumerate(windows):
            day, at = _day_and_time(window, compiled.next_day_begins)
            if abs(day) <= _SPAN_DAYS:  # else (a hand-built window) int64 would wrap
                walls = (local_days[rows] + day) * _DAY + at
                inside = (walls > _LOWEST + _MARGIN) & (walls < _HIGHEST - _MARGIN)
            else:
                walls, inside = local_days[rows], np.zeros(len(rows), dtype=bool)
            table[rows[inside], j] = _latest_instants(walls[inside], zone)
            for k in rows[~inside].tolist():  # near the ends of time: the engine decides
                local_day = _EPOCH_DAY + dt.timedelta(days=int(local_days[k]))
                lift = lift_instant(window, _DAWN, local_day, tz, compiled.next_day_begins)
                table[k, j] = _NAT if lift is None else _micros(lift)
    return table


# How far from a wall time the engine looks for offsets (its probes, +-48 hours), with
# room for an offset of up to a day: the span each wall time's transition table covers.
_PROBES = np.array([h * 3_600_000_000 for h in (-48, -24, 0, 24, 48)], dtype=np.int64)
_MARGIN = 3 * _DAY
_SPAN_DAYS = (dt.date.max - dt.date.min).days  # more days than that leave every date
_DAWN = dt.datetime.min.replace(tzinfo=UTC)


def _day_and_time(window: Window, next_day_begins: dt.time) -> tuple[int, int]:
    """A calendar window's days after the local date and its time of day (microseconds)."""
    day, at = calendar_wall(window, next_day_begins)
    clock = dt.timedelta(hours=at.hour, minutes=at.minute, seconds=at.second)
    return day, (clock + dt.timedelta(microseconds=at.microsecond)) // dt.timedelta(microseconds=1)


def _latest_instants(walls: _Ints, zone: _ZoneTable) -> _Ints:
    """The latest instant each naive wall time (microseconds) can mean in the zone."""
    if len(walls) == 0:
        return walls
    zone.cover(walls, margin=3)  # the probes reach 48 hours, the offsets under a day
    offset = zone.offset
    candidates = walls[None, :] - offset(walls[None, :] + _PROBES[:, None])
    readings = candidates + offset(candidates)
    lowest = np.iinfo(np.int64).min
    exact = np.where(readings == walls, candidates, lowest).max(axis=0)
    before = np.where(readings < walls, candidates, lowest).max(axis=0)
    # In a gap no reading is exact: the wall time read with the offset before the gap.
    gap: _Ints = walls - offset(np.where(before == lowest, walls, before))
    result: _Ints = np.where(exact != lowest, exact, gap)
    return result


def to_datetimes(column: _Ints) -> tuple[dt.datetime | None, ...]:
    """An int64 column as aware UTC datetimes, None for never."""
    return tuple(None if m == _NAT else _instant(m) for m in column.tolist())
