"""lift_times from columns: the NumPy path, the pure-Python path and the plans agree."""

from __future__ import annotations

import datetime as dt
import sys
import zoneinfo

import attrs
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketamine_guidance import (
    DayAt,
    EndOfDay,
    GuidanceError,
    Hours,
    LatestOf,
    LiftColumns,
    MissingExtraError,
    Never,
    NextDay,
    Ruleset,
    RulesetNotInEffectError,
    Session,
    UnknownActivityError,
    UnknownTimezoneError,
    default_ruleset,
    lift_times,
    plan_for,
)
from ketamine_guidance._engine.columns import PROBE_STEP, transitions
from tests.strategies import instants, valid_rulesets, zone_names
from tests.test_batch import ruleset

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


def _us(moment: dt.datetime) -> int:
    return (moment - EPOCH) // dt.timedelta(microseconds=1)


def _plans(
    ends: list[dt.datetime], zones: list[str], rules: Ruleset | None
) -> list[dict[str, object]]:
    return [
        {e.activity: e.permitted_from_utc for e in plan_for(Session(end, zone), rules).timeline()}
        for end, zone in zip(ends, zones, strict=True)
    ]


def _without_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if NumPy were not installed: the vectorised module cannot be imported."""
    import ketamine_guidance._engine

    monkeypatch.setitem(sys.modules, "ketamine_guidance._engine.columns", None)
    monkeypatch.delattr(ketamine_guidance._engine, "columns", raising=False)


def _assert_columns_equal_plans(
    columns: LiftColumns, expected: list[dict[str, object]], activities: tuple[str, ...]
) -> None:
    assert columns.activities == activities
    assert len(columns) == len(expected)
    for activity in activities:
        assert list(columns.column(activity)) == [row[activity] for row in expected], activity


@given(
    st.lists(st.tuples(instants, zone_names), min_size=1, max_size=8),
    st.one_of(st.none(), valid_rulesets),
)
def test_every_path_gives_the_plans_instants(
    rows: list[tuple[dt.datetime, str]], rules: Ruleset | None
):
    rules = None if rules is None else attrs.evolve(rules, effective_from=None)
    ends = [end for end, _ in rows]
    zones = [zone for _, zone in rows]
    expected = _plans(ends, zones, rules)
    activities = (rules or default_ruleset()).activities
    as_datetimes = lift_times(ended_at=ends, timezone=zones, ruleset=rules)
    as_numpy = lift_times(
        ended_at=np.array([e.replace(tzinfo=None) for e in ends], dtype="datetime64[us]"),
        timezone=np.array(zones),
        ruleset=rules,
    )
    as_sessions = lift_times([Session(e, z) for e, z in rows], rules)
    for columns in (as_datetimes, as_numpy):
        _assert_columns_equal_plans(columns, expected, activities)
    for activity in activities:
        assert as_sessions.column(activity) == as_datetimes.column(activity)


@given(st.lists(st.tuples(instants, zone_names), min_size=0, max_size=6), valid_rulesets)
def test_the_pure_python_path_without_numpy_agrees(
    rows: list[tuple[dt.datetime, str]], rules: Ruleset
):
    rules = attrs.evolve(rules, effective_from=None)
    ends = [end for end, _ in rows]
    zones = [zone for _, zone in rows]
    with pytest.MonkeyPatch.context() as mp:
        _without_numpy(mp)
        columns = lift_times(ended_at=ends, timezone=zones, ruleset=rules)
    expected = _plans(ends, zones, rules)
    _assert_columns_equal_plans(columns, expected, rules.activities)
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "numpy", None)
        with pytest.raises(MissingExtraError, match="needs numpy"):
            columns.array(rules.activities[0])


@pytest.mark.parametrize(
    ("local_end", "zone"),
    [
        (dt.datetime(2026, 3, 7, 23, 30), "America/New_York"),  # the night of spring forward
        (dt.datetime(2026, 10, 31, 23, 30), "America/New_York"),  # the night of the fold
        (dt.datetime(2026, 4, 4, 23, 45), "Australia/Lord_Howe"),  # half-hour change
        (dt.datetime(2011, 12, 29, 22, 0), "Pacific/Apia"),  # the skipped 30 December
        (dt.datetime(2026, 11, 25, 18, 30), "Asia/Kathmandu"),  # +05:45
        (dt.datetime(2026, 9, 5, 23, 0), "America/Santiago"),  # the change at midnight
    ],
)
def test_named_dst_cases_agree_with_the_plans(local_end: dt.datetime, zone: str):
    tz = zoneinfo.ZoneInfo(zone)
    end = local_end.replace(tzinfo=tz).astimezone(UTC)
    rules = ruleset(NextDay(), EndOfDay(), DayAt(2, dt.time(2, 30)), Hours(24), Never())
    columns = lift_times(
        ended_at=np.array([np.datetime64(end.replace(tzinfo=None), "us")]),
        timezone=zone,
        ruleset=rules,
    )
    _assert_columns_equal_plans(columns, _plans([end], [zone], rules), rules.activities)


def test_a_unit_finer_than_a_microsecond_rounds_up_so_nothing_lifts_early():
    end = np.array(["2026-11-25T23:30:00.000000001"], dtype="datetime64[ns]")
    columns = lift_times(ended_at=end, timezone="America/New_York", ruleset=ruleset(Hours(1)))
    (lift,) = columns.column("a0")
    assert lift == dt.datetime(2026, 11, 26, 0, 30, 0, 1, tzinfo=UTC)


def test_the_arrays_hold_nat_for_never_and_convert_to_arrow_and_pandas():
    ends = [
        dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC),
        dt.datetime(2026, 7, 1, 2, 0, tzinfo=UTC),
    ]
    zones = ["America/New_York", "Europe/London"]
    rules = ruleset(NextDay(), Never(), LatestOf((NextDay(), Hours(8))))
    columns = lift_times(ended_at=ends, timezone=zones, ruleset=rules)
    never = columns.array("a1")
    assert never.dtype == np.dtype("datetime64[us]")
    assert np.isnat(never).all()
    table = columns.to_arrow()
    assert table.schema.field("a0").type == pa.timestamp("us", tz="UTC")
    assert table.column("ended_at").to_pylist() == ends
    assert table.column("a0").to_pylist() == list(columns.column("a0"))
    assert table.column("a1").to_pylist() == [None, None]
    frame = columns.to_pandas()
    assert list(frame.columns) == ["ended_at", "a0", "a1", "a2"]
    assert str(frame["a2"].dtype) == "datetime64[us, UTC]"
    assert [t.to_pydatetime() for t in frame["a2"]] == list(columns.column("a2"))
    assert frame["a1"].isna().all()


def test_a_lift_table_converts_to_arrow_and_pandas():
    sessions = [
        Session(dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC), "America/New_York"),
        Session(dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC), "Asia/Tokyo"),
    ]
    rules = ruleset(NextDay(), Never())
    table = lift_times(sessions, rules)
    arrow = table.to_arrow()
    assert arrow.column("timezone").to_pylist() == ["America/New_York", "Asia/Tokyo"]
    assert arrow.column("a0").to_pylist() == list(table.column("a0"))
    assert arrow.column("a1").to_pylist() == [None, None]
    frame = table.to_pandas()
    assert [t.to_pydatetime() for t in frame["a0"]] == list(table.column("a0"))
    assert str(frame["ended_at"].dtype) == "datetime64[us, UTC]"
    assert frame["a1"].isna().all()


@pytest.mark.parametrize("module", ["pyarrow", "pandas"])
def test_the_optional_converters_say_what_to_install(module: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, module, None)
    columns = lift_times(ended_at=[dt.datetime(2026, 1, 1, tzinfo=UTC)], timezone="UTC")
    table = lift_times([Session(dt.datetime(2026, 1, 1, tzinfo=UTC), "UTC")])
    method = "to_arrow" if module == "pyarrow" else "to_pandas"
    for target in (columns, table):
        with pytest.raises(MissingExtraError, match=f"needs {module}: pip install {module}"):
            getattr(target, method)()


def test_an_unknown_activity_is_refused_with_suggestions():
    columns = lift_times(ended_at=[dt.datetime(2026, 1, 1, tzinfo=UTC)], timezone="UTC")
    with pytest.raises(UnknownActivityError, match="did you mean 'driving'"):
        columns.column("drivng")
    with pytest.raises(UnknownActivityError):
        columns.array("drivng")


def test_hours_past_the_last_representable_instant_never_lift():
    end = [dt.datetime(9990, 1, 1, tzinfo=UTC)]
    rules = ruleset(Hours(24 * 366 * 20), Hours(10.0**30), Hours(0.000001), Hours(-5))
    columns = lift_times(ended_at=end, timezone="UTC", ruleset=rules)
    assert columns.column("a0") == (None,)
    assert columns.column("a1") == (None,)
    assert columns.column("a2") == (end[0] + dt.timedelta(milliseconds=3.6),)
    assert columns.column("a3") == (end[0],)  # a hand-built negative window: at the end
    _assert_columns_equal_plans(columns, _plans(end, ["UTC"], rules), rules.activities)


def test_calendar_windows_near_the_last_date_and_far_past_it_are_the_engines() -> None:
    """Wall times too close to datetime.max for the transition table, and a hand-built
    window days past every date, are answered as the plans answer them: never."""
    ends = [dt.datetime(9999, 12, 26, 12, tzinfo=UTC), dt.datetime(2026, 3, 7, 23, tzinfo=UTC)]
    zones = ["Asia/Tokyo", "America/New_York"]
    far = DayAt(day=10**7, at=dt.time(6))  # the loader refuses it; code may build it
    rules = ruleset(NextDay(), EndOfDay(), DayAt(day=2, at=dt.time(9)), far)
    columns = lift_times(ended_at=ends, timezone=zones, ruleset=rules)
    _assert_columns_equal_plans(columns, _plans(ends, zones, rules), rules.activities)
    assert columns.column("a3") == (None, None)
    assert columns.column("a0")[0] is not None  # 06:00 on the 27th in Tokyo still exists


@pytest.mark.parametrize(
    ("ended_at", "timezone", "error", "message"),
    [
        ("2026-01-01", "UTC", TypeError, "ended_at must be a sequence of aware datetimes"),
        (5, "UTC", TypeError, "ended_at must be a sequence"),
        ([dt.datetime(2026, 1, 1)], "UTC", GuidanceError, r"ended_at\[0\] is naive"),
        ([dt.datetime(2026, 1, 1, tzinfo=UTC), "x"], "UTC", TypeError, r"ended_at\[1\] must be"),
        (np.array([1, 2]), "UTC", TypeError, "1-D datetime64 array, not int64"),
        (np.array([["2026-01-01"]], dtype="datetime64[D]"), "UTC", TypeError, "of 2 D"),
        (np.array(["NaT"], dtype="datetime64[us]"), "UTC", GuidanceError, r"ended_at\[0\] is NaT"),
        (
            np.array(["0001-01-01"], dtype="datetime64[us]"),
            "UTC",
            GuidanceError,
            "beyond the dates this library can represent",
        ),
        ([dt.datetime(2026, 1, 1, tzinfo=UTC)], ["UTC", "UTC"], ValueError, "2 zones for 1"),
        ([dt.datetime(2026, 1, 1, tzinfo=UTC)], 5, TypeError, "timezone must be a zone"),
        (
            [dt.datetime(2026, 1, 1, tzinfo=UTC)] * 2,
            ["UTC", "Mars/Base"],
            UnknownTimezoneError,
            r"timezone\[1\]: unknown time zone",
        ),
    ],
)
def test_bad_columns_get_clear_errors(
    ended_at: object, timezone: object, error: type[Exception], message: str
):
    with pytest.raises(error, match=message):
        lift_times(ended_at=ended_at, timezone=timezone)  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("ended_at", "timezone", "error", "message"),
    [
        ("2026-01-01", "UTC", TypeError, "ended_at must be a sequence of aware datetimes"),
        ([dt.datetime(2026, 1, 1)], "UTC", GuidanceError, r"ended_at\[0\] is naive"),
        ([dt.datetime(2026, 1, 1, tzinfo=UTC)], ["UTC", "UTC"], ValueError, "2 zones for 1"),
        ([dt.datetime(2026, 1, 1, tzinfo=UTC)], 5, TypeError, "timezone must be a zone"),
        ([dt.datetime(2026, 1, 1, tzinfo=UTC)], ["Mars/Base"], UnknownTimezoneError, "unknown"),
    ],
)
def test_bad_columns_get_the_same_errors_without_numpy(
    ended_at: object,
    timezone: object,
    error: type[Exception],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
):
    _without_numpy(monkeypatch)
    with pytest.raises(error, match=message):
        lift_times(ended_at=ended_at, timezone=timezone)  # type: ignore[call-overload]


def test_sessions_and_columns_are_one_or_the_other():
    end = [dt.datetime(2026, 1, 1, tzinfo=UTC)]
    with pytest.raises(TypeError, match="give sessions, or both ended_at and timezone"):
        lift_times(ended_at=end)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="not both"):
        lift_times([Session(end[0], "UTC")], ended_at=end, timezone="UTC")  # type: ignore[call-overload]


def test_a_ruleset_not_yet_in_effect_names_the_row():
    rules = attrs.evolve(ruleset(NextDay()), effective_from=dt.date(2026, 6, 1))
    ends = [dt.datetime(2026, 7, 1, tzinfo=UTC), dt.datetime(2026, 5, 31, 12, tzinfo=UTC)]
    for numpy in (True, False):
        with pytest.MonkeyPatch.context() as mp:
            if not numpy:
                _without_numpy(mp)
            with pytest.raises(RulesetNotInEffectError, match=r"after ended_at\[1\] ended"):
                lift_times(ended_at=ends, timezone="Europe/London", ruleset=rules)


def test_one_tzinfo_for_every_row_and_tzinfos_per_row():
    ny = zoneinfo.ZoneInfo("America/New_York")
    ends = [dt.datetime(2026, 3, 8, 3, tzinfo=UTC), dt.datetime(2026, 3, 8, 12, tzinfo=UTC)]
    one = lift_times(ended_at=ends, timezone=ny)
    each = lift_times(ended_at=ends, timezone=[ny, ny])
    assert one.column("driving") == each.column("driving")
    _assert_columns_equal_plans(one, _plans(ends, ["America/New_York"] * 2, None), one.activities)


@given(zone_names, instants, st.integers(0, 400))
def test_the_transition_table_gives_the_zones_own_offsets(zone: str, start: dt.datetime, days: int):
    tz = zoneinfo.ZoneInfo(zone)
    lo = _us(start)
    hi = lo + days * 86_400_000_000
    starts, offsets = transitions(tz, lo, hi)
    assert starts[0] == lo
    assert (np.diff(starts) > 0).all()
    for k in range(len(starts)):
        at = EPOCH + dt.timedelta(microseconds=int(starts[k]))
        offset = at.astimezone(tz).utcoffset()
        assert offset is not None
        assert offset // dt.timedelta(microseconds=1) == offsets[k]
        if k:  # each start is the first microsecond of the new offset
            before = (at - dt.timedelta(microseconds=1)).astimezone(tz).utcoffset()
            assert before is not None
            assert before // dt.timedelta(microseconds=1) == offsets[k - 1]
    assert PROBE_STEP == 6 * 3_600_000_000


def test_no_rows_give_empty_columns_and_a_ruleset_in_effect_answers():
    empty = lift_times(ended_at=np.array([], dtype="datetime64[us]"), timezone=[])
    assert len(empty) == 0
    assert empty.column("driving") == ()
    assert len(empty.array("driving")) == 0
    rules = attrs.evolve(ruleset(NextDay()), effective_from=dt.date(2026, 6, 1))
    ends = [dt.datetime(2026, 7, 1, tzinfo=UTC)]
    columns = lift_times(ended_at=ends, timezone="Europe/London", ruleset=rules)
    assert columns.column("a0") == (dt.datetime(2026, 7, 2, 5, tzinfo=UTC),)


class _SubSecondChange(dt.tzinfo):
    """A made-up zone whose offset goes from 0 to +1 h half a second after a whole second."""

    change = dt.datetime(2026, 6, 1, 12, 0, 0, 500_000, tzinfo=UTC)
    _naive = change.replace(tzinfo=None)

    def utcoffset(self, moment: dt.datetime | None) -> dt.timedelta:
        assert moment is not None
        wall = moment.replace(tzinfo=None)
        return dt.timedelta(hours=1 if wall >= self._naive + dt.timedelta(hours=1) else 0)

    def dst(self, _moment: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(0)

    def tzname(self, _moment: dt.datetime | None) -> str:
        return "Made-up"

    def fromutc(self, moment: dt.datetime) -> dt.datetime:
        utc = moment.replace(tzinfo=None)
        offset = dt.timedelta(hours=1 if utc >= self._naive else 0)
        return (utc + offset).replace(tzinfo=self)


def test_a_change_between_whole_seconds_is_found_to_the_microsecond():
    tz = _SubSecondChange()
    lo = _us(dt.datetime(2026, 6, 1, tzinfo=UTC))
    starts, offsets = transitions(tz, lo, lo + 86_400_000_000)
    assert starts.tolist() == [lo, _us(_SubSecondChange.change)]
    assert offsets.tolist() == [0, 3_600_000_000]
    # A second change within the same probe step, off the whole seconds, is found too.
    starts, _ = transitions(tz, lo + 1, lo + 86_400_000_000)
    assert starts.tolist()[-1] == _us(_SubSecondChange.change)


US = dt.timedelta(microseconds=1)


def test_wall_times_around_every_clock_change_resolve_as_the_engine_resolves_them() -> None:
    """Every zone's changes of offset in 1990-2040 (gaps, folds, Apia's skipped day):
    wall times on both sides of each, and inside it, read from the transition table give
    the engine's own latest instant, to the microsecond."""
    from ketamine_guidance._engine import columns
    from ketamine_guidance._engine.windows import latest_instant
    from tests.strategies import ALL_ZONE_NAMES

    epoch = dt.datetime(1970, 1, 1)
    lo = (dt.datetime(1990, 1, 1, tzinfo=dt.timezone.utc) - columns._EPOCH) // US
    hi = (dt.datetime(2040, 1, 1, tzinfo=dt.timezone.utc) - columns._EPOCH) // US
    checked = 0
    for name in ALL_ZONE_NAMES[::20]:  # one zone in twenty, spread over the alphabet
        tz = zoneinfo.ZoneInfo(name)
        starts, offsets = transitions(tz, lo, hi)
        walls = []
        for start, before, after in zip(starts[1:], offsets[:-1], offsets[1:], strict=True):
            for wall_at in (start + before, start + after):  # the change's two wall readings
                for step in (-3_600_000_000, -1, 0, 1, 1_800_000_000, 3_600_000_000):
                    walls.append(int(wall_at) + step)
        if not walls:
            continue
        got = columns._latest_instants(np.array(walls, dtype=np.int64), columns._ZoneTable(tz))
        for wall, instant in zip(walls, got.tolist(), strict=True):
            local = epoch + dt.timedelta(microseconds=wall)
            assert columns._instant(instant) == latest_instant(local, tz), (name, local)
        checked += len(walls)
    assert checked > 2_000


