"""The benchmarks: one command prints every figure and every target, with PASS or MISS.

    nox -s bench                     # the whole table (a few minutes on 2 cores)
    nox -s bench -- --fast           # fewer pyperf processes: rougher, quicker
    nox -s bench -- --batch 1000000  # the full batch of one million sessions

Each operation is timed by pyperf (separate worker processes, warm-ups, calibrated
loops), so a figure is a median over many runs with its spread, and every ratio
divides two medians from the same run.  The batch and the import are timed in this
process and in fresh interpreters.  Nothing here asserts: the table says which
target is met, and docs/explanation/performance.md records a run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import platform
import re
import statistics
import subprocess
import sys
import time
import zoneinfo
from collections.abc import Callable
from typing import Any

import pyperf

import ketamine_guidance as kg
from ketamine_guidance._engine import windows as _windows

UTC = dt.timezone.utc
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
# A session that ended on the evening before the spring change of clocks in New York.
ENDED = dt.datetime(2026, 3, 7, 23, 30, tzinfo=NEW_YORK).astimezone(UTC)
AT = dt.datetime(2026, 3, 8, 12, 0, tzinfo=UTC)  # driving is permitted again from 10:00 UTC
AT_ZONED = AT.astimezone(NEW_YORK)

# The driving decision written for rule-engine: "the next day at 06:00", with the
# session's end given as a local time in the patient's zone (rule-engine has no zones).
PEER_NEXT_DAY = "at >= ended_local.date + t'P1DT6H'"


def _plan() -> kg.AftercarePlan:
    return kg.plan_for(kg.Session(ENDED, NEW_YORK))


# Timed operations: each takes the number of loops and returns the seconds they took.


def bench_bare_utc(loops: int) -> float:
    plan = _plan()
    lift = plan.check("driving", AT).permitted_from_utc
    at = AT
    t0 = time.perf_counter()
    for _ in itertools.repeat(None, loops):
        at >= lift  # type: ignore[operator]  # noqa: B015
    return time.perf_counter() - t0


def bench_bare_zoned(loops: int) -> float:
    plan = _plan()
    lift = plan.check("driving", AT).permitted_from  # in the patient's zone
    at = AT_ZONED
    t0 = time.perf_counter()
    for _ in itertools.repeat(None, loops):
        at >= lift  # type: ignore[operator]  # noqa: B015
    return time.perf_counter() - t0


def bench_bare_call(loops: int) -> float:
    plan = _plan()
    lift = plan.check("driving", AT).permitted_from_utc
    assert lift is not None

    def bare(at: dt.datetime) -> bool:
        return at >= lift

    at = AT
    t0 = time.perf_counter()
    for _ in itertools.repeat(None, loops):
        bare(at)
    return time.perf_counter() - t0


def _method_bench(method: str, at: dt.datetime) -> Callable[[int], float]:
    def bench(loops: int) -> float:
        call = getattr(_plan(), method)
        t0 = time.perf_counter()
        for _ in itertools.repeat(None, loops):
            call("driving", at)
        return time.perf_counter() - t0

    return bench


def bench_plan_for(loops: int) -> float:
    session, ruleset, plan_for = kg.Session(ENDED, NEW_YORK), kg.default_ruleset(), kg.plan_for
    t0 = time.perf_counter()
    for _ in itertools.repeat(None, loops):
        plan_for(session, ruleset)
    return time.perf_counter() - t0


def bench_decisions_at(loops: int) -> float:
    decisions_at = _plan().decisions_at
    t0 = time.perf_counter()
    for _ in itertools.repeat(None, loops):
        decisions_at(AT)
    return time.perf_counter() - t0


def bench_decisions_at_new_plan(loops: int) -> float:
    session, ruleset, plan_for = kg.Session(ENDED, NEW_YORK), kg.default_ruleset(), kg.plan_for
    t0 = time.perf_counter()
    for _ in itertools.repeat(None, loops):
        plan_for(session, ruleset).decisions_at(AT)
    return time.perf_counter() - t0


def bench_ours_new_session(loops: int) -> float:
    session, plan_for, ruleset = kg.Session, kg.plan_for, kg.default_ruleset()
    t0 = time.perf_counter()
    for _ in itertools.repeat(None, loops):
        plan_for(session(ENDED, NEW_YORK), ruleset).is_permitted("driving", AT)
    return time.perf_counter() - t0


def bench_one_question(loops: int) -> float:
    ask, ruleset = kg.is_permitted, kg.default_ruleset()
    t0 = time.perf_counter()
    for _ in itertools.repeat(None, loops):
        ask("driving", AT, ended_at=ENDED, timezone=NEW_YORK, ruleset=ruleset)
    return time.perf_counter() - t0


def plain_next_day(ended: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """The least a caller could write for "the next local day at 06:00, latest instant":
    no library, no checks, zoneinfo's PEP 495 folds (the later reading), and a wall time
    in a gap read with the offset before it."""
    wall = dt.datetime.combine(ended.astimezone(tz).date() + dt.timedelta(days=1), dt.time(6))
    instant = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != wall:  # a gap
        instant = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    return instant


def bench_plain_next_day(loops: int) -> float:
    t0 = time.perf_counter()
    for _ in itertools.repeat(None, loops):
        plain_next_day(ENDED, NEW_YORK)
    return time.perf_counter() - t0


def bench_plan_for_new_session(loops: int) -> float:
    session, ruleset, plan_for = kg.Session, kg.default_ruleset(), kg.plan_for
    t0 = time.perf_counter()
    for _ in itertools.repeat(None, loops):
        plan_for(session(ENDED, NEW_YORK), ruleset)
    return time.perf_counter() - t0


def bench_peer(loops: int) -> float:
    import rule_engine

    matches = rule_engine.Rule(PEER_NEXT_DAY).matches
    thing = {"at": AT, "ended_local": ENDED.astimezone(NEW_YORK)}
    t0 = time.perf_counter()
    for _ in itertools.repeat(None, loops):
        matches(thing)
    return time.perf_counter() - t0


def bench_peer_new_session(loops: int) -> float:
    import rule_engine

    matches = rule_engine.Rule(PEER_NEXT_DAY).matches
    t0 = time.perf_counter()
    for _ in itertools.repeat(None, loops):
        matches({"at": AT, "ended_local": ENDED.astimezone(NEW_YORK)})
    return time.perf_counter() - t0


BENCHES: dict[str, Callable[[int], float]] = {
    "bare at >= lift, UTC": bench_bare_utc,
    "is_permitted, UTC at": _method_bench("is_permitted", AT),
    "check, UTC at": _method_bench("check", AT),
    "bare at >= lift, zoned": bench_bare_zoned,
    "is_permitted, zoned at": _method_bench("is_permitted", AT_ZONED),
    "check, zoned at": _method_bench("check", AT_ZONED),
    "bare at >= lift in a function": bench_bare_call,
    "plan_for (default ruleset)": bench_plan_for,
    "plan_for(Session(...))": bench_plan_for_new_session,
    "plain next-day computation": bench_plain_next_day,
    "decisions_at (ready plan)": bench_decisions_at,
    "plan_for + decisions_at": bench_decisions_at_new_plan,
    "driving: ours, ready plan": _method_bench("is_permitted", AT),
    "driving: rule-engine": bench_peer,
    "driving: ours, new session": bench_ours_new_session,
    "driving: ours, is_permitted(..., ended_at=, timezone=)": bench_one_question,
    "driving: rule-engine, new session": bench_peer_new_session,
}


# The batch, the import, and the DST cases: timed or computed in this process.


def _region_zones() -> list[str]:
    """The tz database's region zones ("Area/Location"): the names a Session accepts
    as a patient's zone (fixed offsets such as Etc/GMT+11 are refused by name)."""
    names = zoneinfo.available_timezones() - {"Factory", "localtime"}
    return sorted(n for n in names if "/" in n and not n.startswith(("Etc/", "SystemV/")))


