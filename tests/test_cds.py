"""CDS Hooks cards: what a prescriber sees when ordering within the window."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from ketamine_guidance import (
    ACTIVITY_SYSTEM,
    DEFAULT_SOURCE_LABEL,
    ExportError,
    Session,
    Status,
    cds_response,
    plan_for,
    plan_for_course,
    to_cds_card,
)
from tests.interop_fixtures import UTC, clinic_plan, clinic_ruleset
from tests.rendered import markdown_html
from tests.strategies import SAFE


def _shown(text: str) -> str:
    """What a CommonMark renderer shows of Markdown: the text, without tags."""
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", MarkdownIt("commonmark").render(text))).strip()


AT = dt.datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 21:00 EST on the evening of the session
INDICATORS = {"info", "warning", "critical"}  # CDS Hooks 1.0/2.0


def test_a_sedative_ordered_the_same_evening_gets_a_warning() -> None:
    plan = plan_for(Session(dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC), "America/New_York"))
    card = to_cds_card(plan.check("sedative_medications", AT), source_label="Clinic CDS")
    assert card is not None
    assert card["indicator"] == "warning"
    lift = plan.check("sedative_medications", AT).permitted_from
    assert lift is not None
    until = f"{lift:%a} {lift.day} {lift:%b %H:%M} {lift.tzname()}"  # computed, not pinned
    assert card["summary"] == (
        f"Taking sedatives: not permitted until {until}; ketamine session ended 18:30"
    )
    assert len(card["summary"]) < 140
    shown = _shown(card["detail"])
    # The patient's reason is quoted for the clinician, as the patient was told it.
    assert "What the patient was told:" in shown
    quoted = next(line for line in card["detail"].split("\n") if line.startswith("> "))
    assert _shown(quoted) == plan.ruleset.rule("sedative_medications").reason
    assert "The ketamine session ended Wed 25 Nov 18:30 EST (America/New_York)." in shown
    assert plan.ruleset.digest in shown
    assert card["source"] == {
        "label": f"Clinic CDS · rules {plan.ruleset.digest}",
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
    assert card["summary"].startswith("Exercise: take care until ")
    assert "; after that permitted; ketamine session ended 18:30" in card["summary"]
    assert card["source"]["label"].startswith(DEFAULT_SOURCE_LABEL + " · rules sha256:")
    assert to_cds_card(plan.check("water", AT)) is None
    later = dt.datetime(2026, 11, 27, tzinfo=UTC)
    assert to_cds_card(plan.check("driving", later)) is None


def test_a_never_lifting_restriction_says_so() -> None:
    card = to_cds_card(clinic_plan().check("recreational_drugs", AT))
    assert card is not None
    assert "until" not in card["summary"]
    assert card["summary"].startswith("Recreational drugs: not permitted; no end is given")
    assert "The ruleset gives no end: treat it as in force." in _shown(card["detail"])
    assert "clinician can lift" not in card["detail"]


def test_response_puts_warnings_first_and_may_be_empty() -> None:
    plan = clinic_plan()
    response = cds_response(plan.decisions_at(AT))
    indicators = [c["indicator"] for c in response["cards"]]
    assert indicators == ["warning"] * 4 + ["info"]
    assert [c["source"]["topic"]["code"] for c in response["cards"][:4]] == [
        "driving", "sedative_medications", "flying", "recreational_drugs"
    ]  # fmt: skip
    assert cds_response([]) == {"cards": []}
    (later,) = cds_response(plan.decisions_at(dt.datetime(2026, 11, 28, tzinfo=UTC)))["cards"]
    assert later["source"]["topic"]["code"] == "recreational_drugs"


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
    assert "No <b>_x_</b>" in _shown(card["detail"])
    assert "<b>" not in MarkdownIt("commonmark").render(card["detail"])


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
    card = to_cds_card(attrs.evolve(decision, label="L" * 90))
    assert card is not None
    assert card["summary"].startswith("L" * 90 + ": not permitted until ")
    assert "ketamine session ended" not in card["summary"]
    card = to_cds_card(attrs.evolve(decision, label="L" * 120))
    assert card is not None
    assert card["summary"] == "L" * 120 + ": not permitted"
    card = to_cds_card(attrs.evolve(decision, label="L" * 200))
    assert card is not None
    assert card["summary"] == "L" * 123 + "…: not permitted"
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


def test_uuid_is_stable_for_the_same_plan_decision_and_instant() -> None:
    plan = clinic_plan()
    first = to_cds_card(plan.check("driving", AT))
    again = to_cds_card(clinic_plan().check("driving", AT))
    later = to_cds_card(plan.check("driving", AT + dt.timedelta(minutes=5)))
    other = to_cds_card(plan.check("flying", AT))
    assert first is not None
    assert again is not None
    assert later is not None
    assert other is not None
    assert first["uuid"] == again["uuid"]
    assert len({first["uuid"], later["uuid"], other["uuid"]}) == 3
    overridden = plan.with_override(
        "driving", status=Status.NOT_PERMITTED, effective_from=AT, clinician="Dr Rivera",
        note="still drowsy",
    )  # fmt: skip
    card = to_cds_card(overridden.check("driving", AT))
    assert card is not None
    assert card["uuid"] != first["uuid"]
    assert "Set by Dr Rivera from Wed 25 Nov 21:00 EST: still drowsy" in _shown(card["detail"])


def test_a_course_and_a_plan_are_accepted_and_the_audit_is_named() -> None:
    course = plan_for_course(
        [
            Session(dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC), "America/New_York"),
            Session(dt.datetime(2026, 11, 26, 23, 30, tzinfo=UTC), "America/New_York"),
        ],
        clinic_ruleset(),
    )
    at = dt.datetime(2026, 11, 27, 2, tzinfo=UTC)
    response = cds_response(course, at=at)
    assert response == cds_response(course.decisions_at(at))
    driving = next(c for c in response["cards"] if c["source"]["topic"]["code"] == "driving")
    assert driving["summary"].endswith("; ketamine session ended 18:30")
    assert "Thu 26 Nov 18:30 EST" in _shown(driving["detail"])  # the governing session
    audit = driving["extension"]["ketamine-guidance-audit"]
    assert audit["ruleset"] == {"id": "clinic", "version": "3", "digest": course.ruleset.digest}
    assert audit["tzdb"]["version"]
    assert cds_response(clinic_plan(), at=AT) == cds_response(clinic_plan().decisions_at(AT))
    with pytest.raises(ExportError, match="needs at"):
        cds_response(course)
    with pytest.raises(ExportError, match="at applies only"):
        cds_response(course.decisions_at(at), at=at)


def test_a_time_shown_to_the_minute_is_never_early() -> None:
    plan = plan_for(
        Session(dt.datetime(2026, 11, 25, 23, 30, 0, 250000, tzinfo=UTC), "America/New_York"),
        clinic_ruleset(),
    )
    decision = plan.check("sedative_medications", AT)  # 24 hours after 18:30:00.25 EST
    assert decision.permitted_from is not None
    assert decision.permitted_from.microsecond == 250000
    card = to_cds_card(decision)
    assert card is not None
    assert "not permitted until Thu 26 Nov 18:31 EST" in card["summary"]


def test_a_decision_built_by_hand_and_a_session_on_another_day() -> None:
    decision = attrs.evolve(clinic_plan().check("driving", AT), ruleset=None, at=None)
    card = to_cds_card(decision)
    assert card is not None
    assert card["source"]["label"] == DEFAULT_SOURCE_LABEL
    assert card["extension"]["ketamine-guidance-audit"]["ruleset"] is None
    assert card["summary"].endswith("ketamine session ended Wed 25 Nov 18:30 EST")
    caution = attrs.evolve(
        clinic_plan().check("exercise", AT), permitted_from=None, permitted_from_utc=None
    )
    card = to_cds_card(caution)
    assert card is not None
    assert card["summary"].startswith("Exercise: take care; no end is given")


def test_an_overrides_times_on_a_card_are_rounded_on_the_safe_side() -> None:
    """A ban from 21:00:30 until 23:00:30 EST: shown from 21:00 until 23:01 (H38)."""
    ban = clinic_plan().with_override(
        "driving",
        status=Status.NOT_PERMITTED,
        effective_from=AT + dt.timedelta(seconds=30),
        until=AT + dt.timedelta(hours=2, seconds=30),
        clinician="Dr Rivera",
    )
    card = to_cds_card(ban.check("driving", AT + dt.timedelta(minutes=5)))
    assert card is not None
    assert "Set by Dr Rivera from Wed 25 Nov 21:00 EST until Wed 25 Nov 23:01 EST." in (
        _shown(card["detail"])
    )
