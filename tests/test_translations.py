"""Translations: the ruleset file's reviewed translations (loader, schema, diff, documents)
and the sheet's own gettext catalogues (complete, placeholders kept, template current)."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import string
from pathlib import Path
from typing import Any

import attrs
import pytest
from jsonschema import Draft202012Validator

from ketamine_guidance import (
    AdviceTranslation,
    Ruleset,
    RulesetError,
    RuleTranslation,
    Session,
    Translation,
    default_ruleset,
    diff_rulesets,
    load_ruleset,
    plan_for,
    render_sheet,
    ruleset_schema,
    validate_ruleset,
)
from ketamine_guidance._cli import main
from tests.schema_check import validator

ROOT = Path(__file__).parent.parent
LOCALE = ROOT / "src" / "ketamine_guidance" / "locale"
SPANISH_CLINIC = ROOT / "docs" / "examples" / "clinic-spanish.toml"
SCHEMA = Draft202012Validator(ruleset_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def base_data(**changes: Any) -> dict[str, Any]:
    data = default_ruleset().to_dict()
    del data["schema"], data["digest"]  # the data is edited: it no longer has that digest
    data.update(changes)
    return data


SPANISH: dict[str, Any] = {
    "language": "es",
    "reviewed_by": "Dra. Gómez",
    "reviewed_on": "2026-10-01",
    "title": "Cuidados",
    "contact": "Llame al 555.",
    "emergency": "Llame al 911.",
    "rules": [{"activity": "driving", "label": "Conducir", "reason": "Espere."}],
    "advice": [
        {
            "id": "feeling_sick",
            "title": "Náuseas",
            "text": "Acuéstese.",
            "actions": ["Acuéstese.", "Cierre los ojos.", "Sin ejercicio."],
        }
    ],
}


# The loader and the documents


def test_a_translation_loads_and_round_trips_through_the_document() -> None:
    ruleset = Ruleset.from_dict(base_data(translations=[SPANISH]))
    (tr,) = ruleset.translations
    assert tr == Translation(
        language="es",
        reviewed_by="Dra. Gómez",
        reviewed_on=dt.date(2026, 10, 1),
        title="Cuidados",
        contact="Llame al 555.",
        emergency="Llame al 911.",
        rules=(RuleTranslation(activity="driving", label="Conducir", reason="Espere."),),
        advice=(
            AdviceTranslation(
                id="feeling_sick",
                title="Náuseas",
                text="Acuéstese.",
                actions=("Acuéstese.", "Cierre los ojos.", "Sin ejercicio."),
            ),
        ),
    )
    assert tr.reviewed
    assert ruleset.translation("es") is tr
    assert ruleset.translation("de") is None
    document = ruleset.to_dict()
    assert document["translations"] == [SPANISH]
    assert Ruleset.from_dict(document) == ruleset
    as_file = {k: v for k, v in document.items() if k != "schema"}
    assert list(SCHEMA.iter_errors(as_file)) == []
    assert list(validator("ruleset").iter_errors(document)) == []
    document["translations"][0]["rules"][0]["colour"] = "red"
    assert list(validator("ruleset").iter_errors(document))


def test_a_translation_without_a_review_is_kept_but_not_reviewed() -> None:
    draft = {"language": "de", "title": "Nachsorge"}
    ruleset = Ruleset.from_dict(base_data(translations=[draft]))
    assert not ruleset.translations[0].reviewed
    assert not attrs.evolve(ruleset.translations[0], reviewed_by="Dr. X").reviewed


@pytest.mark.parametrize(
    ("translations", "problem"),
    [
        ([{"language": "Spanish"}], "translations[0].language: must be a language such as"),
        ([{"title": "x"}], "translations[0].language: is required"),
        ([{"language": "en"}], "translations[0].language: 'en' is the ruleset's own language"),
        ([{"language": "es"}, {"language": "es"}], "translations[1].language: duplicate 'es'"),
        (
            [{"language": "es", "rules": [{"activity": "flying", "label": "Volar"}]}],
            "translations[0].rules[0].activity: no rule for 'flying'",
        ),
        (
            [{"language": "es", "advice": [{"id": "nope", "title": "No"}]}],
            "translations[0].advice[0].id: no advice item 'nope'",
        ),
        (
            [{"language": "es", "advice": [{"id": "feeling_sick", "actions": ["Uno."]}]}],
            "translations[0].advice[0].actions: has 1 texts; the item has 3",
        ),
        (
            [{"language": "es", "rules": [{"activity": "driving", "colour": "x"}]}],
            "translations[0].rules[0].colour: unknown key",
        ),
        (
            [{"language": "es", "reviewed_on": "soon"}],
            "translations[0].reviewed_on: must be a date",
        ),
        ({"language": "es"}, "translations: must be a list of tables"),
    ],
)
def test_bad_translations_are_problems_with_paths(translations: object, problem: str) -> None:
    data = base_data(translations=translations)
    problems = [str(p) for p in validate_ruleset(data)]
    assert any(p.startswith(problem) for p in problems), problems


def test_a_ruleset_names_its_own_language() -> None:
    assert Ruleset.from_dict(base_data(language="es")).language == "es"
    assert Ruleset.from_dict(base_data()).language == "en"
    assert "language" not in default_ruleset().to_dict()  # the default is not written


def test_a_bad_language_is_a_problem() -> None:
    problems = [str(p) for p in validate_ruleset(base_data(language="English"))]
    assert problems == ["language: must be a language such as 'es' or 'pt_BR', not 'English'"]


def test_the_schema_agrees_with_the_loader_on_translations() -> None:
    good = base_data(translations=[SPANISH], language="en")
    assert list(SCHEMA.iter_errors(good)) == []
    bad = base_data(translations=[{"language": "es", "rules": [{"label": "x"}]}])
    assert list(SCHEMA.iter_errors(bad))
    assert validate_ruleset(bad)


def test_translations_are_not_inherited_but_the_emergency_line_and_language_are(
    tmp_path: Path,
) -> None:
    base = tmp_path / "base.toml"
    base.write_text(
        "\n".join(
            [
                'extends = "default"',
                'id = "base"',
                'version = "1"',
                'title = "Base"',
                'emergency = "Dial 112."',
                "[[translations]]",
                'language = "es"',
                'title = "Base es"',
            ]
        ),
        encoding="utf-8",
    )
    child = tmp_path / "child.toml"
    child.write_text('extends = "base.toml"\nid = "c"\nversion = "1"\ntitle = "C"\n', "utf-8")
    ruleset = load_ruleset(child)
    assert ruleset.translations == ()
    assert ruleset.emergency == "Dial 112."
    assert ruleset.language == "en"
    assert load_ruleset(base).translations[0].title == "Base es"


def test_a_failed_base_with_translations_reports_the_base() -> None:
    data = {"extends": "nope.toml", "id": "x", "version": "1", "title": "X", "translations": []}
    problems = [str(p) for p in validate_ruleset(data)]
    assert problems == [
        (
            "extends: cannot extend 'nope.toml': a ruleset given as data may only extend "
            "'default' (load the file with load_ruleset to extend another file)"
        )
    ]


def test_the_example_clinic_file_has_a_reviewed_spanish_translation() -> None:
    ruleset = load_ruleset(SPANISH_CLINIC)
    (tr,) = ruleset.translations
    assert tr.language == "es"
    assert tr.reviewed
    # Reviewed against the texts it translates now (the default's, as the file extends
    # it): a change to any of them would stop the sheet from using it.
    assert tr.source_digest == ruleset.texts_digest
    assert ruleset.reviewed_translation("es") is tr
    assert {r.activity for r in tr.rules} == set(ruleset.activities)


# A translation goes stale when the texts it translates change (H39)


def current(**changes: Any) -> dict[str, Any]:
    """A ruleset's data with SPANISH reviewed against its own texts as they are."""
    data = base_data(**changes)
    texts = Ruleset.from_dict(data).texts_digest
    return {**data, "translations": [{**SPANISH, "source_digest": texts}]}


