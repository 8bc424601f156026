"""The loader's messages and file handling, word for word.

A clinic's editor shows these lines to the person fixing a file, so each one is
pinned exactly: its path, its text, and the file it names.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ketamine_guidance import RulesetError, RulesetFileError, RulesetProblem, load_ruleset
from ketamine_guidance._rules.loader import MAX_FILE_BYTES, read_ruleset_data
from ketamine_guidance._rules.ruleset import ruleset_from_data

SOURCE = {"title": "Sheet", "section": "Driving"}
RULE = {
    "activity": "driving",
    "label": "Driving",
    "until": "next_day",
    "reason": "Because.",
    "source": SOURCE,
}
CLINIC = {"id": "c", "version": "1", "title": "Clinic", "rules": [RULE]}


def refused(call, *args: object) -> RulesetError:
    with pytest.raises(RulesetError) as info:
        call(*args)
    return info.value


# Files.


def test_a_missing_file(tmp_path: Path):
    path = tmp_path / "missing.toml"
    error = refused(read_ruleset_data, path)
    assert isinstance(error, RulesetFileError)
    assert error.problems == (RulesetProblem("", "cannot read file: No such file or directory"),)
    assert error.source == str(path)


def test_a_file_over_the_limit_by_its_size(tmp_path: Path):
    path = tmp_path / "huge.toml"
    path.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    error = refused(read_ruleset_data, path)
    assert not isinstance(error, RulesetFileError)
    assert error.problems == (
        RulesetProblem("", f"file is {MAX_FILE_BYTES + 1} bytes; the limit is {MAX_FILE_BYTES}"),
    )
    assert error.source == str(path)


def test_a_file_of_exactly_the_limit_is_read(tmp_path: Path):
    path = tmp_path / "full.toml"
    path.write_bytes(b"#" * MAX_FILE_BYTES)
    assert read_ruleset_data(path) == {}


def test_a_named_pipe_is_refused_without_being_opened(tmp_path: Path):
    if not hasattr(os, "mkfifo"):  # pragma: no cover (POSIX only)
        pytest.skip("no named pipes on this system")
    path = tmp_path / "pipe.toml"
    os.mkfifo(path)  # nothing ever writes to it: opening it to read would wait for ever
    error = refused(read_ruleset_data, path)
    assert isinstance(error, RulesetFileError)
    assert error.problems == (
        RulesetProblem("", "cannot read file: it is a named pipe, not a regular file"),
    )


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [("bad.toml", b"id = ", "TOML"), ("bad.JSON", b"{", "JSON"), ("bad.toml", b"\xff", "TOML")],
)
def test_syntax_errors_name_the_file_and_the_format(tmp_path: Path, name, content, kind):
    path = tmp_path / name
    path.write_bytes(content)
    error = refused(read_ruleset_data, path)
    (problem,) = error.problems
    assert problem.path == ""
    assert problem.message.startswith(f"not valid {kind}: ")
    assert error.source == str(path)


# Extending.


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def extending(
    path: Path, extends: str, rest: str = "", *, ident: str = "c", version: str = "1"
) -> Path:
    """A ruleset file at ``path`` that extends ``extends``, with ``rest`` appended."""
    head = (
        f'id = "{ident}"\nversion = "{version}"\ntitle = "{ident.upper()}"\nextends = "{extends}"\n'
    )
    return write(path, head + rest)


BASE_TOML = """\
id = "base"
version = "1"
title = "Base"
[[rules]]
activity = "driving"
label = "Driving"
until = "next_day"
reason = "R."
source = { title = "T", section = "S" }
"""


def test_data_may_only_extend_the_default():
    error = refused(ruleset_from_data, {**CLINIC, "extends": "other.toml"})
    assert error.problems == (
        RulesetProblem(
            "extends",
            "cannot extend 'other.toml': a ruleset given as data may only extend 'default' "
            "(load the file with load_ruleset to extend another file)",
        ),
    )


def test_a_broken_base_is_reported_at_extends_with_its_own_paths(tmp_path: Path):
    write(tmp_path / "base.toml", BASE_TOML.replace('until = "next_day"', "until = 3"))
    child = extending(tmp_path / "child.toml", "base.toml")
    error = refused(load_ruleset, child)
    expected = (
        "extends: base 'base.toml' is not a valid ruleset (1 problem; run "
        "'ketamine-guidance validate' on it to see it)"
    )
    assert [str(p) for p in error.problems] == [expected]
    child2 = extending(tmp_path / "child2.toml", "nope.toml")
    (problem,) = refused(load_ruleset, child2).problems
    assert problem == RulesetProblem(
        "extends", "base 'nope.toml': cannot read file: No such file or directory"
    )


def test_a_base_extending_a_base_loads_with_its_own_name(tmp_path: Path):
    write(tmp_path / "base.toml", BASE_TOML)
    extending(tmp_path / "middle.toml", "base.toml", ident="m")
    top = extending(tmp_path / "top.toml", "middle.toml", ident="t", version="2")
    ruleset = load_ruleset(top)
    assert (ruleset.id, ruleset.activities) == ("t", ("driving",))


def test_too_deep_a_chain_of_bases_is_refused(tmp_path: Path):
    write(tmp_path / "r0.toml", BASE_TOML)
    for i in range(1, 12):
        extending(tmp_path / f"r{i}.toml", f"r{i - 1}.toml", ident=f"r{i}")
    problems = refused(load_ruleset, tmp_path / "r11.toml").problems
    assert problems[-1].path == "extends"
    assert problems[-1].message.endswith("more than 8 levels of extends")


def test_removing_what_the_base_lacks_names_what_it_has():
    error = refused(
        ruleset_from_data,
        {"id": "c", "version": "1", "title": "C", "extends": "default", "remove": ["flying"]},
    )
    (problem,) = error.problems
    assert problem.path == "remove[0]"
    assert problem.message.startswith("'flying' is not in the base ruleset (it has: driving, ")


def test_removing_advice_from_a_base_without_any_says_none(tmp_path: Path):
    write(tmp_path / "base.toml", BASE_TOML)
    child = extending(tmp_path / "child.toml", "base.toml", 'remove_advice = ["rest"]\n')
    assert refused(load_ruleset, child).problems == (
        RulesetProblem("remove_advice[0]", "'rest' is not in the base ruleset (it has: none)"),
    )


def test_removing_every_rule_is_refused(tmp_path: Path):
    write(tmp_path / "base.toml", BASE_TOML)
    child = extending(tmp_path / "child.toml", "base.toml", 'remove = ["driving"]\n')
    assert refused(load_ruleset, child).problems == (
        RulesetProblem("remove", "removes every rule; a ruleset needs at least one"),
    )


def test_a_replaced_rule_keeps_its_place_and_takes_the_new_text(tmp_path: Path):
    write(
        tmp_path / "base.toml",
        BASE_TOML + BASE_TOML[BASE_TOML.index("[[rules]]") :].replace("driving", "alcohol"),
    )
    child = extending(
        tmp_path / "child.toml",
        "base.toml",
        '[[rules]]\nactivity = "driving"\nlabel = "Driving a car"\nuntil = { hours = 24 }\n'
        'reason = "New."\nsource = { title = "T", section = "S" }\n',
    )
    ruleset = load_ruleset(child)
    assert ruleset.activities == ("driving", "alcohol")
    assert ruleset.rule("driving").label == "Driving a car"
