"""CDS Hooks cards: what a prescriber sees when ordering within the window."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketamine_guidance import (
    ACTIVITY_SYSTEM,
    DEFAULT_SOURCE_LABEL,
    ExportError,
    Session,
    Status,
    cds_response,
    plan_for,
    to_cds_card,
)
from tests.interop_fixtures import UTC, clinic_plan
from tests.rendered import markdown_html, markdown_words
from tests.strategies import SAFE

AT = dt.datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 21:00 EST on the evening of the session
INDICATORS = {"info", "warning", "critical"}  # CDS Hooks 1.0/2.0


def test_a_sedative_ordered_the_same_evening_gets_a_warning() -> None:
    plan = plan_for(Session(dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC), "America/New_York"))
    card = to_cds_card(plan.check("sedative_medications", AT), source_label="Clinic CDS")
    assert card is not None
    assert card["indicator"] == "warning"
    assert card["summary"] == (
        "Taking sedatives: not permitted after ketamine until Thu 26 Nov 2026, 06:00 EST"
    )
    assert len(card["summary"]) < 140
    shown = markdown_words(card["detail"])
    assert "Sedatives on the same day can make you even more drowsy." in shown
    assert "Permitted from Thu 26 Nov 2026, 06:00 EST (America/New_York)." in shown
    assert "Permitted from **Thu 26 Nov 2026, 06:00 EST** (America/New_York)." in card["detail"]
    assert card["source"] == {
        "label": "Clinic CDS",
        "topic": {
            "system": ACTIVITY_SYSTEM,
            "code": "sedative_medications",
            "display": "Taking sedatives",
        },
    }


def test_caution_gives_info_and_permitted_gives_no_card() -> None:
    plan = clinic_plan()
    card = to_cds_card(plan.check("exercise", AT))
    assert card is not None
    assert card["indicator"] == "info"
    assert card["summary"].startswith("Exercise: permitted with caution after ketamine until")
    assert card["source"]["label"] == DEFAULT_SOURCE_LABEL
    assert to_cds_card(plan.check("water", AT)) is None
    later = dt.datetime(2026, 11, 27, tzinfo=UTC)
    assert to_cds_card(plan.check("driving", later)) is None


def test_a_never_lifting_restriction_says_so() -> None:
    card = to_cds_card(clinic_plan().check("recreational_drugs", AT))
    assert card is not None
    assert "until" not in card["summary"]
    assert "No end is given: only a clinician can lift this restriction." in card["detail"]


def test_response_puts_warnings_first_and_may_be_empty() -> None:
    plan = clinic_plan()
    response = cds_response(plan.decisions_at(AT))
    indicators = [c["indicator"] for c in response["cards"]]
    assert indicators == ["warning"] * 4 + ["info"]
    assert [c["source"]["topic"]["code"] for c in response["cards"][:4]] == [
        "driving", "sedative_medications", "flying", "recreational_drugs"
    ]  # fmt: skip
    assert cds_response([]) == {"cards": []}
    assert cds_response(plan.decisions_at(dt.datetime(2026, 11, 28, tzinfo=UTC)))["cards"] == [
        c for c in response["cards"] if c["source"]["topic"]["code"] == "recreational_drugs"
    ]


def test_markdown_in_ruleset_text_is_escaped() -> None:
    decision = attrs.evolve(
        clinic_plan().check("driving", AT), label="Use *this* [link]", reason="No <b>_x_</b>"
    )
    card = to_cds_card(decision)
    assert card is not None
    assert r"**Use \*this\* \[link\]**" in card["detail"]
    assert r"No \<b\>\_x\_\<\/b\>" in card["detail"]
    page = markdown_html(card["detail"])
    assert "<strong>Use *this* [link]</strong>" in page
    assert "No &lt;b&gt;_x_&lt;/b&gt;" in page


@given(label=st.text(SAFE, min_size=1, max_size=300).filter(str.strip))
def test_summary_is_under_140_characters_and_names_the_label(label: str) -> None:
    decision = attrs.evolve(clinic_plan().check("driving", AT), label=label)
    card = to_cds_card(decision)
    assert card is not None
    assert len(card["summary"]) < 140
    if len(label) <= 100:
        assert card["summary"].startswith(label)
    else:
        assert card["summary"].startswith(label[:50])


def test_a_long_label_drops_the_time_then_is_shortened() -> None:
    decision = clinic_plan().check("driving", AT)
    card = to_cds_card(attrs.evolve(decision, label="L" * 100))
    assert card is not None
    assert card["summary"] == "L" * 100 + ": not permitted after ketamine"
    card = to_cds_card(attrs.evolve(decision, label="L" * 200))
    assert card is not None
    assert card["summary"] == "L" * 108 + "…: not permitted after ketamine"
    assert len(card["summary"]) == 139


@pytest.mark.parametrize("label", ["", "  "])
def test_source_label_must_be_text(label: object) -> None:
    with pytest.raises(ExportError, match="source_label"):
        to_cds_card(clinic_plan().check("driving", AT), source_label=label)  # type: ignore[arg-type]


@pytest.mark.parametrize("label", [None, 3, b"x"])
def test_a_source_label_that_is_not_a_string_is_a_type_error(label: object) -> None:
    with pytest.raises(TypeError, match=r"^source_label must be a string, not "):
        to_cds_card(clinic_plan().check("driving", AT), source_label=label)  # type: ignore[arg-type]


def test_only_decisions_are_accepted() -> None:
    with pytest.raises(TypeError, match="decision must be a Decision"):
        to_cds_card(Status.NOT_PERMITTED)  # type: ignore[arg-type]
    assert {
        c["indicator"] for c in cds_response(clinic_plan().decisions_at(AT))["cards"]
    } <= INDICATORS