def test_a_translation_is_used_only_while_its_source_texts_are_unchanged() -> None:
    ruleset = Ruleset.from_dict(current())
    assert ruleset.reviewed_translation("es") == ruleset.translation("es")
    # Any of the texts a translation translates: the rule's reason, an advice item's
    # action, the contact line.
    rules = base_data()["rules"]
    rules[0] = {**rules[0], "reason": "Do not drive for a full day."}
    advice = base_data()["advice"]
    advice[0] = {**advice[0], "actions": ["Lie down.", *advice[0]["actions"][1:]]}
    for change in ({"rules": rules}, {"advice": advice}, {"contact": "Call 555-0199."}):
        stale = Ruleset.from_dict({**current(), **change})
        assert stale.translation("es") is not None
        assert stale.translation("es").reviewed  # type: ignore[union-attr]
        assert stale.texts_digest != ruleset.texts_digest
        assert stale.reviewed_translation("es") is None
    # What a translation does not translate (a window, a source) leaves it in use.
    later = [{**rules[0], "reason": base_data()["rules"][0]["reason"], "until": "never"}]
    same_texts = Ruleset.from_dict({**current(), "rules": later + base_data()["rules"][1:]})
    assert same_texts.reviewed_translation("es") is not None


def test_a_stale_or_undigested_translation_is_not_shown_on_the_sheet() -> None:
    pytest.importorskip("babel")
    session = Session(dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.timezone.utc), "UTC")
    contact = {"contact": "Call the clinic on 555-0100."}
    used = render_sheet(plan_for(session, Ruleset.from_dict(current(**contact))), locale="es")
    assert "Conducir" in used
    rules = base_data()["rules"]
    rules[0] = {**rules[0], "reason": "Do not drive for a full day."}
    stale = {**current(**contact), "rules": rules}
    for data in (stale, base_data(translations=[SPANISH], **contact)):
        sheet = render_sheet(plan_for(session, Ruleset.from_dict(data)), locale="es")
        assert "Conducir" not in sheet
        assert "Espere." not in sheet
        assert "Driving" in sheet


