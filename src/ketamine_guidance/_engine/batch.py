"""Lift instants for many sessions at once: a columnar batch, without a plan per session.

``plan_for(session).timeline()`` builds an :class:`AftercarePlan` and a
:class:`TimelineEntry` per rule, which costs tens of microseconds a session.  A nightly
job over a clinic's whole history needs only the instants, so :func:`lift_times` works
out each rule's ``permitted_from_utc`` straight from the time engine, as plain tuples.

It is fast because each window is compiled once (:mod:`~ketamine_guidance._engine.lifts`):
a calendar window's instant depends only on the zone and the local date on which the
session ended, so it is resolved once per (zone, local date) for the whole batch, and
``immediately`` and ``hours`` are one addition to the session's end in UTC.

Every instant is the engine's own (:func:`~ketamine_guidance._engine.windows.lift_instant`), so
the table equals the plans' timelines exactly; a test checks that over every zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast, overload

from attrs import frozen

from ketamine_guidance._engine.lifts import Compiled, Row, compiled
from ketamine_guidance._engine.session import Session, ensure_aware, resolve_timezone
from ketamine_guidance._engine.windows import UTC
from ketamine_guidance._errors import (
    MissingExtraError,
    RulesetNotInEffectError,
    UnknownActivityError,
)
from ketamine_guidance._rules.ruleset import Ruleset, default_ruleset

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["LiftColumns", "LiftTable", "lift_times"]


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
        j = _column_index(self.activities, activity)
        return tuple(row[j] for row in self.rows)

    def to_arrow(self) -> Any:
        """The table as a PyArrow table: ``ended_at`` (UTC), ``timezone`` (the IANA name,
        or null) and one ``timestamp[us, tz=UTC]`` column per activity (null: never).

        Needs PyArrow (``pip install pyarrow``); without it raises
        :class:`~ketamine_guidance.MissingExtraError`.

        .. versionadded:: 0.2.0
        """
        pa = _optional("pyarrow", "to_arrow")
        stamp = pa.timestamp("us", tz="UTC")
        data: dict[str, Any] = {
            "ended_at": pa.array([s.ended_at_utc for s in self.sessions], type=stamp),
            "timezone": pa.array([s.zone_name for s in self.sessions], type=pa.string()),
        }
        for j, activity in enumerate(self.activities):
            data[activity] = pa.array([row[j] for row in self.rows], type=stamp)
        return pa.table(data)

    def to_pandas(self) -> Any:
        """The table as a pandas DataFrame, with the columns of :meth:`to_arrow`
        (``datetime64[us, UTC]``, NaT for never).

        Needs pandas; without it raises :class:`~ketamine_guidance.MissingExtraError`.

        .. versionadded:: 0.2.0
        """
        pd = _optional("pandas", "to_pandas")
        data: dict[str, Any] = {
            "ended_at": [s.ended_at_utc for s in self.sessions],
            "timezone": [s.zone_name for s in self.sessions],
        }
        for j, activity in enumerate(self.activities):
            data[activity] = [row[j] for row in self.rows]
        frame = pd.DataFrame(data)
        for name in ("ended_at", *self.activities):
            frame[name] = pd.to_datetime(frame[name], utc=True).astype("datetime64[us, UTC]")
        return frame


def _optional(module: str, what: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        msg = f"{what} needs {module}: pip install {module}"
        raise MissingExtraError(msg) from None


def _column_index(activities: tuple[str, ...], activity: str) -> int:
    try:
        return activities.index(activity)
    except ValueError:
        text = activity if isinstance(activity, str) else repr(activity)
        import difflib  # on first use: only an unknown activity needs it

        close = difflib.get_close_matches(text, activities, n=3, cutoff=0.5)
        raise UnknownActivityError(text, activities, suggestions=close) from None


@frozen(eq=False)
class LiftColumns:
    """Lift instants for a batch given as columns: one column per activity of the ruleset.

    ``column(activity)[i]`` is the instant (UTC) from which the activity is permitted
    after the ``i``-th session end given to :func:`lift_times`, the same instant as
    ``permitted_from_utc`` in that session's plan timeline; None means never.  With NumPy
    the columns stay arrays until asked for: :meth:`array` gives one as
    ``datetime64[us]`` (``NaT``: never) without making a datetime per row.

    Make one with ``lift_times(ended_at=..., timezone=...)``.

    .. versionadded:: 0.2.0
    """

    activities: tuple[str, ...]
    _ended: Any  # int64 microseconds (NumPy) or a tuple of datetimes (without NumPy)
    _lifts: tuple[Any, ...]

    def __len__(self) -> int:
        """The number of sessions."""
        return len(self._ended)

    def column(self, activity: str) -> tuple[dt.datetime | None, ...]:
        """One activity's lift instants as aware UTC datetimes (None: never), in row order.

        Raises :class:`~ketamine_guidance.UnknownActivityError` for an activity the
        ruleset does not know.
        """
        lifts = self._lifts[_column_index(self.activities, activity)]
        if isinstance(lifts, tuple):
            return lifts  # pyright: ignore[reportUnknownVariableType]
        from ketamine_guidance._engine.columns import to_datetimes

        return to_datetimes(lifts)

    def array(self, activity: str) -> NDArray[np.datetime64]:
        """One activity's lift instants as a NumPy ``datetime64[us]`` array in UTC, with
        ``NaT`` where the restriction never lifts.  Needs NumPy (the ``batch`` extra)."""
        return self._array(self._lifts[_column_index(self.activities, activity)])

    def _array(self, values: Any) -> NDArray[np.datetime64]:
        numpy = _optional("numpy", "LiftColumns.array")
        if isinstance(values, tuple):  # pragma: no cover (only without NumPy, and then not here)
            values = numpy.array(values, dtype="datetime64[us]")
        result: NDArray[np.datetime64] = values.view("datetime64[us]")
        return result

    def to_arrow(self) -> Any:
        """The columns as a PyArrow table: ``ended_at`` and one ``timestamp[us, tz=UTC]``
        column per activity (null: never).  Needs PyArrow and NumPy.

        .. versionadded:: 0.2.0
        """
        pa = _optional("pyarrow", "to_arrow")
        stamp = pa.timestamp("us", tz="UTC")
        data: dict[str, Any] = {"ended_at": pa.array(self._array(self._ended)).cast(stamp)}
        for activity, lifts in zip(self.activities, self._lifts, strict=True):
            data[activity] = pa.array(self._array(lifts)).cast(stamp)
        return pa.table(data)

    def to_pandas(self) -> Any:
        """The columns as a pandas DataFrame (``datetime64[us, UTC]``, NaT for never).
        Needs pandas.

        .. versionadded:: 0.2.0
        """
        pd = _optional("pandas", "to_pandas")
        data = {"ended_at": self._array(self._ended)}
        data.update({a: self._array(v) for a, v in zip(self.activities, self._lifts, strict=True)})
        frame = pd.DataFrame(data)
        for name in data:
            frame[name] = frame[name].dt.tz_localize("UTC")
        return frame


@overload
def lift_times(sessions: Iterable[Session], ruleset: Ruleset | None = None) -> LiftTable: ...


@overload
def lift_times(
    sessions: None = None,
    ruleset: Ruleset | None = None,
    *,
    ended_at: Sequence[dt.datetime] | NDArray[np.datetime64],
    timezone: str | dt.tzinfo | Sequence[str | dt.tzinfo] | NDArray[np.str_],
) -> LiftColumns: ...


def lift_times(
    sessions: Iterable[Session] | None = None,
    ruleset: Ruleset | None = None,
    *,
    ended_at: object = None,
    timezone: object = None,
) -> LiftTable | LiftColumns:
    """Every rule's lift instant for many sessions at once.

    For each session, in the order given, and each rule of ``ruleset`` (None: the default
    ruleset), in ruleset order: the instant in UTC from which the activity is permitted,
    exactly as ``plan_for(session, ruleset).timeline()`` gives it without overrides, or
    None where the restriction never lifts.  A batch takes no overrides: apply a
    clinician's override with :meth:`AftercarePlan.with_override` on that session's plan.

    Give the sessions one of two ways:

    * ``sessions``: :class:`Session` objects; the answer is a :class:`LiftTable`, one row
      per session.
    * ``ended_at`` and ``timezone``, as columns, without making a ``Session`` per row:
      ``ended_at`` is a sequence of aware datetimes or a NumPy ``datetime64`` array (read
      as UTC), and ``timezone`` one zone for every row or one zone per row (IANA names
      or tzinfos).  The answer is a :class:`LiftColumns`, one column per rule.  With the
      ``batch`` extra (NumPy) installed the work is vectorised: see
      :doc:`/how-to/batch`.

    A ruleset that takes effect after a session's local date raises
    :class:`~ketamine_guidance.RulesetNotInEffectError`, as :func:`plan_for` does,
    naming the session's position.

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
    >>> columns = lift_times(
    ...     ended_at=[dt.datetime(2026, 3, 7, 23, 30, tzinfo=utc)] * 2,
    ...     timezone=["America/New_York", "Asia/Tokyo"],
    ... )
    >>> [lift.isoformat() for lift in columns.column("driving")]
    ['2026-03-08T10:00:00+00:00', '2026-03-08T21:00:00+00:00']

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0 ``ended_at`` and ``timezone`` columns.
    """
    if ruleset is None:
        ruleset = default_ruleset()
    elif not isinstance(ruleset, Ruleset):
        msg = f"ruleset must be a Ruleset, not {type(ruleset).__name__}"
        raise TypeError(msg)
    if sessions is None:
        if ended_at is None or timezone is None:
            msg = "give sessions, or both ended_at and timezone as columns"
            raise TypeError(msg)
        return _columns(ended_at, timezone, ruleset)
    if ended_at is not None or timezone is not None:
        msg = "give sessions, or ended_at and timezone as columns, not both"
        raise TypeError(msg)
    if isinstance(sessions, Session | str | bytes):
        msg = "sessions must be an iterable of Sessions; for one session use plan_for"
        raise TypeError(msg)
    try:
        given = tuple(sessions)
    except TypeError:
        msg = f"sessions must be an iterable of Sessions, not {type(sessions).__name__}"
        raise TypeError(msg) from None
    rows = _rows(_session_pairs(given), compiled(ruleset), ruleset)
    return LiftTable(tuple(r.activity for r in ruleset.rules), given, rows)


def _session_pairs(sessions: tuple[Session, ...]) -> Iterator[tuple[dt.datetime, dt.tzinfo]]:
    for i, session in enumerate(sessions):
        if not isinstance(session, Session):
            msg = f"sessions[{i}] must be a Session, not {type(session).__name__}"
            raise TypeError(msg)
        yield session.ended_at_utc, session.timezone


def _rows(
    pairs: Iterable[tuple[dt.datetime, dt.tzinfo]],
    made: Compiled,
    ruleset: Ruleset,
    where: str = "sessions",
) -> tuple[Row, ...]:
    """One row per (end in UTC, zone), in order; ``where`` names the input in errors."""
    effective_from = ruleset.effective_from
    slots, row, calendar = made.slots, made.row, made.calendar
    # The calendar lifts per (zone, local date).  Zones are keyed by identity, which also
    # serves tzinfos that cannot be hashed; ``zones`` keeps each one alive meanwhile.
    by_zone: dict[int, dict[dt.date, tuple[dt.datetime | None, ...]]] = {}
    zones: list[dt.tzinfo] = []
    rows: list[Row] = []
    append = rows.append
    for i, (ended, tz) in enumerate(pairs):
        local_day = ended.astimezone(tz).date()
        if effective_from is not None and local_day < effective_from:
            msg = (
                f"ruleset {ruleset.id!r} takes effect on {effective_from}, after "
                f"{where}[{i}] ended ({local_day}, the patient's local date)"
            )
            raise RulesetNotInEffectError(msg)
        days_of_zone = by_zone.get(id(tz))
        if days_of_zone is None:
            days_of_zone = by_zone[id(tz)] = {}
            zones.append(tz)
        days = days_of_zone.get(local_day)
        if days is None:
            days = days_of_zone[local_day] = calendar(local_day, tz)
        append(row([slot(ended, days, tz) for slot in slots]))
    return tuple(rows)


def _columns(ended_at: object, timezone: object, ruleset: Ruleset) -> LiftColumns:
    activities = tuple(r.activity for r in ruleset.rules)
    made = compiled(ruleset)
    try:
        from ketamine_guidance._engine import columns
    except ImportError:  # no NumPy: the same answers, one row at a time
        pairs = list(_column_pairs(ended_at, timezone))
        rows = _rows(pairs, made, ruleset, "ended_at")
        ends = tuple(ended for ended, _ in pairs)
        lifts = tuple(tuple(row[j] for row in rows) for j in range(len(activities)))
        return LiftColumns(activities, ends, lifts)
    ends_us, arrays = columns.lift_columns(ended_at, timezone, ruleset, made)
    return LiftColumns(activities, ends_us, arrays)


def _column_pairs(ended_at: object, timezone: object) -> Iterator[tuple[dt.datetime, dt.tzinfo]]:
    """(end in UTC, zone) per row from columns, without NumPy."""
    if isinstance(ended_at, str | bytes) or not isinstance(ended_at, Sequence):
        msg = f"ended_at must be a sequence of aware datetimes, not {type(ended_at).__name__}"
        raise TypeError(msg)
    ends = cast("Sequence[object]", ended_at)
    if isinstance(timezone, str | dt.tzinfo):
        zones: Sequence[object] = [timezone] * len(ends)
    elif isinstance(timezone, Sequence) and not isinstance(timezone, bytes):
        zones = cast("Sequence[object]", timezone)
    else:
        msg = (
            "timezone must be a zone (an IANA name or a tzinfo) or a sequence of zones, "
            f"not {type(timezone).__name__}"
        )
        raise TypeError(msg)
    if len(zones) != len(ends):
        msg = f"timezone has {len(zones)} zones for {len(ends)} session ends; give one per row"
        raise ValueError(msg)
    for i, (ended, zone) in enumerate(zip(ends, zones, strict=True)):
        yield ensure_aware(ended, f"ended_at[{i}]").astimezone(UTC), resolve_timezone(zone)
