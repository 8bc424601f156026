"""Shared hypothesis strategies."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable

from hypothesis import strategies as st

UTC = dt.timezone.utc

#: Every IANA zone the machine knows (tzdata guarantees a full set).
ZONE_NAMES = sorted(zoneinfo.available_timezones() - {"Factory", "localtime"})

zone_names = st.sampled_from(ZONE_NAMES)
zones = zone_names.map(zoneinfo.ZoneInfo)

#: Instants in 1900-2100, in UTC.
instants = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)


# Rulesets as data (issue 4): valid, JSON-compatible mappings as a clinic would write them.

IDS = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)
TEXTS = st.text(min_size=1, max_size=20).filter(str.strip)
HHMMS = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
DATES = st.dates(dt.date(2000, 1, 1), dt.date(2100, 12, 31)).map(dt.date.isoformat)
SOURCES = st.fixed_dictionaries({"title": TEXTS, "section": TEXTS})

#: Windows as written in a ruleset file.
window_data = st.recursive(
    st.sampled_from(["immediately", "next_day", "end_of_day", "never"])
    | st.builds(lambda h: {"hours": h}, st.integers(1, 240) | st.floats(0.25, 240.0))
    | st.builds(lambda d, at: {"day": d, "at": at}, st.integers(1, 7), HHMMS),
    lambda inner: st.builds(lambda ws: {"latest_of": ws}, st.lists(inner, min_size=1, max_size=3)),
    max_leaves=5,
)

rule_data = st.fixed_dictionaries(
    {"activity": IDS, "label": TEXTS, "until": window_data, "reason": TEXTS, "source": SOURCES},
    optional={
        "while_restricted": st.sampled_from(["not_permitted", "permitted_with_caution"]),
        "clinician_adjustable": st.booleans(),
    },
)

_CATEGORIES = [
    "after_effects",
    "integration",
    "interpretation",
    "continuing_care",
    "lifestyle",
    "expectations",
]


@st.composite
def advice_data(draw: st.DrawFn) -> dict[str, object]:
    category = draw(st.sampled_from(_CATEGORIES))
    optional = {
        "actions": st.lists(TEXTS, max_size=2),
        "examples": st.lists(TEXTS, max_size=2),
    }
    if category == "after_effects":
        optional["symptoms"] = st.lists(IDS, max_size=2)
    required = {"id": IDS, "category": st.just(category), "title": TEXTS, "text": TEXTS}
    item: dict[str, object] = draw(st.fixed_dictionaries({**required, "source": SOURCES}))
    item.update(draw(st.fixed_dictionaries({}, optional=optional)))
    return item


def _unique_by(key: str) -> Callable[[list[dict[str, object]]], list[dict[str, object]]]:
    def keep_first(items: list[dict[str, object]]) -> list[dict[str, object]]:
        return list({item[key]: item for item in reversed(items)}.values())[::-1]

    return keep_first


ruleset_data = st.fixed_dictionaries(
    {
        "id": TEXTS,
        "version": TEXTS,
        "title": TEXTS,
        "rules": st.lists(rule_data, min_size=1, max_size=5).map(_unique_by("activity")),
    },
    optional={
        "next_day_begins": HHMMS,
        "advice": st.lists(advice_data(), max_size=3).map(_unique_by("id")),
        "contact": TEXTS,
        "reviewed_by": TEXTS,
        "reviewed_on": DATES,
        "effective_from": DATES,
    },
)
