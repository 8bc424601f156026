"""Clinic rulesets: extending, removing, governance dates and file reading (issue 4)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from ketamine_guidance import (
    Ruleset,
    RulesetError,
    RulesetFileError,
    load_ruleset,
    validate_ruleset,
)
from ketamine_guidance._rules.loader import MAX_FILE_BYTES

SOURCE = {"title": "Example Clinic aftercare sheet", "section": "Driving"}


def minimal(**extra: object) -> dict[str, Any]:
    """The smallest valid ruleset mapping, with ``extra`` top-level keys."""
    data: dict[str, Any] = {
        "id": "clinic",
        "version": "1",
        "title": "Clinic",
        "rules": [
            {
                "activity": "driving",
                "label": "Driving",
                "until": {"hours": 24},
                "reason": "Wait a full day.",
                "source": dict(SOURCE),
            }
        ],
    }
    data.update(extra)
    return data


def paths(exc: pytest.ExceptionInfo[RulesetError]) -> list[str]:
    return [p.path for p in exc.value.problems]


# Dates and file reading


@pytest.mark.parametrize("text", ["20260115", "2026-W03-4", "2026-1-5", " 2026-01-15"])
def test_governance_dates_are_strictly_yyyy_mm_dd(text: str) -> None:
    # Python 3.11's date.fromisoformat takes the first two; 3.10 does not.  One rule for all.
    with pytest.raises(RulesetError) as exc:
        Ruleset.from_dict(minimal(reviewed_on=text))
    assert paths(exc) == ["reviewed_on"]


def test_governance_dates_load() -> None:
    ruleset = Ruleset.from_dict(
        minimal(reviewed_by="Dr A. Reviewer", reviewed_on="2026-01-15", effective_from="2026-02-01")
    )
    assert ruleset.reviewed_by == "Dr A. Reviewer"
    assert ruleset.reviewed_on == dt.date(2026, 1, 15)
    assert ruleset.effective_from == dt.date(2026, 2, 1)


def test_a_named_pipe_is_refused_at_once_instead_of_waiting_for_a_writer(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "rules.toml"
    os.mkfifo(fifo)
    with pytest.raises(RulesetFileError, match="named pipe, not a regular file"):
        load_ruleset(fifo)


# Extending another ruleset

RULE_TOML = """
[[rules]]
activity = "{activity}"
label = "{label}"
until = {until}
reason = "Clinic's own reason."
source = {{ title = "Example Clinic aftercare sheet", section = "Aftercare" }}
"""

ADVICE_TOML = """
[[advice]]
id = "{id}"
category = "integration"
title = "{title}"
text = "Clinic's own text."
source = {{ title = "Example Clinic aftercare sheet", section = "Aftercare" }}
"""


def write(path: Path, header: str, *tables: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "".join(tables), encoding="utf-8")
    return path


def rule(activity: str, until: str = "{ hours = 24 }", label: str = "X") -> str:
    return RULE_TOML.format(activity=activity, until=until, label=label)


def advice(ident: str, title: str = "T") -> str:
    return ADVICE_TOML.format(id=ident, title=title)


HEAD = 'id = "{id}"\nversion = "1"\ntitle = "Clinic {id}"\n'


def head(ident: str, **extra: str) -> str:
    return HEAD.format(id=ident) + "".join(f"{k} = {v}\n" for k, v in extra.items())


def test_extending_the_default_without_rules_takes_every_default_rule(tmp_path: Path) -> None:
    from ketamine_guidance import default_ruleset

    path = write(tmp_path / "c.toml", head("c", extends='"default"', reviewed_by='"Dr B"'))
    ruleset = load_ruleset(path)
    default = default_ruleset()
    assert ruleset.rules == default.rules
    assert ruleset.next_day_begins == default.next_day_begins
    assert (ruleset.id, ruleset.version, ruleset.title) == ("c", "1", "Clinic c")
    assert ruleset.reviewed_by == "Dr B"


def test_a_rule_is_replaced_in_place_and_new_ones_follow(tmp_path: Path) -> None:
    from ketamine_guidance import Hours, LatestOf, NextDay, default_ruleset

    path = write(
        tmp_path / "c.toml",
        head("c", extends='"default"'),
        rule("driving", '{ latest_of = ["next_day", { hours = 24 }] }', "Driving"),
        rule("swimming"),
    )
    ruleset = load_ruleset(path)
    default = default_ruleset()
    assert ruleset.activities == (*default.activities, "swimming")
    assert ruleset.rule("driving").until == LatestOf((NextDay(), Hours(24)))
    assert ruleset.rule("alcohol") == default.rule("alcohol")


def test_remove_drops_a_base_rule(tmp_path: Path) -> None:
    from ketamine_guidance import default_ruleset

    path = write(tmp_path / "c.toml", head("c", extends='"default"', remove='["regular_diet"]'))
    activities = load_ruleset(path).activities
    assert activities == tuple(a for a in default_ruleset().activities if a != "regular_diet")


@pytest.mark.parametrize(
    ("extra", "tables", "where", "words"),
    [
        ({"remove": '["not_a_rule"]'}, (), "remove[0]", "not in the base"),
        ({"remove": '["driving"]'}, (rule("driving"),), "remove[0]", "also given"),
        ({"remove": '["Driving"]'}, (), "remove[0]", "is not an id"),
        ({"remove_advice": '["nothing"]'}, (), "remove_advice[0]", "not in the base"),
        ({"extends": "3"}, (), "extends", "must be a string"),
        ({"extends": '"missing.toml"'}, (), "extends", "cannot read file"),
        ({"extends": '"c.toml"'}, (), "extends", "extends itself: c.toml -> c.toml"),
    ],
)
def test_extending_problems_name_their_path(
    tmp_path: Path, extra: dict[str, str], tables: tuple[str, ...], where: str, words: str
) -> None:
    path = write(tmp_path / "c.toml", head("c", **{"extends": '"default"', **extra}), *tables)
    with pytest.raises(RulesetError) as exc:
        load_ruleset(path)
    assert [p.path for p in exc.value.problems] == [where]
    assert words in exc.value.problems[0].message


def test_removing_every_rule_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "base.toml", head("base"), rule("driving"))
    path = write(tmp_path / "c.toml", head("c", extends='"base.toml"', remove='["driving"]'))
    with pytest.raises(RulesetError) as exc:
        load_ruleset(path)
    assert paths(exc) == ["remove"]


def test_remove_without_extends_is_refused() -> None:
    with pytest.raises(RulesetError) as exc:
        Ruleset.from_dict(minimal(remove=["driving"], remove_advice=["x"]))
    assert paths(exc) == ["remove", "remove_advice"]


def test_a_file_that_does_not_extend_still_needs_rules() -> None:
    data = minimal()
    del data["rules"]
    with pytest.raises(RulesetError) as exc:
        Ruleset.from_dict(data)
    assert paths(exc) == ["rules"]


def test_a_base_is_found_relative_to_the_file_that_names_it(tmp_path: Path) -> None:
    write(tmp_path / "shared" / "base.toml", head("base", next_day_begins='"07:30"'), rule("a"))
    write(tmp_path / "shared" / "mid.toml", head("mid", extends='"base.toml"'), rule("b"))
    path = write(tmp_path / "site" / "c.toml", head("c", extends='"../shared/mid.toml"'))
    ruleset = load_ruleset(path)
    assert ruleset.activities == ("a", "b")
    assert ruleset.next_day_begins == dt.time(7, 30)


def test_next_day_begins_and_contact_are_inherited_unless_set(tmp_path: Path) -> None:
    write(
        tmp_path / "base.toml", head("base", next_day_begins='"07:30"', contact='"555"'), rule("a")
    )
    inherit = load_ruleset(write(tmp_path / "i.toml", head("i", extends='"base.toml"')))
    own = load_ruleset(
        write(
            tmp_path / "o.toml",
            head("o", extends='"base.toml"', next_day_begins='"09:00"', contact='"999"'),
        )
    )
    assert (inherit.next_day_begins, inherit.contact) == (dt.time(7, 30), "555")
    assert (own.next_day_begins, own.contact) == (dt.time(9), "999")


def test_review_fields_are_never_inherited(tmp_path: Path) -> None:
    reviewed = {
        "reviewed_by": '"Dr A"',
        "reviewed_on": "2026-01-01",
        "effective_from": "2026-01-02",
    }
    write(tmp_path / "base.toml", head("base", **reviewed), rule("a"))
    ruleset = load_ruleset(write(tmp_path / "c.toml", head("c", extends='"base.toml"')))
    assert (ruleset.reviewed_by, ruleset.reviewed_on, ruleset.effective_from) == (None, None, None)


def test_advice_is_merged_by_id(tmp_path: Path) -> None:
    write(tmp_path / "base.toml", head("base"), rule("a"), advice("one", "Old"), advice("two"))
    path = write(
        tmp_path / "c.toml",
        head("c", extends='"base.toml"', remove_advice='["two"]'),
        advice("one", "New"),
        advice("three"),
    )
    ruleset = load_ruleset(path)
    assert [(a.id, a.title) for a in ruleset.advice] == [("one", "New"), ("three", "T")]


def test_a_cycle_through_two_files_is_named(tmp_path: Path) -> None:
    write(tmp_path / "a.toml", head("a", extends='"b.toml"'))
    write(tmp_path / "b.toml", head("b", extends='"a.toml"'))
    with pytest.raises(RulesetError) as exc:
        load_ruleset(tmp_path / "a.toml")
    assert paths(exc) == ["extends"]
    assert "a.toml -> b.toml -> a.toml" in exc.value.problems[0].message


def test_too_deep_a_chain_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "f0.toml", head("f0"), rule("a"))
    for i in range(1, 12):
        write(tmp_path / f"f{i}.toml", head(f"f{i}", extends=f'"f{i - 1}.toml"'))
    assert load_ruleset(tmp_path / "f8.toml").activities == ("a",)
    with pytest.raises(RulesetError, match="levels of extends"):
        load_ruleset(tmp_path / "f11.toml")


def test_problems_in_a_base_are_reported_with_the_base_named(tmp_path: Path) -> None:
    write(tmp_path / "base.toml", head("base"), rule("a", '"tomorrow"'))
    path = write(tmp_path / "c.toml", head("c", extends='"base.toml"', next_day_begins="6"))
    with pytest.raises(RulesetError) as exc:
        load_ruleset(path)
    assert [str(p) for p in exc.value.problems] == [
        (
            "extends: base 'base.toml' is not a valid ruleset (1 problem; run "
            "'ketamine-guidance validate' on it to see it)"
        ),
        "next_day_begins: must be a time as HH:MM (00:00 to 23:59), not 6",
    ]


def test_data_may_extend_only_the_default() -> None:
    data = minimal(extends="base.toml")
    with pytest.raises(RulesetError) as exc:
        Ruleset.from_dict(data)
    assert paths(exc) == ["extends"]
    assert Ruleset.from_dict(minimal(extends="default")).rule("driving").until is not None


# Governance: the date a ruleset takes effect


def test_a_ruleset_is_refused_for_a_session_before_it_takes_effect() -> None:
    from ketamine_guidance import RulesetNotInEffectError, Session, plan_for

    ruleset = Ruleset.from_dict(minimal(effective_from="2026-03-01"))
    # 23:30 UTC on 1 March is still 28 February in New York: the local date counts.
    ended = dt.datetime(2026, 3, 1, 4, 30, tzinfo=dt.timezone.utc)
    with pytest.raises(RulesetNotInEffectError, match="takes effect on 2026-03-01"):
        plan_for(Session(ended, "America/New_York"), ruleset)
    assert plan_for(Session(ended, "UTC"), ruleset).ruleset is ruleset


# validate_ruleset


def test_validate_lists_every_problem_and_load_raises_them_all(tmp_path: Path) -> None:
    from ketamine_guidance import validate_ruleset

    path = write(tmp_path / "c.toml", head("c", next_day_begins='"6am"'), rule("Bad", '"soon"'))
    problems = validate_ruleset(path)
    assert [p.path for p in problems] == [
        "rules[0].activity",
        "rules[0].until",
        "next_day_begins",
    ]
    with pytest.raises(RulesetError) as exc:
        load_ruleset(path)
    assert list(exc.value.problems) == problems
    assert validate_ruleset(str(path)) == problems


def test_validate_reports_syntax_errors_and_size_as_problems(tmp_path: Path) -> None:
    from ketamine_guidance import validate_ruleset

    broken = tmp_path / "broken.toml"
    broken.write_text("id = \n", encoding="utf-8")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (MAX_FILE_BYTES + 1))
    (syntax,) = validate_ruleset(broken)
    (size,) = validate_ruleset(big)
    assert syntax.message.startswith("not valid TOML")
    assert "limit" in size.message


def test_validate_raises_for_a_file_it_cannot_read(tmp_path: Path) -> None:
    from ketamine_guidance import RulesetFileError, validate_ruleset

    with pytest.raises(RulesetFileError, match="cannot read file"):
        validate_ruleset(tmp_path / "missing.toml")
    with pytest.raises(RulesetFileError):
        validate_ruleset(tmp_path)  # a directory


def test_validate_takes_data() -> None:
    from ketamine_guidance import validate_ruleset

    assert validate_ruleset(minimal()) == []
    assert [p.path for p in validate_ruleset(minimal(colour="red"))] == ["colour"]


@pytest.mark.parametrize(("day", "ok"), [(2.0, True), (2.5, False), (0, False), (True, False)])
def test_a_day_is_a_whole_number_from_one(day: object, ok: bool) -> None:
    data = minimal()
    data["rules"][0]["until"] = {"day": day, "at": "07:00"}
    problems = [p.path for p in validate_ruleset(data)]
    assert problems == ([] if ok else ["rules[0].until.day"])
