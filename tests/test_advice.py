"""The default advice: structure, coverage of the article, lookups, and loader checks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ketamine_guidance import (
    AdviceCategory,
    AftercarePlan,
    GuidanceError,
    Ruleset,
    RulesetError,
    Session,
    UnknownSymptomError,
    default_ruleset,
    plan_for,
)

ARTICLE = "So You Just Had A Ketamine Therapy Session \N{EN DASH} Now What?"

#: Every section heading of the article, in order, as printed there.  The closing
#: paragraph ("On a final note, ...") has no heading; it stands under the last one.
ARTICLE_SECTIONS = (
    "Take It Easy On The Day Of Your Ketamine Session",
    "What To Eat And Drink After Ketamine Therapy",
    "Advice on Medications and Drugs",
    "After Ketamine, Continue To Look After Your Mental Health",
    "Begin The Process Of Integration",
    "Be Careful How You Interpret And Talk About Your Ketamine Therapy Session",
)

SOURCE = {"title": ARTICLE, "section": ARTICLE_SECTIONS[0]}


@pytest.fixture
def plan() -> AftercarePlan:
    ended = dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.timezone.utc)
    return plan_for(Session(ended, "America/New_York"))


# Structure of the default advice


def test_every_category_has_advice() -> None:
    present = {a.category for a in default_ruleset().advice}
    assert present == set(AdviceCategory)


def test_every_advice_item_cites_a_section_of_the_article() -> None:
    for advice in default_ruleset().advice:
        assert advice.source.title == ARTICLE, advice.id
        assert advice.source.section in ARTICLE_SECTIONS, advice.id


def test_every_rule_cites_a_section_of_the_article() -> None:
    for rule in default_ruleset().rules:
        assert rule.source.title == ARTICLE, rule.activity
        assert rule.source.section in ARTICLE_SECTIONS, rule.activity


def test_every_section_of_the_article_is_cited() -> None:
    ruleset = default_ruleset()
    cited = {r.source.section for r in ruleset.rules} | {a.source.section for a in ruleset.advice}
    missing = [s for s in ARTICLE_SECTIONS if s not in cited]
    assert not missing, f"sections cited by no rule or advice item: {missing}"


def test_the_closing_paragraph_cites_the_heading_it_stands_under() -> None:
    (expectations,) = (
        a for a in default_ruleset().advice if a.category is AdviceCategory.EXPECTATIONS
    )
    assert expectations.source.section == ARTICLE_SECTIONS[-1]


def test_advice_ids_are_unique() -> None:
    ids = [a.id for a in default_ruleset().advice]
    assert len(ids) == len(set(ids))


def test_only_after_effects_advice_lists_symptoms() -> None:
    for advice in default_ruleset().advice:
        if advice.category is not AdviceCategory.AFTER_EFFECTS:
            assert advice.symptoms == (), advice.id


def test_default_knows_the_symptoms_the_article_names() -> None:
    assert {"sedation", "low_energy", "nausea"} <= set(default_ruleset().symptoms)


def test_intention_advice_gives_two_kinds_of_example() -> None:
    (intention,) = (a for a in default_ruleset().advice if a.id == "set_intention")
    assert intention.category is AdviceCategory.INTEGRATION
    assert len(intention.examples) == 2


# Lookups on a plan


def test_advice_without_category_is_all_of_it_in_file_order(plan: AftercarePlan) -> None:
    assert plan.advice() == default_ruleset().advice


@pytest.mark.parametrize("category", list(AdviceCategory))
def test_advice_by_category(plan: AftercarePlan, category: AdviceCategory) -> None:
    chosen = plan.advice(category)
    assert chosen
    assert all(a.category is category for a in chosen)
    expected = [a for a in default_ruleset().advice if a.category is category]
    assert list(chosen) == expected


def test_advice_category_must_be_an_advice_category(plan: AftercarePlan) -> None:
    with pytest.raises(TypeError, match=r"AdviceCategory\.AFTER_EFFECTS"):
        plan.advice("after_effects")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("symptom", "expected_id"),
    [
        ("sedation", "sleepy_and_tired"),
        ("low_energy", "sleepy_and_tired"),
        ("nausea", "feeling_sick"),
    ],
)
def test_advice_for_symptom(plan: AftercarePlan, symptom: str, expected_id: str) -> None:
    found = plan.advice_for_symptom(symptom)
    assert [a.id for a in found] == [expected_id]
    assert all(a.category is AdviceCategory.AFTER_EFFECTS for a in found)


@pytest.mark.parametrize("symptom", ["headache", "Nausea", "", 3, None])
def test_unknown_symptom_raises_naming_the_known_ones(plan: AftercarePlan, symptom: Any) -> None:
    with pytest.raises(UnknownSymptomError) as info:
        plan.advice_for_symptom(symptom)
    assert isinstance(info.value, LookupError)
    assert isinstance(info.value, GuidanceError)
    message = str(info.value)
    for known in ("low_energy", "nausea", "sedation"):
        assert known in message


def test_unknown_symptom_in_a_ruleset_without_advice() -> None:
    ruleset = Ruleset.from_dict(_ruleset_data(advice=[]))
    ended = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    with pytest.raises(UnknownSymptomError, match="declares no symptom ids"):
        plan_for(Session(ended, "UTC"), ruleset).advice_for_symptom("nausea")


# The loader and [[advice]] tables


def _advice(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": "rest",
        "category": "after_effects",
        "title": "Rest",
        "text": "Rest today.",
        "source": dict(SOURCE),
    }
    item.update(changes)
    return {k: v for k, v in item.items() if v is not None}


def _ruleset_data(advice: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "clinic",
        "version": "1",
        "title": "Clinic aftercare",
        "rules": [
            {
                "activity": "driving",
                "label": "Driving",
                "until": "next_day",
                "reason": "Wait.",
                "source": dict(SOURCE),
            }
        ],
    }
    if advice is not None:
        data["advice"] = advice
    return data


def test_a_ruleset_without_advice_loads() -> None:
    ruleset = Ruleset.from_dict(_ruleset_data())
    assert ruleset.advice == ()
    assert ruleset.symptoms == ()


def test_advice_loads_in_file_order_with_its_fields() -> None:
    data = _ruleset_data(
        [
            _advice(id="b", actions=["Sit down."], symptoms=["dizziness"]),
            _advice(id="a", category="integration", examples=["Walk daily."]),
        ]
    )
    ruleset = Ruleset.from_dict(data)
    assert [a.id for a in ruleset.advice] == ["b", "a"]
    assert ruleset.advice[0].actions == ("Sit down.",)
    assert ruleset.advice[1].examples == ("Walk daily.",)
    assert ruleset.symptoms == ("dizziness",)


@pytest.mark.parametrize(
    ("advice", "path", "message"),
    [
        ([_advice(id=None)], "advice[0].id", "is required"),
        ([_advice(title=None)], "advice[0].title", "is required"),
        ([_advice(text="  ")], "advice[0].text", "must not be empty"),
        ([_advice(source=None)], "advice[0].source", "is required"),
        ([_advice(source={"title": ARTICLE})], "advice[0].source.section", "is required"),
        ([_advice(category="mood")], "advice[0].category", "must be one of"),
        ([_advice(id="Bad Id")], "advice[0].id", "is not an id"),
        ([_advice(actions="Lie down.")], "advice[0].actions", "must be a list"),
        ([_advice(actions=["ok", 3])], "advice[0].actions[1]", "must be a string"),
        ([_advice(examples=[""])], "advice[0].examples[0]", "must not be empty"),
        ([_advice(symptoms=["Nausea"])], "advice[0].symptoms[0]", "is not an id"),
        (
            [_advice(category="integration", symptoms=["nausea"])],
            "advice[0].symptoms",
            "only after_effects",
        ),
        ([_advice(colour="red")], "advice[0].colour", "unknown key"),
        ([_advice(), _advice()], "advice[1].id", "duplicate 'rest'"),
        ("rest", "advice", "must be a list"),
        (["rest"], "advice[0]", "must be a table"),
    ],
)
def test_loader_rejects_bad_advice_with_field_paths(advice: Any, path: str, message: str) -> None:
    with pytest.raises(RulesetError) as info:
        Ruleset.from_dict(_ruleset_data(advice))
    problems = {p.path: p.message for p in info.value.problems}
    assert path in problems, problems
    assert message in problems[path]


def test_loader_reports_every_bad_advice_item_at_once() -> None:
    data = _ruleset_data([_advice(id="a", title=3), _advice(id="b", category="x")])
    with pytest.raises(RulesetError) as info:
        Ruleset.from_dict(data)
    assert {p.path for p in info.value.problems} == {"advice[0].title", "advice[1].category"}


@pytest.mark.parametrize("contact", [3, "", ["a"]])
def test_loader_rejects_a_bad_contact_line(contact: Any) -> None:
    data = _ruleset_data()
    data["contact"] = contact
    with pytest.raises(RulesetError) as info:
        Ruleset.from_dict(data)
    assert [p.path for p in info.value.problems] == ["contact"]
