"""The loader: valid files load; every problem in a bad file is named with its path."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest

from ketamine_guidance import (
    Advice,
    AdviceCategory,
    DayAt,
    EndOfDay,
    Hours,
    LatestOf,
    Never,
    NextDay,
    RulesetError,
    RulesetProblem,
    Status,
    default_ruleset,
    load_ruleset,
)
from ketamine_guidance._rules.loader import MAX_FILE_BYTES
from ketamine_guidance._rules.ruleset import ruleset_from_data

EXAMPLE_TOML = """\
id = "example-clinic"
version = "2026.1"
title = "Example clinic aftercare"
next_day_begins = "07:30"

[[rules]]
activity = "driving"
label = "Driving"
while_restricted = "not_permitted"
until = "next_day"
reason = "Written in the clinic's own words."
clinician_adjustable = false
[rules.source]
title = "Example clinic aftercare sheet"
section = "Driving"
"""

SOURCE = {"title": "Sheet", "section": "Driving"}


def rule(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "activity": "driving",
        "label": "Driving",
        "until": "next_day",
        "reason": "Because.",
        "source": dict(SOURCE),
    }
    return {**base, **fields}


def data(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"id": "c", "version": "1", "title": "Clinic", "rules": [rule()]}
    return {**base, **fields}


def problems(raw: object) -> list[str]:
    with pytest.raises(RulesetError) as info:
        ruleset_from_data(raw)
    return [str(p) for p in info.value.problems]


def test_the_issue_example_loads_from_toml(tmp_path: Path):
    path = tmp_path / "clinic.toml"
    path.write_text(EXAMPLE_TOML, encoding="utf-8")
    ruleset = load_ruleset(path)
    assert ruleset.id == "example-clinic"
    assert ruleset.next_day_begins == dt.time(7, 30)
    (driving,) = ruleset.rules
    assert driving.until == NextDay()
    assert driving.while_restricted is Status.NOT_PERMITTED
    assert driving.source.section == "Driving"


def test_the_same_structure_loads_from_json(tmp_path: Path):
    path = tmp_path / "clinic.json"
    path.write_text(json.dumps(data()), encoding="utf-8")
    assert load_ruleset(path).rules[0].activity == "driving"


def test_every_window_form_loads():
    windows = {
        "a": ("immediately", None),
        "b": ("next_day", NextDay()),
        "c": ("end_of_day", EndOfDay()),
        "d": ("never", Never()),
        "e": ({"hours": 24}, Hours(24)),
        "f": ({"hours": 0.5}, Hours(0.5)),
        "g": ({"day": 2, "at": "09:15"}, DayAt(day=2, at=dt.time(9, 15))),
        "h": ({"latest_of": ["next_day", {"hours": 8}]}, LatestOf((NextDay(), Hours(8)))),
    }
    raw = data(rules=[rule(activity=k, until=v[0]) for k, v in windows.items()])
    ruleset = ruleset_from_data(raw)
    for activity, (_, expected) in windows.items():
        if expected is not None:
            assert ruleset.rule(activity).until == expected


def test_optional_fields_and_advice_load():
    advice = {
        "id": "rest",
        "category": "after_effects",
        "title": "Rest",
        "text": "Rest today.",
        "source": dict(SOURCE),
        "actions": ["Lie down."],
        "symptoms": ["sedation"],
    }
    ruleset = ruleset_from_data(
        data(
            advice=[advice],
            contact="Call 555-0100.",
            reviewed_by="Dr A",
            reviewed_on="2026-01-02",
            effective_from=dt.date(2026, 1, 3),
            rules=[rule(while_restricted="permitted_with_caution", clinician_adjustable=True)],
        )
    )
    assert ruleset.advice == (
        Advice(
            id="rest",
            category=AdviceCategory.AFTER_EFFECTS,
            title="Rest",
            text="Rest today.",
            source=ruleset.rules[0].source,
            actions=("Lie down.",),
            symptoms=("sedation",),
        ),
    )
    assert ruleset.symptoms == ("sedation",)
    assert ruleset.contact == "Call 555-0100."
    assert ruleset.reviewed_on == dt.date(2026, 1, 2)
    assert ruleset.effective_from == dt.date(2026, 1, 3)
    assert ruleset.rules[0].while_restricted is Status.PERMITTED_WITH_CAUTION
    assert ruleset.rules[0].clinician_adjustable is True


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([], "<root>: must be a table, not a list"),
        (data(id=None) | {"id": 5}, "id: must be a string, not a number"),
        ({"version": "1", "title": "t", "rules": [rule()]}, "id: is required"),
        (data(colour="blue"), "colour: unknown key"),
        (data(title="  "), "title: must not be empty"),
        (data(rules=[]), "rules: must list at least one rule"),
        (data(rules={"driving": {}}), "rules: must be a list of tables, not a table"),
        (data(rules=["driving"]), "rules[0]: must be a table, not a string"),
        (
            data(rules=[rule(until={"hours": -1})]),
            "rules[0].until.hours: must be a positive number of hours, not -1",
        ),
        (
            data(rules=[rule(until={"hours": 0})]),
            "rules[0].until.hours: must be a positive number of hours, not 0",
        ),
        (
            data(rules=[rule(until={"hours": True})]),
            "rules[0].until.hours: must be a positive number of hours, not a boolean",
        ),
        (
            data(rules=[rule(until={"hours": float("nan")})]),
            "rules[0].until.hours: must be a positive number of hours, not nan",
        ),
        (data(rules=[rule(until={"hours": 10**9})]), "rules[0].until.hours: must be at most 87840"),
        (data(rules=[rule(until={"hours": 1, "days": 1})]), "rules[0].until.days: unknown key"),
        (data(rules=[rule(until="tomorrow")]), "rules[0].until: unknown window 'tomorrow'"),
        (data(rules=[rule(until=3)]), "rules[0].until: must be a window"),
        (data(rules=[rule(until={"weeks": 1})]), "rules[0].until: must be a window"),
        (
            data(rules=[rule(until={"day": 0, "at": "06:00"})]),
            "rules[0].until.day: must be a whole number of days from 1, not 0",
        ),
        (
            data(rules=[rule(until={"day": 1.5, "at": "06:00"})]),
            "rules[0].until.day: must be a whole number of days, not 1.5",
        ),
        (data(rules=[rule(until={"day": 1})]), "rules[0].until.at: is required"),
        (
            data(rules=[rule(until={"day": 1, "at": "6am"})]),
            "rules[0].until.at: must be a time as HH:MM",
        ),
        (
            data(rules=[rule(until={"latest_of": []})]),
            "rules[0].until.latest_of: must list at least one window",
        ),
        (
            data(rules=[rule(until={"latest_of": ["never", "soon"]})]),
            "rules[0].until.latest_of[1]: unknown window 'soon'",
        ),
        (
            data(next_day_begins="24:00"),
            "next_day_begins: must be a time as HH:MM (00:00 to 23:59), not '24:00'",
        ),
        (data(next_day_begins="6:00"), "next_day_begins: must be a time as HH:MM"),
        (
            data(rules=[rule(while_restricted="banned")]),
            (
                "rules[0].while_restricted: must be one of not_permitted, permitted_with_caution, "
                "not 'banned'"
            ),
        ),
        (
            data(rules=[rule(while_restricted="permitted")]),
            "rules[0].while_restricted: must be one of",
        ),
        (
            data(rules=[rule(clinician_adjustable="yes")]),
            "rules[0].clinician_adjustable: must be true or false, not a string",
        ),
        (data(rules=[rule(activity="Driving")]), "rules[0].activity: 'Driving' is not an id"),
        (
            data(rules=[rule(), rule()]),
            "rules[1].activity: duplicate 'driving' (first at rules[0])",
        ),
        (data(rules=[rule(source={"title": "T"})]), "rules[0].source.section: is required"),
        (
            data(rules=[rule(source="the article")]),
            "rules[0].source: must be a table, not a string",
        ),
        (
            data(reviewed_on="yesterday"),
            "reviewed_on: must be a date as YYYY-MM-DD, not 'yesterday'",
        ),
        (
            data(reviewed_on=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)),
            "reviewed_on: must be a date",
        ),
        (data(advice="rest"), "advice: must be a list of tables, not a string"),
        (
            data(
                advice=[
                    {"id": "a", "category": "gossip", "title": "t", "text": "x", "source": SOURCE}
                ]
            ),
            "advice[0].category: must be one of after_effects",
        ),
        (
            data(
                advice=[
                    {
                        "id": "a",
                        "category": "lifestyle",
                        "title": "t",
                        "text": "x",
                        "source": SOURCE,
                        "symptoms": ["nausea"],
                    }
                ]
            ),
            "advice[0].symptoms: only after_effects advice may list symptoms",
        ),
        (
            data(
                advice=[
                    {
                        "id": "a",
                        "category": "lifestyle",
                        "title": "t",
                        "text": "x",
                        "source": SOURCE,
                        "actions": ["ok", 3],
                    }
                ]
            ),
            "advice[0].actions[1]: must be a string, not a number",
        ),
        (
            data(
                advice=[
                    {
                        "id": "a",
                        "category": "after_effects",
                        "title": "t",
                        "text": "x",
                        "source": SOURCE,
                        "symptoms": "nausea",
                    }
                ]
            ),
            "advice[0].symptoms: must be a list of ids, not a string",
        ),
        (
            data(
                advice=[
                    {
                        "id": "a",
                        "category": "lifestyle",
                        "title": "t",
                        "text": "x",
                        "source": SOURCE,
                    }
                ]
                * 2
            ),
            "advice[1].id: duplicate 'a'",
        ),
        ({1: "x", "id": "c", "version": "1", "title": "t", "rules": [rule()]}, "1: unknown key"),
    ],
)
def test_each_problem_is_named_with_its_path(raw, expected):
    found = problems(raw)
    assert any(p.startswith(expected) for p in found), found


def test_every_problem_is_listed_at_once():
    raw = data(
        version=2,
        rules=[
            rule(until={"hours": 0}),
            rule(activity="alcohol", label=""),
            {"activity": "x"},
        ],
    )
    found = problems(raw)
    assert found == [
        "version: must be a string, not a number",
        "rules[0].until.hours: must be a positive number of hours, not 0",
        "rules[1].label: must not be empty",
        "rules[2].label: is required",
        "rules[2].until: is required",
        "rules[2].reason: is required",
        "rules[2].source: is required",
    ]


def test_the_error_message_names_the_file_and_each_problem(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text(EXAMPLE_TOML.replace('"next_day"', "{ hours = -2 }"), encoding="utf-8")
    with pytest.raises(RulesetError) as info:
        load_ruleset(path)
    assert str(info.value) == (
        f"{path}: invalid ruleset: rules[0].until.hours: must be a positive number of hours, not -2"
    )
    assert info.value.problems == (
        RulesetProblem("rules[0].until.hours", "must be a positive number of hours, not -2"),
    )
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("broken.toml", "id = ", "not valid TOML"),
        ("broken.json", "{", "not valid JSON"),
        ("latin1.toml", "title = '\xe9'", "not valid TOML"),
    ],
)
def test_syntax_errors_are_ruleset_errors(tmp_path: Path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(RulesetError, match=expected):
        load_ruleset(path)


def test_a_missing_file_is_a_ruleset_error(tmp_path: Path):
    with pytest.raises(RulesetError, match="cannot read file: No such file or directory"):
        load_ruleset(tmp_path / "missing.toml")


def test_a_directory_is_a_ruleset_error(tmp_path: Path):
    with pytest.raises(RulesetError, match="cannot read file"):
        load_ruleset(tmp_path)


def test_files_over_the_size_limit_are_refused_before_parsing(tmp_path: Path):
    path = tmp_path / "huge.toml"
    path.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(RulesetError, match=f"the limit is {MAX_FILE_BYTES}"):
        load_ruleset(path)


def test_default_ruleset_is_loaded_once_and_shared():
    assert default_ruleset() is default_ruleset()


def test_from_dict_does_not_change_its_input():
    raw = data()
    before = copy.deepcopy(raw)
    ruleset_from_data(raw)
    assert raw == before


def test_a_value_of_an_unexpected_type_is_named_by_its_type():
    assert problems(data(title=None)) == ["title: must be a string, not NoneType"]
