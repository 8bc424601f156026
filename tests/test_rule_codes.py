"""Rule codes (issue 15): the loader, the schema, diff and matching agree."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from ketamine_guidance import (
    ATC_SYSTEM,
    Code,
    Ruleset,
    RulesetError,
    default_ruleset,
    diff_rulesets,
    ruleset_schema,
    validate_ruleset,
)

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
VALIDATOR = Draft202012Validator(ruleset_schema())


def ruleset_with(codes: object) -> dict[str, Any]:
    return {
        "id": "t",
        "version": "1",
        "title": "T",
        "rules": [
            {
                "activity": "sedative_medications",
                "label": "Sedatives",
                "until": "next_day",
                "reason": "Wait.",
                "source": {"title": "A", "section": "B"},
                "codes": codes,
            }
        ],
    }


def test_the_default_ruleset_maps_sedatives_and_opioids_to_atc_classes() -> None:
    ruleset = default_ruleset()
    assert ruleset.rule("sedative_medications").codes == (
        Code(ATC_SYSTEM, "N05B"),
        Code(ATC_SYSTEM, "N05C"),
    )
    assert ruleset.rule("prescription_pain_medication").codes == (Code(ATC_SYSTEM, "N02A"),)
    assert ruleset.rule("driving").codes == ()


def test_codes_load_and_round_trip_through_the_document() -> None:
    data = ruleset_with(
        [{"system": RXNORM, "code": " 1000001 "}, {"system": ATC_SYSTEM, "code": "N05C"}]
    )
    ruleset = Ruleset.from_dict(data)
    assert ruleset.rules[0].codes == (Code(RXNORM, "1000001"), Code(ATC_SYSTEM, "N05C"))
    document = ruleset.to_dict()
    assert document["rules"][0]["codes"] == [
        {"system": RXNORM, "code": "1000001"},
        {"system": ATC_SYSTEM, "code": "N05C"},
    ]
    assert Ruleset.from_dict({k: v for k, v in document.items() if k != "schema"}) == ruleset


BAD_CODES: list[tuple[object, str]] = [
    ("N05C", "rules[0].codes"),
    ([{"system": ATC_SYSTEM}], "rules[0].codes[0].code"),
    ([{"code": "N05C"}], "rules[0].codes[0].system"),
    ([{"system": ATC_SYSTEM, "code": "  "}], "rules[0].codes[0].code"),
    ([{"system": ATC_SYSTEM, "code": 5}], "rules[0].codes[0].code"),
    ([{"system": ATC_SYSTEM, "code": "N05C", "display": "x"}], "rules[0].codes[0].display"),
    (["N05C"], "rules[0].codes[0]"),
]


@pytest.mark.parametrize(("codes", "path"), BAD_CODES)
def test_bad_codes_are_refused_by_loader_and_schema_alike(codes: object, path: str) -> None:
    data = ruleset_with(codes)
    problems = validate_ruleset(data)
    assert [p.path for p in problems] == [path]
    with pytest.raises(RulesetError):
        Ruleset.from_dict(data)
    assert not VALIDATOR.is_valid(json.loads(json.dumps(data)))


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "system": st.sampled_from([ATC_SYSTEM, RXNORM]),
                "code": st.from_regex(r"[A-Z0-9]{1,7}", fullmatch=True),
            }
        ),
        max_size=4,
    )
)
def test_good_codes_are_accepted_by_both(codes: list[dict[str, str]]) -> None:
    data = ruleset_with(codes)
    assert validate_ruleset(data) == []
    assert VALIDATOR.is_valid(data)


@pytest.mark.parametrize(
    ("rule_code", "system", "code", "expected"),
    [
        (Code(ATC_SYSTEM, "N05C"), ATC_SYSTEM, "N05CD08", True),  # midazolam, in the class
        (Code(ATC_SYSTEM, "N05C"), ATC_SYSTEM, "n05cd08", True),
        (Code(ATC_SYSTEM, "N05C"), ATC_SYSTEM, "N05C", True),
        (Code(ATC_SYSTEM, "N05C"), ATC_SYSTEM, "N05BA01", False),  # diazepam: N05B, not N05C
        (Code(ATC_SYSTEM, "N05C"), RXNORM, "N05CD08", False),  # another system
        (Code(ATC_SYSTEM, "N05C"), ATC_SYSTEM, None, False),
        (Code(RXNORM, "1000"), RXNORM, "1000001", False),  # no prefix matching outside ATC
        (Code(RXNORM, "1000001"), RXNORM, "1000001", True),
    ],
)
def test_a_code_matches_itself_and_atc_codes_inside_its_class(
    rule_code: Code, system: str, code: object, expected: bool
) -> None:
    assert rule_code.matches(system, code) is expected


def test_diff_shows_codes_added_as_system_and_code() -> None:
    base = default_ruleset()
    rule = base.rule("sedative_medications")
    clinic = attrs.evolve(
        base,
        rules=tuple(
            attrs.evolve(r, codes=(*r.codes, Code(RXNORM, "1000001"))) if r is rule else r
            for r in base.rules
        ),
    )
    text = str(diff_rulesets(base, clinic))
    assert "sedative_medications: codes:" in text
    assert f"{RXNORM}|1000001]" in text
    assert f"[{ATC_SYSTEM}|N05B, {ATC_SYSTEM}|N05C] ->" in text
