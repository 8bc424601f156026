"""The benchmarks of issue 7: one command prints every figure and every target.

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
    "decisions_at (ready plan)": bench_decisions_at,
    "plan_for + decisions_at": bench_decisions_at_new_plan,
    "driving: ours, ready plan": _method_bench("is_permitted", AT),
    "driving: rule-engine": bench_peer,
    "driving: ours, new session": bench_ours_new_session,
    "driving: rule-engine, new session": bench_peer_new_session,
}


# The batch, the import, and the DST cases: timed or computed in this process.


def batch(n: int) -> tuple[float, float, float]:
    """Seconds to make ``n`` sessions, for their timelines one plan at a time, and for
    the same instants from ``lift_times`` in one call.

    A sample of rows is checked against the plans, so the two paths are known to agree.
    """
    names = sorted(zoneinfo.available_timezones() - {"Factory", "localtime"})
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
    """The package's -X importtime (ms): median, spread, heavy modules, and attrs' median."""
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
            "default: next day 06:00, spring",
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


def report(results: dict[str, pyperf.Benchmark], args: argparse.Namespace) -> None:
    med = {name: _us(b)[0] for name, b in results.items()}
    rows: list[tuple[str, str, str, str]] = []

    def row(name: str, target: str = "", *, met: bool | None = None) -> None:
        median, spread = _us(results[name])
        verdict = "" if met is None else ("met" if met else "MISSED")
        rows.append((name, f"{median:9.3f} us +- {spread:.3f}", target, verdict))

    r_zoned = med["is_permitted, zoned at"] / med["bare at >= lift, zoned"]
    r_call = med["is_permitted, zoned at"] / med["bare at >= lift in a function"]
    d_utc = med["check, UTC at"] - med["is_permitted, UTC at"]
    d_zoned = med["check, zoned at"] - med["is_permitted, zoned at"]
    row("bare at >= lift, UTC")
    row("is_permitted, UTC at", "< 0.5 us", met=med["is_permitted, UTC at"] < 0.5)
    row("check, UTC at", f"<= is_permitted + 2 us (+{d_utc:.2f})", met=d_utc <= 2)
    row("bare at >= lift, zoned")
    row("is_permitted, zoned at", f"<= 1.5x bare ({r_zoned:.1f}x)", met=r_zoned <= 1.5)
    row("check, zoned at", f"<= is_permitted + 2 us (+{d_zoned:.2f})", met=d_zoned <= 2)
    row("bare at >= lift in a function", f"is_permitted zoned: {r_call:.1f}x this")
    row("plan_for (default ruleset)", "< 15 us", met=med["plan_for (default ruleset)"] < 15)
    row("decisions_at (ready plan)", "< 20 us", met=med["decisions_at (ready plan)"] < 20)
    row("plan_for + decisions_at", "(for reference)")
    peer = med["driving: rule-engine"] / med["driving: ours, ready plan"]
    peer_new = med["driving: rule-engine, new session"] / med["driving: ours, new session"]
    row("driving: ours, ready plan")
    row("driving: rule-engine", f">= 20x slower than ours ({peer:.0f}x)", met=peer >= 20)
    row("driving: ours, new session")
    row("driving: rule-engine, new session", f">= 20x ({peer_new:.1f}x)", met=peer_new >= 20)

    make_s, timelines_s, table_s = batch(args.batch)
    scale = 1_000_000 / args.batch
    note = ")" if args.batch == 1_000_000 else ", extrapolated)"
    for name, seconds in (("plan_for(s).timeline() each", timelines_s), ("lift_times", table_s)):
        million = (make_s + seconds) * scale
        rows.append(
            (
                f"batch, {name}: {args.batch:,} sessions, 50 zones",
                f"{make_s:.2f} s sessions + {seconds:.2f} s",
                f"< 10 s for 1,000,000 ({million:.1f} s{note}",
                "met" if million < 10 else "MISSED",
            )
        )
    imp, imp_spread, loaded, attrs_alone = import_ms(args.import_runs)
    rows.append(
        (
            "import ketamine_guidance",
            f"{imp:9.1f} ms +- {imp_spread:.1f}",
            f"< 80 ms (-X importtime; attrs alone {attrs_alone:.0f} ms)"
            + (f"; loads {', '.join(loaded)}" if loaded else ""),
            "met" if imp < 80 else "MISSED",
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
