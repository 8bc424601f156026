"""The model's small helpers: windows in words, category titles, rule look-up."""

from __future__ import annotations

import datetime as dt

import pytest

from ketamine_guidance import (
    AdviceCategory,
    DayAt,
    EndOfDay,
    Hours,
    Immediately,
    LatestOf,
    Never,
    NextDay,
    Status,
    UnknownActivityError,
    default_ruleset,
)
from ketamine_guidance._rules.model import describe_window


@pytest.mark.parametrize(
    ("window", "words"),
    [
        (Immediately(), "immediately"),
        (EndOfDay(), "end of the session's day"),
        (NextDay(), "next day 07:30"),
        (DayAt(day=1, at=dt.time(8)), "next day 08:00"),
        (DayAt(day=3, at=dt.time(9, 5)), "day 3 after the session 09:05"),
        (Hours(24), "24 hours"),
        (Hours(1.5), "1.5 hours"),
        (Never(), "never"),
        (LatestOf((NextDay(), Hours(8))), "latest of next day 07:30 and 8 hours"),
    ],
)
def test_describe_window(window, words):
    assert describe_window(window, dt.time(7, 30)) == words


def test_every_category_has_a_title():
    titles = {c: c.title for c in AdviceCategory}
    assert titles[AdviceCategory.AFTER_EFFECTS] == "After-effects"
    assert len(set(titles.values())) == len(AdviceCategory)


def test_status_order_and_words():
    assert [s.restrictiveness for s in Status] == [0, 1, 2]
    assert Status.PERMITTED_WITH_CAUTION.text == "permitted with caution"


def test_rule_lookup():
    ruleset = default_ruleset()
    assert ruleset.rule("driving").label == "Driving"
    with pytest.raises(UnknownActivityError, match="did you mean 'driving'"):
        ruleset.rule("Driving")