def test_validate_prints_the_digest_and_what_the_sheet_does_with_each_translation(
    tmp_path: Path,
) -> None:
    data = current()
    data["translations"] += [
        {"language": "de", "title": "Nachsorge"},
        {**SPANISH, "language": "fr"},
        {**SPANISH, "language": "pt", "source_digest": "sha256:" + "0" * 64},
    ]
    path = tmp_path / "clinic.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(path)], out=out, err=err) == 0
    digest = Ruleset.from_dict(data).texts_digest
    assert out.getvalue().splitlines() == [
        f"ok: {path}",
        f"{path}: texts digest (a reviewed translation's source_digest): {digest}",
        f"{path}: translation es: reviewed against these texts: used on the sheet",
        (
            f"{path}: translation de: not reviewed (no reviewed_by and reviewed_on): "
            "not used on the sheet"
        ),
        f"{path}: translation fr: reviewed, but names no source_digest: not used on the sheet",
        (
            f"{path}: translation pt: reviewed against other texts: not used on the sheet "
            "until reviewed again"
        ),
    ]


def test_a_source_digest_round_trips_and_a_bad_one_is_a_problem() -> None:
    ruleset = Ruleset.from_dict(current())
    assert Ruleset.from_dict(ruleset.to_dict()) == ruleset
    validator("ruleset").validate(ruleset.to_dict())
    bad = {**SPANISH, "source_digest": "md5:abc"}
    with pytest.raises(RulesetError, match=r"translations\[0\]\.source_digest: must be 'sha256:'"):
        Ruleset.from_dict(base_data(translations=[bad]))
    assert not SCHEMA.is_valid(base_data(translations=[bad]))
    assert SCHEMA.is_valid(current())


# diff


def test_diff_names_each_changed_translation_text() -> None:
    old = Ruleset.from_dict(base_data(translations=[SPANISH]))
    changed = {**SPANISH, "reviewed_on": "2026-11-01", "rules": [{"activity": "driving"}]}
    changed["advice"] = [{**SPANISH["advice"][0], "examples": []}]
    new = Ruleset.from_dict(base_data(translations=[changed, {"language": "de"}]))
    lines = diff_rulesets(old, new).lines()
    assert lines == [
        "translation changed: es.reviewed_on: 2026-10-01 -> 2026-11-01",
        "translation changed: es.rules.driving.label: 'Conducir' -> (none)",
        "translation changed: es.rules.driving.reason: 'Espere.' -> (none)",
        "translation changed: de: (none) -> not reviewed",
    ]
    back = diff_rulesets(new, old)
    assert "translation changed: de: not reviewed -> (none)" in back.lines()
    assert not back.is_empty
    assert (
        "translation changed: es: reviewed -> (none)"
        in diff_rulesets(old, default_ruleset()).lines()
    )
    assert diff_rulesets(old, old).is_empty


