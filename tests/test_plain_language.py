"""Plain language: every patient-facing text of the default ruleset reads at grade 8 or below.

Measured with the Flesch-Kincaid grade from pyphen syllable counts (``tests/readability.py``):
the average over all texts must be 8 or below, and no single text may score above 10.
``docs/explanation/plain-language.md`` states the figures; a test keeps them true.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ketamine_guidance import default_ruleset
from tests.readability import fk_grade, sentences, syllables, words

MAX_AVERAGE = 8.0
MAX_SINGLE = 10.0
DOCS_PAGE = Path(__file__).parent.parent / "docs" / "explanation" / "plain-language.md"


def patient_texts() -> list[tuple[str, str]]:
    """(where, text) for every text the patient reads: rule labels and reasons, advice."""
    ruleset = default_ruleset()
    texts = []
    for rule in ruleset.rules:
        texts += [(f"{rule.activity}.label", rule.label), (f"{rule.activity}.reason", rule.reason)]
    for a in ruleset.advice:
        texts += [(f"{a.id}.title", a.title), (f"{a.id}.text", a.text)]
        texts += [(f"{a.id}.actions[{i}]", t) for i, t in enumerate(a.actions)]
        texts += [(f"{a.id}.examples[{i}]", t) for i, t in enumerate(a.examples)]
    return texts


def grades() -> dict[str, float]:
    return {where: fk_grade(text) for where, text in patient_texts()}


# The measure itself, on cases worked out by hand


@pytest.mark.parametrize(("word", "count"), [("cat", 1), ("water", 2), ("exercise", 3)])
def test_syllables(word: str, count: int) -> None:
    assert syllables(word) == count


def test_words_and_sentences() -> None:
    text = "Rest today. Don't drive! Is it 06:00 yet?"
    assert words(text) == ["Rest", "today", "Don't", "drive", "Is", "it", "yet"]
    assert sentences(text) == 3
    assert sentences("No full stop") == 1


def test_fk_grade_by_hand() -> None:
    # 4 words, 1 sentence, 4 syllables: 0.39 * 4 + 11.8 * 1 - 15.59
    assert fk_grade("The cat sat down.") == pytest.approx(0.39 * 4 + 11.8 - 15.59)


def test_fk_grade_needs_words() -> None:
    with pytest.raises(ValueError, match="no words"):
        fk_grade("06:00 ...")


# The default ruleset


def test_every_patient_text_is_measured() -> None:
    ruleset = default_ruleset()
    expected = 2 * len(ruleset.rules) + sum(
        2 + len(a.actions) + len(a.examples) for a in ruleset.advice
    )
    assert len(patient_texts()) == expected


def test_average_grade_is_at_most_8() -> None:
    values = list(grades().values())
    assert sum(values) / len(values) <= MAX_AVERAGE


def test_no_text_is_above_grade_10() -> None:
    too_hard = {where: round(g, 1) for where, g in grades().items() if g > MAX_SINGLE}
    assert not too_hard


def test_every_text_speaks_plainly_in_short_sentences() -> None:
    long_sentences = [
        (where, s)
        for where, text in patient_texts()
        for s in re.split(r"(?<=[.!?])\s+", text)
        if len(words(s)) > 20
    ]
    assert not long_sentences


def test_the_docs_state_the_current_figures() -> None:
    values = list(grades().values())
    page = DOCS_PAGE.read_text(encoding="utf-8")
    stated = {
        "Texts measured": str(len(values)),
        "Average grade": f"{sum(values) / len(values):.1f}",
        "Highest grade": f"{max(values):.1f}",
    }
    for name, value in stated.items():
        row = f"| {name} | {value} |"
        assert row in page, f"{DOCS_PAGE.name} should have the table row {row!r}"