def batch(n: int) -> tuple[float, float, float]:
    """Seconds to make ``n`` sessions, for their timelines one plan at a time, and for
    the same instants from ``lift_times`` in one call.

    A sample of rows is checked against the plans, so the two paths are known to agree.
    """
    names = _region_zones()
    step = len(names) // 50
    zones = [zoneinfo.ZoneInfo(name) for name in names[::step][:50]]
    start = dt.datetime(2026, 1, 1, tzinfo=UTC)
    year = 365 * 24 * 3600
    # Sessions spread evenly over a year (a prime stride), across 50 zones.
    ends = [(start + dt.timedelta(seconds=(i * 7919 * 60) % year), zones[i % 50]) for i in range(n)]
    ruleset, plan_for, session = kg.default_ruleset(), kg.plan_for, kg.Session
    t0 = time.perf_counter()
    sessions = [session(end, zone) for end, zone in ends]
    t1 = time.perf_counter()
    table = kg.lift_times(sessions, ruleset)
    t2 = time.perf_counter()
    # The per-session path starts as cold as the batch did: empty the engine's cache of
    # resolved wall times, which lift_times has just filled.
    _windows._resolve_cached.cache_clear()
    seen = 0
    for s in sessions:
        seen += len(plan_for(s, ruleset).timeline())
    t3 = time.perf_counter()
    assert seen == 12 * n
    assert len(table) == n
    for i in range(0, n, max(1, n // 1000)):
        lifts = {e.activity: e.permitted_from_utc for e in plan_for(sessions[i]).timeline()}
        assert table.rows[i] == tuple(lifts[a] for a in table.activities), sessions[i]
    return t1 - t0, t3 - t2, t2 - t1


def batch_columns(n: int) -> tuple[float, float, float]:
    """Seconds for ``n`` sessions held as columns (NumPy ``datetime64`` ends and an array
    of zone names, the way a data job holds them): ``lift_times`` on the columns, and on
    ``Session`` objects made from the same columns (making them included).  A sample of
    rows is checked to agree."""
    import numpy as np

    names = _region_zones()
    step = len(names) // 50
    zones = names[::step][:50]
    start = np.datetime64("2026-01-01T00:00:00", "us")
    year = 365 * 24 * 3600
    offsets = (np.arange(n, dtype=np.int64) * 7919 * 60) % year
    ends = start + offsets.astype("timedelta64[s]")
    zone_column = np.array([zones[i % 50] for i in range(n)])
    ruleset = kg.default_ruleset()
    _windows._resolve_cached.cache_clear()
    t0 = time.perf_counter()
    columns = kg.lift_times(ended_at=ends, timezone=zone_column, ruleset=ruleset)
    t1 = time.perf_counter()
    _windows._resolve_cached.cache_clear()
    t2 = time.perf_counter()
    utc_ends = ends.astype(dt.datetime).tolist()
    sessions = [
        kg.Session(end.replace(tzinfo=UTC), zone)
        for end, zone in zip(utc_ends, zone_column.tolist(), strict=True)
    ]
    table = kg.lift_times(sessions, ruleset)
    t3 = time.perf_counter()
    sample = range(0, n, max(1, n // 1000))
    for activity in ruleset.activities:
        got, want = columns.array(activity), table.column(activity)
        for i in sample:
            value = None if np.isnat(got[i]) else got[i].item().replace(tzinfo=UTC)
            assert value == want[i], (activity, i)
    days = ends.astype("datetime64[D]").tolist()
    return t1 - t0, t3 - t2, len(set(zip(zone_column.tolist(), days, strict=True)))


def _importtime(module: str, runs: int) -> list[float]:
    """The module's cumulative import time (ms) in ``runs`` fresh interpreters."""
    totals = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True,
            text=True,
            check=True,
        )
        match = re.search(rf"\|\s*(\d+)\s*\|\s*{module}\s*$", done.stderr, re.M)
        assert match, done.stderr[-500:]
        totals.append(int(match.group(1)) / 1000)
    return totals


def import_ms(runs: int) -> tuple[float, float, list[str], float]:
    """The package's -X importtime (ms): median, spread, heavy modules, and attrs' median.

    The package is byte-compiled first, as an installed package is: with
    PYTHONDONTWRITEBYTECODE set, an edited source would be compiled on every import.
    """
    import compileall

    compileall.compile_dir(kg.__path__[0], quiet=1)
    totals = _importtime("ketamine_guidance", runs)
    attrs_alone = statistics.median(_importtime("attrs", runs))
    heavy = ("babel", "cattrs", "jsonschema", "icalendar", "dateutil", "argparse")
    probe = (
        f"import sys, ketamine_guidance; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    return statistics.median(totals), _spread(totals), loaded, attrs_alone


FIRST_ANSWER = """
import time
t0 = time.perf_counter()
import datetime as dt
import ketamine_guidance as kg
ended = dt.datetime(2026, 3, 7, 23, 30, tzinfo=dt.timezone.utc)
kg.plan_for(kg.Session(ended, "America/New_York")).is_permitted("driving", ended)
print((time.perf_counter() - t0) * 1000)
"""


def first_answer_ms(runs: int) -> float:
    """Median ms from a fresh interpreter's first line to its first answer: the import,
    the default ruleset, the tz database and one plan (what loading on first use moves)."""
    values = [
        float(
            subprocess.run(
                [sys.executable, "-c", FIRST_ANSWER], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return statistics.median(values)


def _spread(values: list[float]) -> float:
    """Half the interquartile range: robust against the odd slow run."""
    if len(values) < 4:
        return 0.0
    q = statistics.quantiles(values, n=4)
    return (q[2] - q[0]) / 2


def dst_cases() -> list[tuple[str, str, bool, bool, str]]:
    """The same decisions by us and by rule-engine, on days when the clocks change."""
    import rule_engine

    source = {"title": "benchmark", "section": "peer"}

    def ruleset(until: object) -> kg.Ruleset:
        rule = {"activity": "driving", "label": "Driving", "until": until}
        rule |= {"reason": "-", "source": source}
        data = {"id": "peer", "version": "1", "title": "peer", "rules": [rule]}
        return kg.Ruleset.from_dict(data)

    spring_end = dt.datetime(2026, 3, 7, 23, 30, tzinfo=NEW_YORK)  # EST; clocks go on at 02:00
    autumn_end = dt.datetime(2026, 10, 31, 20, 0, tzinfo=NEW_YORK)  # EDT; 01:00-02:00 twice
    cases = [
        (
            "default: later of next day 06:00 and 8 h, spring",
            kg.default_ruleset(),
            PEER_NEXT_DAY,
            spring_end,
            dt.datetime(2026, 3, 8, 10, 0, tzinfo=UTC),
        ),
        (
            "24 hours elapsed, spring",
            ruleset({"hours": 24}),
            "at >= ended_local + t'PT24H'",
            spring_end,
            dt.datetime(2026, 3, 9, 3, 30, tzinfo=UTC),
        ),
        (
            "next day 01:30, autumn fold",
            ruleset({"day": 1, "at": "01:30"}),
            "at >= ended_local.date + t'P1DT1H30M'",
            autumn_end,
            dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
        ),
    ]
    rows = []
    for name, rules, text, end, at in cases:
        ours = kg.plan_for(kg.Session(end, NEW_YORK), rules).is_permitted("driving", at)
        peer = rule_engine.Rule(text).matches({"at": at, "ended_local": end})
        local = at.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M %Z")
        rows.append((name, f"{at:%Y-%m-%d %H:%M} UTC ({local})", ours, peer, text))
    return rows


# The table.


def _us(bench: pyperf.Benchmark) -> tuple[float, float]:
    values = [v * 1e6 for v in bench.get_values()]
    return statistics.median(values), _spread(values)


def report(  # noqa: PLR0915  (one table, one row after another)
    results: dict[str, pyperf.Benchmark], args: argparse.Namespace
) -> None:
    med = {name: _us(b)[0] for name, b in results.items()}
    rows: list[tuple[str, str, str, str]] = []

    def verdict(met: bool | None) -> str:  # noqa: FBT001
        return "" if met is None else ("PASS" if met else "MISS")

    def row(name: str, target: str = "", *, met: bool | None = None) -> None:
        median, spread = _us(results[name])
        rows.append((name, f"{median:9.3f} us +- {spread:.3f}", target, verdict(met)))

    def ratio(name: str, value: float, target: str, *, met: bool | None) -> None:
        rows.append((name, f"{value:9.2f}x", target, verdict(met)))

    row("bare at >= lift, UTC")
    row("is_permitted, UTC at")
    r_utc = med["is_permitted, UTC at"] / med["bare at >= lift, UTC"]
    ratio("is_permitted / bare (UTC at)", r_utc, "<= 4x", met=r_utc <= 4)
    row("bare at >= lift, zoned")
    row("is_permitted, zoned at")
    r_zoned = med["is_permitted, zoned at"] / med["bare at >= lift, zoned"]
    ratio("is_permitted / bare (zoned at)", r_zoned, "<= 1.2x", met=r_zoned <= 1.2)
    row("bare at >= lift in a function", "(a Python call alone, for reference)")
    row("check, UTC at")
    r_check = med["check, UTC at"] / med["is_permitted, UTC at"]
    ratio("check / is_permitted (UTC at)", r_check, "<= 3x", met=r_check <= 3)
    row("check, zoned at", "(for reference)")
    d_at = med["decisions_at (ready plan)"]
    r_d = d_at / med["check, UTC at"]
    row("decisions_at (ready plan)", f"<= 10 us and <= 12x check ({r_d:.1f}x)",
        met=d_at <= 10 and r_d <= 12)  # fmt: skip
    row("plan_for (default ruleset)", "(a ready Session, for reference)")
    row("plan_for(Session(...))")
    row("plain next-day computation", "(no library: the floor)")
    r_plan = med["plan_for(Session(...))"] / med["plain next-day computation"]
    ratio("plan_for(Session(...)) / plain next day", r_plan, "<= 1.0x", met=r_plan <= 1.0)
    row("plan_for + decisions_at", "(for reference)")
    row("driving: ours, new session", "(plan_for(Session(...)).is_permitted, for reference)")
    row("driving: ours, is_permitted(..., ended_at=, timezone=)")
    row("driving: rule-engine, new session")
    one = "driving: ours, is_permitted(..., ended_at=, timezone=)"
    peer_new = med["driving: rule-engine, new session"] / med[one]
    ratio("new session per question: rule-engine / ours", peer_new, ">= 5x", met=peer_new >= 5)
    peer_plan = med["driving: rule-engine, new session"] / med["driving: ours, new session"]
    ratio("  the same with plan_for(Session(...))", peer_plan, "(for reference)", met=None)
    row("driving: ours, ready plan")
    row("driving: rule-engine")
    peer = med["driving: rule-engine"] / med["driving: ours, ready plan"]
    ratio("ready plan (UTC at): rule-engine / ours", peer, ">= 25x", met=peer >= 25)

    make_s, timelines_s, table_s = batch(args.batch)
    scale = 1_000_000 / args.batch
    note = "" if args.batch == 1_000_000 else ", extrapolated"
    for name, seconds in (("plan_for(s).timeline() each", timelines_s), ("lift_times", table_s)):
        million = (make_s + seconds) * scale
        rows.append(
            (
                f"batch, {name}: {args.batch:,} Sessions, 50 zones",
                f"{make_s:.2f} s sessions + {seconds:.2f} s",
                f"(for reference: {million:.1f} s for 1,000,000{note})",
                "",
            )
        )
    # The columnar target is for a million sessions: timed at that size, not scaled, since
    # part of its cost is per zone-day (fixed for a year in 50 zones), not per session.
    million_rows = 1_000_000
    cols_s, objects_s, zone_days = batch_columns(million_rows)
    rows.append(
        (
            (
                f"batch from columns, NumPy: {million_rows:,} sessions, 50 zones, "
                f"{zone_days:,} zone-UTC-days"
            ),
            f"{cols_s:.3f} s",
            "<= 1.5 s for 1,000,000",
            verdict(cols_s <= 1.5),
        )
    )
    speedup = objects_s / cols_s
    rows.append(
        (
            "  lift_times over Session objects made from the same columns",
            f"{objects_s:.3f} s",
            f"columns >= 4x faster ({speedup:.1f}x)",
            verdict(speedup >= 4),
        )
    )
    imp, imp_spread, loaded, attrs_alone = import_ms(args.import_runs)
    extra = imp - attrs_alone
    rows.append(
        (
            "import ketamine_guidance - import attrs",
            f"{extra:9.1f} ms (total {imp:.1f} +- {imp_spread:.1f}, attrs {attrs_alone:.1f})",
            "<= 20 ms (-X importtime)" + (f"; loads {', '.join(loaded)}" if loaded else ""),
            verdict(extra <= 20),
        )
    )
    rows.append(
        (
            "  import, default ruleset and a first answer",
            f"{first_answer_ms(args.import_runs):9.1f} ms",
            "(for reference: what loading on first use moves out of the import)",
            "",
        )
    )

    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    print()
    print(f"ketamine_guidance {kg.__version__} on Python {platform.python_version()}, ", end="")
    print(f"{platform.machine()} {platform.processor() or platform.platform()}")
    print("medians over pyperf's runs, +- half the interquartile range\n")
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())

    print("\nThe same driving decisions by rule-engine on days the clocks change (New York):")
    for name, when, ours, theirs, text in dst_cases():
        flag = "" if ours == theirs else "  <- differs"
        print(f"  {name:32} at {when}: ours {ours!s:5} rule-engine {theirs!s:5}{flag}")
        print(f"  {'':32}    rule-engine rule: {text}")


def main() -> None:
    def add_cmdline_args(cmd: list[str], args: Any) -> None:
        cmd.extend(["--batch", str(args.batch), "--import-runs", str(args.import_runs)])

    runner = pyperf.Runner(add_cmdline_args=add_cmdline_args)
    runner.argparser.add_argument(
        "--batch", type=int, default=20_000, help="sessions in the batch (full: 1000000)"
    )
    runner.argparser.add_argument("--import-runs", type=int, default=15)
    args = runner.parse_args()
    results = {name: runner.bench_time_func(name, func) for name, func in BENCHES.items()}
    if args.worker:
        return
    report({name: b for name, b in results.items() if b is not None}, args)


if __name__ == "__main__":
    main()