def test_diff_shows_translated_lists() -> None:
    old = Ruleset.from_dict(base_data(translations=[SPANISH, {"language": "de"}]))
    advice = [{**SPANISH["advice"][0], "actions": ["A.", "B.", "C."]}]
    draft = {"language": "de", "title": "Nachsorge"}
    new = Ruleset.from_dict(base_data(translations=[{**SPANISH, "advice": advice}, draft]))
    assert diff_rulesets(old, new).lines() == [
        (
            "translation changed: es.advice.feeling_sick.actions: "
            "['Acuéstese.', 'Cierre los ojos.', 'Sin ejercicio.'] -> ['A.', 'B.', 'C.']"
        ),
        "translation changed: de.title: (none) -> 'Nachsorge'",
    ]


def test_diff_flags_translations_whose_source_text_changed() -> None:
    # A clinic rewords the driving reason but keeps the reviewed Spanish one: a reviewer
    # must check that the translation still says the same thing.
    old = Ruleset.from_dict(base_data(translations=[SPANISH]))
    rules = base_data()["rules"]
    rules[0] = {**rules[0], "reason": "Do not drive for a full day."}
    new = Ruleset.from_dict(base_data(rules=rules, translations=[SPANISH]))
    diff = diff_rulesets(old, new)
    assert diff.translations_to_check == ("es.rules.driving.reason",)
    assert diff.lines()[-1] == (
        "translation to check: es.rules.driving.reason: the text it translates changed"
    )
    # Changing the translation in the same step is a change, not a text to check.
    retranslated = {**SPANISH, "rules": [{"activity": "driving", "reason": "Un día entero."}]}
    both = Ruleset.from_dict(base_data(rules=rules, translations=[retranslated]))
    assert diff_rulesets(old, both).translations_to_check == ()


def test_cli_diff_and_validate_know_translations() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(SPANISH_CLINIC)], out=out, err=err) == 0
    out = io.StringIO()
    assert main(["diff", "default", str(SPANISH_CLINIC)], out=out, err=err) == 1
    assert "translation changed: es: (none) -> reviewed" in out.getvalue()
    assert "ruleset: emergency:" in out.getvalue()


# The sheet's own catalogues


def _extracted() -> set[str]:
    pytest.importorskip("babel")
    from babel.messages.extract import extract_from_file

    messages: set[str] = set()
    for path in (ROOT / "src" / "ketamine_guidance" / "_formats").glob("*.py"):
        for _line, message, _comments, _context in extract_from_file("python", str(path)):
            assert isinstance(message, str)
            messages.add(message)
    return messages


def _read_po(path: Path) -> Any:
    from babel.messages.pofile import read_po

    with path.open("rb") as stream:
        return read_po(stream)


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}


def test_the_sheet_marks_its_messages() -> None:
    messages = _extracted()
    assert "When to get help" in messages
    assert "Not before {time}." in messages
    assert len(messages) >= 40


def test_the_template_is_current() -> None:
    template = _read_po(LOCALE / "ketamine_guidance.pot")
    assert {m.id for m in template if m.id} == _extracted()


@pytest.mark.parametrize("language", ["de", "es", "fr"])
def test_each_catalogue_is_complete_and_keeps_the_placeholders(language: str) -> None:
    catalogue = _read_po(LOCALE / language / "LC_MESSAGES" / "ketamine_guidance.po")
    entries = {m.id: m for m in catalogue if m.id}
    assert set(entries) == _extracted()
    for msgid, message in entries.items():
        assert message.string, msgid
        assert not message.fuzzy, msgid
        assert _fields(message.string) == _fields(msgid), msgid
    assert str(catalogue.locale) == language


def test_the_catalogues_ship_in_the_package() -> None:
    from importlib import resources

    root = resources.files("ketamine_guidance") / "locale"
    for language in ("de", "es", "fr"):
        assert (root / language / "LC_MESSAGES" / "ketamine_guidance.po").is_file()


def test_the_babel_config_names_the_formats_folder() -> None:
    text = (ROOT / "babel.cfg").read_text(encoding="utf-8")
    assert re.search(r"^\[python: \*\*\.py\]$", text, re.MULTILINE)
    assert "src/ketamine_guidance/_formats" in text
