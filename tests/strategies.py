"""Shared hypothesis strategies."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

UTC = dt.timezone.utc

#: Every IANA zone the machine knows (tzdata guarantees a full set).
ALL_ZONE_NAMES = sorted(zoneinfo.available_timezones() - {"Factory", "localtime"})
#: Fixed-offset names that read like a region: refused as names (not as tzinfo objects).
REGION_LIKE_FIXED = frozenset(
    n
    for n in ALL_ZONE_NAMES
    if n in {"EST", "MST", "HST"}
    or (n.startswith("Etc/GMT") and n[7:8] in "+-" and n[8:] not in {"", "0"})
)
#: The zone names a Session accepts as ``timezone``.
ZONE_NAMES = [n for n in ALL_ZONE_NAMES if n not in REGION_LIKE_FIXED]

zone_names = st.sampled_from(ZONE_NAMES)
#: Every zone as a zoneinfo object (objects are a caller's choice: all are accepted).
zones = st.sampled_from(ALL_ZONE_NAMES).map(zoneinfo.ZoneInfo)

#: Instants in 1900-2100, in UTC.
instants = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)


# Valid rulesets, as the loader accepts them (for round trips through documents).

_ids = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
# Text a ruleset may hold: no control, bidi or zero-width characters (the loader refuses them).
SAFE = st.characters(exclude_categories=("Cc", "Cf", "Cs"))
_texts = st.text(SAFE, min_size=1, max_size=30).filter(str.strip)
_clock = st.builds(dt.time, st.integers(0, 23), st.integers(0, 59))


def _ruleset_sources() -> st.SearchStrategy[Any]:
    from ketamine_guidance import Source

    return st.builds(Source, title=_texts, section=_texts)


def _windows() -> st.SearchStrategy[Any]:
    from ketamine_guidance import DayAt, EndOfDay, Hours, Immediately, LatestOf, Never, NextDay

    simple = st.sampled_from([Immediately(), NextDay(), EndOfDay(), Never()])
    hours = st.one_of(
        st.integers(1, 24 * 366 * 10),
        st.floats(min_value=0.01, max_value=24 * 366 * 10, allow_nan=False),
    ).map(Hours)
    day_at = st.builds(DayAt, day=st.integers(1, 366 * 10), at=_clock)
    leaves = st.one_of(simple, hours, day_at)
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, min_size=1, max_size=3).map(lambda ws: LatestOf(tuple(ws))),
        max_leaves=6,
    )


valid_windows = st.deferred(_windows)


def _codes() -> st.SearchStrategy[Any]:
    from ketamine_guidance import ATC_SYSTEM, Code

    systems = st.sampled_from([ATC_SYSTEM, "http://snomed.info/sct"]) | _texts.map(str.strip)
    return st.lists(st.builds(Code, systems, _texts.map(str.strip)), max_size=3).map(tuple)


def _rules() -> st.SearchStrategy[Any]:
    from ketamine_guidance import Rule, Status

    return st.builds(
        Rule,
        activity=_ids,
        label=_texts,
        until=valid_windows,
        reason=_texts,
        source=_ruleset_sources(),
        while_restricted=st.sampled_from([Status.NOT_PERMITTED, Status.PERMITTED_WITH_CAUTION]),
        clinician_adjustable=st.booleans(),
        codes=_codes(),
    )


def _advice() -> st.SearchStrategy[Any]:
    from ketamine_guidance import Advice, AdviceCategory

    def build(category: Any, symptoms: tuple[str, ...], **fields: Any) -> Any:
        keep = symptoms if category is AdviceCategory.AFTER_EFFECTS else ()
        return Advice(category=category, symptoms=keep, **fields)

    small = st.lists(_texts, max_size=3).map(tuple)
    return st.builds(
        build,
        id=_ids,
        category=st.sampled_from(list(AdviceCategory)),
        title=_texts,
        text=_texts,
        source=_ruleset_sources(),
        actions=small,
        examples=small,
        symptoms=st.lists(_ids, max_size=3).map(tuple),
    )


valid_rules = st.deferred(_rules)
valid_advice = st.deferred(_advice)


def _rulesets() -> st.SearchStrategy[Any]:
    from ketamine_guidance import Ruleset

    optional_text = st.none() | _texts
    optional_date = st.none() | st.dates(dt.date(1990, 1, 1), dt.date(2100, 12, 31))
    return st.builds(
        Ruleset,
        id=_texts,
        version=_texts,
        title=_texts,
        rules=st.lists(valid_rules, min_size=1, max_size=5, unique_by=lambda r: r.activity).map(
            tuple
        ),
        next_day_begins=_clock,
        advice=st.lists(valid_advice, max_size=4, unique_by=lambda a: a.id).map(tuple),
        contact=optional_text,
        reviewed_by=optional_text,
        reviewed_on=optional_date,
        effective_from=optional_date,
    )


#: Rulesets that ``Ruleset.from_dict`` would accept, built directly from the model.
valid_rulesets = st.deferred(_rulesets)


# Rulesets as data (issue 4): valid, JSON-compatible mappings as a clinic would write them.

IDS = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)
TEXTS = st.text(SAFE, min_size=1, max_size=20).filter(str.strip)
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
        "codes": st.lists(st.fixed_dictionaries({"system": TEXTS, "code": TEXTS}), max_size=3),
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
