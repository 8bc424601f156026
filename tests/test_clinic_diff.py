"""Reviewable diffs of rulesets, and the diff and validate commands (issue 4)."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketamine_guidance import (
    Advice,
    AdviceCategory,
    Hours,
    ItemChange,
    LatestOf,
    Never,
    NextDay,
    Rule,
    Ruleset,
    RulesetDiff,
    Session,
    Status,
    default_ruleset,
    diff_rulesets,
    plan_for,
)
from ketamine_guidance._cli import main
from tests.strategies import ruleset_data

rulesets = ruleset_data.map(Ruleset.from_dict)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


NEXT_8 = "latest of next day 06:00 and 8 hours"
TO_24 = "-> latest of next day 06:00 and 24 hours"

# Named cases


def test_a_changed_window_reads_in_words() -> None:
    base = default_ruleset()
    driving = attrs.evolve(base.rule("driving"), until=LatestOf((NextDay(), Hours(24))))
    clinic = attrs.evolve(base, rules=(driving, *base.rules[1:]))
    diff = diff_rulesets(base, clinic)
    assert diff.lines() == [f"rule changed (tightened): driving: until: {NEXT_8} {TO_24}"]
    (change,) = diff.rules_changed
    assert (change.key, change.mark) == ("driving", "tightened")
    assert str(change) == f"driving (tightened): until: {NEXT_8} {TO_24}"


def test_a_new_next_morning_shows_on_every_rule_it_moves() -> None:
    base = default_ruleset()
    later = attrs.evolve(base, next_day_begins=dt.time(8))
    diff = diff_rulesets(base, later)
    assert [str(c) for c in diff.ruleset_changed] == ["next_day_begins: 06:00 -> 08:00"]
    moved = {i.key for i in diff.rules_changed}
    assert moved == {r.activity for r in base.rules if r.until == LatestOf((NextDay(), Hours(8)))}
    assert {i.mark for i in diff.rules_changed} == {"tightened"}
    later_8 = "latest of next day 08:00 and 8 hours"
    assert f"rule changed (tightened): driving: until: {NEXT_8} -> {later_8}" in diff.lines()
    earlier = diff_rulesets(base, attrs.evolve(base, next_day_begins=dt.time(5)))
    assert {i.mark for i in earlier.rules_changed} == {"loosened"}


def test_added_removed_and_advice_are_listed() -> None:
    base = default_ruleset()
    source = base.rules[0].source
    rest = Advice(
        id="rest", category=AdviceCategory.LIFESTYLE, title="Rest", text="Rest.", source=source
    )
    swim = Rule(activity="swimming", label="Swimming", until=Hours(24), reason="r", source=source)
    old = attrs.evolve(base, advice=(rest,))
    new = attrs.evolve(
        base,
        rules=(*base.rules[1:], swim),
        advice=(attrs.evolve(rest, title="Rest well"),),
        reviewed_on=dt.date(2026, 1, 5),
    )
    assert diff_rulesets(old, new).lines() == [
        "ruleset: reviewed_on: (none) -> 2026-01-05",
        f"rule removed: driving: not permitted until {NEXT_8}",
        "rule added: swimming: not permitted until 24 hours",
        "advice changed: rest: title: 'Rest' -> 'Rest well'",
    ]
    assert diff_rulesets(new, old).lines()[1:3] == [
        "rule removed: swimming: not permitted until 24 hours",
        f"rule added: driving: not permitted until {NEXT_8}",
    ]
    gone = diff_rulesets(new, attrs.evolve(new, advice=()))
    assert gone.lines() == ["advice removed: rest: Rest well"]
    assert str(gone) == "advice removed: rest: Rest well"


def test_diff_refuses_what_is_not_a_ruleset() -> None:
    with pytest.raises(TypeError, match="new must be a Ruleset"):
        diff_rulesets(default_ruleset(), {})  # type: ignore[arg-type]


# Laws


@given(rulesets)
def test_a_ruleset_differs_from_itself_in_nothing(ruleset: Ruleset) -> None:
    diff = diff_rulesets(ruleset, ruleset)
    assert diff.is_empty
    assert diff.lines() == []


def new_values(change: ItemChange) -> dict[str, Any]:
    return {c.field: c.new for c in change.changes}


def apply(diff: RulesetDiff, old: Ruleset) -> dict[str, Rule]:
    """The rules ``old`` has once the changes the diff names are made."""
    rules = {r.activity: r for r in old.rules}
    for removed in diff.rules_removed:
        del rules[removed.activity]
    for change in diff.rules_changed:
        rules[change.key] = attrs.evolve(rules[change.key], **new_values(change))
    rules.update((r.activity, r) for r in diff.rules_added)
    return rules


@given(rulesets, rulesets)
def test_applying_a_diff_gives_the_new_rules(old: Ruleset, new: Ruleset) -> None:
    diff = diff_rulesets(old, new)
    assert apply(diff, old) == {r.activity: r for r in new.rules}
    advice = {a.id: a for a in old.advice}
    for removed in diff.advice_removed:
        del advice[removed.id]
    for change in diff.advice_changed:
        advice[change.key] = attrs.evolve(advice[change.key], **new_values(change))
    advice.update((a.id, a) for a in diff.advice_added)
    assert advice == {a.id: a for a in new.advice}
    assert diff.is_empty == (old == new)


@given(rulesets, st.data())
def test_changing_one_rule_shows_as_exactly_that_change(ruleset: Ruleset, data: Any) -> None:
    victim = data.draw(st.sampled_from(ruleset.rules))
    changed = attrs.evolve(victim, label=victim.label + "!")
    new = attrs.evolve(ruleset, rules=tuple(changed if r is victim else r for r in ruleset.rules))
    (item,) = diff_rulesets(ruleset, new).rules_changed
    assert [c.field for c in item.changes] == ["label"]


# The command line


def write(path: Path, data: dict[str, Any]) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


CLINIC = {
    "id": "clinic",
    "version": "2",
    "title": "Clinic",
    "extends": "default",
    "rules": [
        {
            "activity": "driving",
            "label": "Driving",
            "until": {"latest_of": ["next_day", {"hours": 24}]},
            "reason": "You may feel drowsy and slow for the rest of the day. "
            "Do not drive until the next day.",
            "source": {
                "title": default_ruleset().rule("driving").source.title,
                "section": "Take It Easy On The Day Of Your Ketamine Session",
            },
        }
    ],
}


def test_cli_diff_exit_codes(tmp_path: Path) -> None:
    clinic = write(tmp_path / "clinic.json", CLINIC)
    same = write(
        tmp_path / "same.json",
        {
            **CLINIC,
            "id": "default",
            "version": "2026.1",
            "title": "Ketamine therapy aftercare",
            "rules": [],
        },
    )
    status, out, _ = run("diff", "default", clinic)
    assert status == 1
    assert f"rule changed (tightened): driving: until: {NEXT_8} {TO_24}" in out
    assert run("diff", "default", same) == (0, "", "")
    status, out, err = run("diff", "default", str(tmp_path / "missing.toml"))
    assert (status, out) == (2, "")
    assert "cannot read file" in err


def test_cli_validate_lists_every_problem_per_file(tmp_path: Path) -> None:
    good = write(tmp_path / "good.json", CLINIC)
    bad = write(tmp_path / "bad.json", {**CLINIC, "version": 2, "remove": ["nothing"]})
    broken = tmp_path / "broken.toml"
    broken.write_text("id = [", encoding="utf-8")
    assert run("validate", good) == (0, "", "")
    status, out, err = run("validate", good, bad, str(broken))
    assert status == 1
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == f"{bad}: version: must be a string, not a number"
    assert lines[1].startswith(f"{bad}: remove[0]: 'nothing' is not in the base ruleset")
    assert lines[2].startswith(f"{broken}: <root>: not valid TOML")
    assert len(lines) == 3


def test_cli_validate_a_missing_file_is_bad_input_and_the_rest_still_checked(
    tmp_path: Path,
) -> None:
    bad = write(tmp_path / "bad.json", {**CLINIC, "version": 2})
    missing = str(tmp_path / "missing.toml")
    status, out, err = run("validate", missing, bad)
    assert status == 2
    assert out == f"{bad}: version: must be a string, not a number\n"
    assert (
        err == f"ketamine-guidance: error: {missing}: cannot read file: No such file or directory\n"
    )


def test_cli_rules_shows_governance(tmp_path: Path) -> None:
    reviewed = write(
        tmp_path / "r.json",
        {
            **CLINIC,
            "reviewed_by": "Dr Q",
            "reviewed_on": "2026-01-10",
            "effective_from": "2026-02-01",
        },
    )
    status, out, _ = run("rules", "--ruleset", reviewed)
    assert status == 0
    assert out.splitlines()[1:3] == [
        "Reviewed by Dr Q on 2026-01-10.",
        "In effect for sessions from 2026-02-01.",
    ]
    status, out, _ = run("rules", "--ruleset", reviewed, "--format", "json")
    document = json.loads(out)
    assert (document["reviewed_by"], document["reviewed_on"], document["effective_from"]) == (
        "Dr Q",
        "2026-01-10",
        "2026-02-01",
    )
    assert run("rules")[1].splitlines()[1] == "Not marked as reviewed."
    only_date = write(tmp_path / "d.json", {**CLINIC, "reviewed_on": "2026-01-10"})
    assert run("rules", "--ruleset", only_date)[1].splitlines()[1] == "Reviewed on 2026-01-10."


# Safety marks (issue 11): a reviewer sees what a clinic file makes less safe


def _with(base: Ruleset, activity: str, **changes: Any) -> Ruleset:
    rules = tuple(attrs.evolve(r, **changes) if r.activity == activity else r for r in base.rules)
    return attrs.evolve(base, rules=rules)


@pytest.mark.parametrize(
    ("activity", "changes", "mark"),
    [
        # 24 hours is shorter than the next morning for a session just after midnight.
        ("driving", {"until": Hours(24)}, "loosened"),
        ("driving", {"until": Hours(48)}, "tightened"),
        ("driving", {"until": Never()}, "tightened"),
        ("driving", {"until": NextDay()}, "loosened"),
        ("driving", {"reason": "Do not drive today."}, "changed"),
        ("driving", {"clinician_adjustable": True}, "loosened"),
        ("prescription_pain_medication", {"clinician_adjustable": False}, "tightened"),
        ("regular_diet", {"while_restricted": Status.NOT_PERMITTED}, "tightened"),
        ("alcohol", {"while_restricted": Status.PERMITTED_WITH_CAUTION}, "loosened"),
        ("mild_food", {"until": Hours(1)}, "tightened"),
        # Longer but no longer forbidden: less safe in the meantime, so loosened.
        (
            "driving",
            {"until": Hours(72), "while_restricted": Status.PERMITTED_WITH_CAUTION},
            "loosened",
        ),
    ],
)
def test_every_changed_rule_is_marked_for_safety(
    activity: str, changes: dict[str, Any], mark: str
) -> None:
    base = default_ruleset()
    (change,) = diff_rulesets(base, _with(base, activity, **changes)).rules_changed
    assert (change.key, change.mark) == (activity, mark)
    assert f"rule changed ({mark}): {activity}: " in str(
        diff_rulesets(base, _with(base, activity, **changes))
    )


def test_advice_changes_carry_no_mark() -> None:
    base = default_ruleset()
    advice = (attrs.evolve(base.advice[0], title="Sleepy"), *base.advice[1:])
    (change,) = diff_rulesets(base, attrs.evolve(base, advice=advice)).advice_changed
    assert change.mark is None


def test_marks_agree_with_plans_for_sampled_sessions() -> None:
    """A mark is what plans answer: a loosened rule lifts earlier for some patient, and a
    tightened one never does."""
    from ketamine_guidance._engine.diff import sample_sessions

    base = default_ruleset()

    def lift(ruleset: Ruleset, ended: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
        decision = plan_for(Session(ended, tz), ruleset).check("driving", ended)
        return decision.permitted_from_utc or dt.datetime.max.replace(tzinfo=dt.timezone.utc)

    samples = sample_sessions()[::41]
    looser = _with(base, "driving", until=Hours(24))
    assert any(lift(looser, e, tz) < lift(base, e, tz) for e, _, tz in samples)
    tighter = _with(base, "driving", until=Hours(48))
    assert all(lift(tighter, e, tz) >= lift(base, e, tz) for e, _, tz in samples)


def test_cli_diff_json_carries_the_marks(tmp_path: Path) -> None:
    clinic = write(tmp_path / "clinic.json", CLINIC)
    status, out, _ = run("diff", "default", clinic, "--format", "json")
    assert status == 1
    document = json.loads(out)
    assert document["schema"] == "ketamine-guidance/ruleset-diff/v1"
    assert document["equal"] is False
    driving = next(c for c in document["rules_changed"] if c["activity"] == "driving")
    assert driving["mark"] == "tightened"
    assert driving["changes"] == [
        {"field": "until", "old": NEXT_8, "new": "latest of next day 06:00 and 24 hours"}
    ]
    assert run("diff", "default", "default", "--format", "json")[0] == 0
    same = json.loads(run("diff", "default", "default", "--format", "json")[1])
    assert same["equal"] is True
    assert same["rules_changed"] == []


def test_diff_json_lists_added_removed_and_advice() -> None:
    base = default_ruleset()
    source = base.rules[0].source
    swim = Rule(activity="swimming", label="Swimming", until=Hours(24), reason="r", source=source)
    new = attrs.evolve(
        base,
        rules=(*base.rules[1:], swim),
        advice=(attrs.evolve(base.advice[0], title="Sleepy"), *base.advice[2:]),
    )
    document = diff_rulesets(base, new).to_dict()
    assert document["rules_added"] == [
        {"activity": "swimming", "summary": "swimming: not permitted until 24 hours"}
    ]
    assert document["rules_removed"] == [
        {"activity": "driving", "summary": f"driving: not permitted until {NEXT_8}"}
    ]
    removed = base.advice[1]
    assert document["advice_removed"] == [{"id": removed.id, "title": removed.title}]
    assert document["advice_added"] == []
    assert document["advice_changed"] == [
        {
            "id": base.advice[0].id,
            "changes": [{"field": "title", "old": repr(base.advice[0].title), "new": "'Sleepy'"}],
        }
    ]
    back = diff_rulesets(new, base).to_dict()
    assert back["advice_added"] == [{"id": removed.id, "title": removed.title}]


def test_a_next_morning_change_marks_only_rules_that_read_it() -> None:
    base = default_ruleset()
    fixed = _with(base, "driving", until=LatestOf((Hours(8), Hours(12))))
    later = attrs.evolve(fixed, next_day_begins=dt.time(9))
    marks = {i.key: i.mark for i in diff_rulesets(fixed, later).rules_changed}
    assert "driving" not in marks
    assert marks["alcohol"] == "tightened"


def test_added_and_removed_rules_read_as_the_cli_plan_does() -> None:
    base = default_ruleset()
    fewer = attrs.evolve(
        base, rules=tuple(r for r in base.rules if r.activity not in {"mild_food", "regular_diet"})
    )
    lines = diff_rulesets(base, fewer).lines()
    assert "rule removed: mild_food: permitted from the end of the session" in lines
    assert f"rule removed: regular_diet: take care until {NEXT_8}; after that permitted" in lines
