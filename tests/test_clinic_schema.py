"""The shipped JSON Schema and the loader agree (issue 4), and loading never crashes."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from ketamine_guidance import Ruleset, RulesetError, load_ruleset, ruleset_schema, validate_ruleset
from ketamine_guidance._rules.loader import read_ruleset_data
from tests.strategies import ruleset_data

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.*"))
DEFAULT = ROOT / "src" / "ketamine_guidance" / "_rules" / "data" / "default.toml"
REFERENCE = ROOT / "docs" / "reference" / "ruleset-format.md"

Draft202012Validator.check_schema(ruleset_schema())
VALIDATOR = Draft202012Validator(
    ruleset_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER
)


def as_json(data: object) -> object:
    """TOML data as JSON would carry it: dates as YYYY-MM-DD strings."""
    return json.loads(json.dumps(data, default=lambda d: d.isoformat()))


def schema_accepts(data: object) -> bool:
    return VALIDATOR.is_valid(as_json(data))


def loader_accepts(data: object) -> bool:
    try:
        Ruleset.from_dict(data)
    except RulesetError:
        return False
    return True


# Every file the docs show


def test_the_docs_show_three_example_clinics() -> None:
    assert {p.name for p in EXAMPLES} >= {
        "clinic-24-hours.toml",
        "clinic-next-day-and-8-hours.toml",
        "clinic-extends-default.toml",
    }


@pytest.mark.parametrize("path", [DEFAULT, *EXAMPLES], ids=lambda p: p.name)
def test_every_shipped_and_example_file_is_valid_under_both(path: Path) -> None:
    assert validate_ruleset(path) == []
    assert load_ruleset(path).rules
    errors = [e.message for e in VALIDATOR.iter_errors(as_json(read_ruleset_data(path)))]
    assert errors == []


@given(ruleset_data)
def test_generated_valid_rulesets_are_valid_under_both(data: dict[str, Any]) -> None:
    assert loader_accepts(data)
    assert schema_accepts(data)


@given(ruleset_data)
def test_generated_valid_rulesets_round_trip_through_json_files(data: dict[str, Any]) -> None:
    # Ruleset.to_dict is another branch's; here: the data, written as a file, loads the same.
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        assert load_ruleset(path) == Ruleset.from_dict(data)


# Generated invalid files: mutate a valid one anywhere, and both must give one verdict.

NEAR_MISSES = st.sampled_from(
    [
        "",
        " ",
        "next_day",
        "tomorrow",
        "24:00",
        "06:00",
        "6:00",
        "\u0660\u0666:00",  # Arabic-Indic digits
        "2026-02-30",
        "2026-01-15",
        "20260115",
        "Driving",
        "driving",
        "after_effects",
        "permitted",
        0,
        -1,
        1,
        1.5,
        2.0,
        87840,
        87841,
        True,
        [],
        {},
        {"hours": 0},
        {"hours": 24, "day": 1},
        {"day": 0, "at": "06:00"},
        {"day": 2, "at": "07:00"},
        {"at": "07:00"},
        {"latest_of": []},
        {"latest_of": ["never"]},
    ]
)
JUNK: st.SearchStrategy[object] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


def locations(data: object, here: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """The path of every value inside ``data``."""
    found = [here]
    if isinstance(data, dict):
        for key, value in data.items():
            found += locations(value, (*here, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += locations(value, (*here, i))
    return found


def has_duplicates(data: object) -> bool:
    """Duplicate activities or advice ids: the one check JSON Schema cannot make."""
    if not isinstance(data, dict):
        return False
    for key, ident in (("rules", "activity"), ("advice", "id")):
        items = data.get(key)
        if isinstance(items, list):
            ids = [i.get(ident) for i in items if isinstance(i, dict) and ident in i]
            if len(ids) != len({json.dumps(i) for i in ids}):
                return True
    return False


@given(ruleset_data, st.data())
def test_a_mutated_file_gets_one_verdict_from_both(data: dict[str, Any], draw: Any) -> None:
    mutated: Any = copy.deepcopy(data)
    where = draw.draw(st.sampled_from(locations(mutated)))
    action = draw.draw(st.sampled_from(["replace", "delete", "add"]))
    *parents, last = where or (None,)
    parent = mutated
    for step in parents:
        parent = parent[step]
    if not where:
        action = "add"
    if action == "replace":
        parent[last] = draw.draw(NEAR_MISSES | JUNK)
    elif action == "delete":
        del parent[last]
    else:
        target = parent[last] if where else mutated
        assume(isinstance(target, dict))
        target[draw.draw(st.text(max_size=12))] = draw.draw(NEAR_MISSES | JUNK)
    # extends names a file, which only the loader can look for; see the extends tests.
    assume(not (isinstance(mutated, dict) and "extends" in mutated))
    assume(not has_duplicates(mutated))
    assert loader_accepts(mutated) == schema_accepts(mutated)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"rules": []}, "rules"),
        ({"remove": ["driving"]}, "remove"),
        ({"next_day_begins": "\u0660\u0666:00"}, "next_day_begins"),
        ({"reviewed_on": "2026-02-30"}, "reviewed_on"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_named_invalid_files_are_refused_by_both(change: dict[str, Any], where: str) -> None:
    data = {
        "id": "c",
        "version": "1",
        "title": "C",
        "rules": [
            {
                "activity": "driving",
                "label": "Driving",
                "until": {"day": 2.0, "at": "07:00"},
                "reason": "r",
                "source": {"title": "t", "section": "s"},
            }
        ],
    }
    assert loader_accepts(data)
    assert schema_accepts(data)
    data.update(change)
    assert [p.path for p in validate_ruleset(data)] == [where]
    assert not schema_accepts(data)


def test_advice_symptoms_only_for_after_effects_in_both() -> None:
    item = {
        "id": "dizzy",
        "category": "integration",
        "title": "T",
        "text": "T",
        "source": {"title": "t", "section": "s"},
        "symptoms": ["dizziness"],
    }
    data = {**json.loads(json.dumps(as_json(read_ruleset_data(DEFAULT)))), "advice": [item]}
    assert not loader_accepts(data)
    assert not schema_accepts(data)
    item["category"] = "after_effects"
    assert loader_accepts(data)
    assert schema_accepts(data)


# Any nested data: loads, or RulesetError; never anything else.

NESTED: st.SearchStrategy[object] = st.recursive(
    st.integers() | st.floats() | st.text(max_size=10) | NEAR_MISSES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["id", "version", "title", "rules", "until", "hours", "latest_of"])
            | st.text(max_size=6),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@given(NESTED)
def test_any_nested_data_loads_or_raises_ruleset_error(data: object) -> None:
    outcome: object
    try:
        outcome = Ruleset.from_dict(data)
    except RulesetError as exc:  # anything else fails the test
        outcome = exc.problems
    if isinstance(outcome, tuple):
        assert outcome
        assert all(isinstance(p.message, str) and p.message for p in outcome)
    else:
        assert isinstance(outcome, Ruleset)


@given(ruleset_data, st.sampled_from(["rules", "advice"]), NESTED)
def test_nested_junk_inside_a_valid_file_loads_or_raises(
    data: dict[str, Any], key: str, junk: object
) -> None:
    data[key] = [*data.get(key, []), junk]
    with pytest.raises(RulesetError) as exc:
        Ruleset.from_dict(data)
    assert all(p.path.startswith(f"{key}[") for p in exc.value.problems)


# The reference page and the schema name the same keys


def documented_keys() -> set[str]:
    text = REFERENCE.read_text(encoding="utf-8")
    # The key is the first cell of a row, or the second in the windows table.
    return set(re.findall(r"^\|(?:[^|]*\|)?\s*`([a-z_]+)`\s*\|", text, flags=re.MULTILINE))


def schema_keys() -> set[str]:
    schema = ruleset_schema()
    keys = set(schema["properties"])
    for name in ("rule", "advice", "source", "translation"):
        keys |= set(schema["$defs"][name]["properties"])
    for form in schema["$defs"]["window"]["oneOf"]:
        keys |= set(form.get("properties", {})) | set(form.get("enum", []))
    return keys


def test_the_reference_page_documents_every_key_of_the_schema_and_no_other() -> None:
    assert documented_keys() == schema_keys()


def test_the_reference_page_shows_the_shipped_schema() -> None:
    assert "src/ketamine_guidance/schemas/ruleset.schema.json" in REFERENCE.read_text("utf-8")


def test_the_cli_prints_the_schema() -> None:
    import io

    from ketamine_guidance._cli import main

    out = io.StringIO()
    assert main(["schema"], out=out) == 0
    assert json.loads(out.getvalue()) == ruleset_schema()