def test_zone_names_in_an_array_get_codes_in_order_and_a_hash_collision_falls_back() -> None:
    from ketamine_guidance._engine import columns

    names = np.array(["Asia/Tokyo", "UTC", "Asia/Tokyo", "Europe/London", "UTC"])
    hashed = columns._name_codes(names)
    assert hashed is not None
    codes, firsts = hashed
    assert codes.tolist() == [0, 1, 0, 2, 1]  # in the order each name first appears
    assert firsts.tolist() == [0, 1, 3]
    # Two names whose character hashes are equal (65 + 67p == 1000068 + 66p, with p the
    # multiplier 1000003): never merged into one zone, the dictionary decides instead.
    assert columns._name_codes(np.array(["AC", "\U000f4284B"])) is None
    # The first bad zone in the rows is the one named, whichever path coded them.
    for zones in (np.array(["UTC", "Mars/Base", "Nowhere"]), ["UTC", "Mars/Base", "Nowhere"]):
        with pytest.raises(GuidanceError, match=r"^timezone\[1\]: unknown time zone 'Mars/Base'"):
            lift_times(ended_at=[dt.datetime(2026, 1, 1, tzinfo=UTC)] * 3, timezone=zones)


def test_zone_names_are_coded_alike_across_hash_blocks() -> None:
    from ketamine_guidance._engine import columns

    names = ["Asia/Tokyo", "UTC", "Europe/London", "America/Argentina/Buenos_Aires"]
    rows = np.array([names[(i * i) % 4] for i in range(3 * columns._HASH_ROWS + 7)])
    hashed = columns._name_codes(rows)
    assert hashed is not None
    codes, firsts = hashed
    order = list(dict.fromkeys(rows.tolist()))
    assert codes.tolist() == [order.index(name) for name in rows.tolist()]
    assert [rows[i] for i in firsts.tolist()] == order


def test_zone_arrays_the_hash_cannot_code_take_the_dictionary() -> None:
    end = [dt.datetime(2026, 3, 7, 23, 30, tzinfo=UTC)] * 2
    # Names whose hashes collide (they are not zones, so the answer is the error).
    with pytest.raises(GuidanceError, match=r"^timezone\[0\]: unknown time zone 'AC'"):
        lift_times(ended_at=end, timezone=np.array(["AC", "\U000f4284B"]))
    # An array of zone objects, and an array of names of the wrong length.
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    objects = lift_times(ended_at=end, timezone=np.array([tokyo, UTC], dtype=object))
    names = lift_times(ended_at=end, timezone=np.array(["Asia/Tokyo", "UTC"]))
    assert objects.column("driving") == names.column("driving")
    with pytest.raises(ValueError, match="timezone has 3 zones for 2 session ends"):
        lift_times(ended_at=end, timezone=np.array(["UTC"] * 3))
    # Every other name of a longer array: a strided view, not a contiguous block.
    strided = np.array(["Asia/Tokyo", "Mars/Base", "UTC", "Mars/Base"])[::2]
    assert lift_times(ended_at=end, timezone=strided).column("driving") == names.column("driving")
