"""How the cost grows with the work: per plan with the number of rules, per batch with
the sessions and the distinct (zone, local date) pairs.

    python benchmarks/growth.py        # about a minute; run by nox -s bench after run.py

Each figure is the best of several timed repeats in this process (``timeit``), which is
enough to show a trend; the per-operation figures with their spread are pyperf's, in
``run.py``.  Nothing here asserts.
"""

from __future__ import annotations

import datetime as dt
import statistics
import timeit
import zoneinfo
from collections.abc import Callable

import ketamine_guidance as kg
from ketamine_guidance._engine import lifts as _lifts
from ketamine_guidance._engine import windows as _windows

UTC = dt.timezone.utc
ENDED = dt.datetime(2026, 3, 7, 23, 30, tzinfo=UTC)
AT = dt.datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
SOURCE = {"title": "benchmark", "section": "growth"}
# A mix like the default's: mostly "next day", some hours, one never, one immediately.
WINDOWS: tuple[object, ...] = (
    {"latest_of": ["next_day", {"hours": 8}]},
    {"hours": 24},
    "never",
    "immediately",
    {"day": 2, "at": "09:00"},
)


def ruleset(rules: int) -> kg.Ruleset:
    """A valid ruleset of ``rules`` rules, cycling through :data:`WINDOWS`."""
    data = {
        "id": "growth",
        "version": "1",
        "title": "growth",
        "rules": [
            {
                "activity": f"a{i}",
                "label": f"Activity {i}",
                "until": WINDOWS[i % len(WINDOWS)],
                "reason": "-",
                "source": SOURCE,
            }
            for i in range(rules)
        ],
    }
    return kg.Ruleset.from_dict(data)


def best_us(call: Callable[[], object], number: int) -> float:
    """The best of five repeats, per call, in microseconds."""
    return min(timeit.repeat(call, number=number, repeat=5)) / number * 1e6


def per_plan() -> list[tuple[int, float, float, float]]:
    """(rules, new plan + first decisions_at, decisions_at on a ready plan, timeline) in us."""
    rows = []
    session = kg.Session(ENDED, "America/New_York")
    for count in (12, 48, 192):
        rules = ruleset(count)
        ready = kg.plan_for(session, rules)
        ready.decisions_at(AT)
        first = best_us(lambda r=rules: kg.plan_for(session, r).decisions_at(AT), 200)
        again = best_us(lambda p=ready: p.decisions_at(AT), 500)
        timeline = best_us(lambda r=rules: kg.plan_for(session, r).timeline(), 200)
        rows.append((count, first, again, timeline))
    return rows


def per_batch() -> list[tuple[int, int, int, float]]:
    """(sessions, zones, distinct zone-days, seconds) for the columnar batch, cold caches."""
    import numpy as np

    names = sorted(n for n in zoneinfo.available_timezones() if n.startswith("America/"))
    start = np.datetime64("2026-01-01T00:00:00", "us")
    rows = []
    for sessions, zones, days in ((100_000, 1, 1), (100_000, 50, 1), (100_000, 50, 365),
                                  (400_000, 50, 365)):  # fmt: skip
        offsets = (np.arange(sessions, dtype=np.int64) * 7919 * 60) % (days * 86_400)
        ends = start + offsets.astype("timedelta64[s]")
        zone_column = np.array([names[i % zones] for i in range(sessions)])
        seconds = []
        for _ in range(3):
            _windows._resolve_cached.cache_clear()
            _lifts._COMPILED.clear()
            t0 = timeit.default_timer()
            kg.lift_times(ended_at=ends, timezone=zone_column)
            seconds.append(timeit.default_timer() - t0)
        local = ends.astype("datetime64[D]").tolist()
        pairs = len(set(zip(zone_column.tolist(), local, strict=True)))
        rows.append((sessions, zones, pairs, statistics.median(seconds)))
    return rows


def main() -> None:
    print("\nPer plan, by the number of rules (best of 5, microseconds):")
    print(f"  {'rules':>5}  {'plan_for + decisions_at':>24}  {'decisions_at':>12}  {'timeline':>9}")
    for count, first, again, timeline in per_plan():
        print(f"  {count:5d}  {first:24.1f}  {again:12.1f}  {timeline:9.1f}")
    print("\nColumnar batch (NumPy), by sessions and distinct zone-days (median of 3, cold):")
    print(f"  {'sessions':>9}  {'zones':>5}  {'zone-days':>9}  {'seconds':>8}")
    for sessions, zones, pairs, seconds in per_batch():
        print(f"  {sessions:9,d}  {zones:5d}  {pairs:9,d}  {seconds:8.3f}")


if __name__ == "__main__":
    main()
