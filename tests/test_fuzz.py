"""Fuzzed inputs: bad data and bad arguments give the library's own errors, never a crash."""

from __future__ import annotations

import datetime as dt
import inspect
import io
import json
import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ketamine_guidance as kg
from ketamine_guidance._cli import main

UTC = dt.timezone.utc

# --- The loader -------------------------------------------------------------------

KEYS = [
    "id", "version", "title", "rules", "next_day_begins", "advice", "contact", "reviewed_by",
    "reviewed_on", "effective_from", "activity", "label", "until", "reason", "source",
    "while_restricted", "clinician_adjustable", "section", "hours", "day", "at", "latest_of",
    "category", "text", "actions", "examples", "symptoms",
]  # fmt: skip
WORDS = [
    "immediately", "next_day", "end_of_day", "never", "not_permitted", "permitted",
    "permitted_with_caution", "after_effects", "integration", "06:00", "24:00", "2026-01-01",
    "driving", "Driving", "", " ", "x",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(WORDS),
    st.dates(),
    st.datetimes(),
    st.times(),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=6), st.integers(), st.none())
nested = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children),
        st.dictionaries(keys, children, max_size=6),
    ),
    max_leaves=30,
)


def _valid() -> dict[str, Any]:
    source = {"title": "t", "section": "s"}
    return {
        "id": "clinic",
        "version": "1",
        "title": "Clinic",
        "rules": [
            {"activity": "driving", "label": "D", "until": "next_day", "reason": "r"}
            | {"source": source},
            {"activity": "alcohol", "label": "A", "until": {"latest_of": ["next_day"]}}
            | {"reason": "r", "source": source},
        ],
        "advice": [
            {"id": "nausea", "category": "after_effects", "title": "N", "text": "t"}
            | {"source": source, "symptoms": ["nausea"]}
        ],
    }


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*prefix, i))
    return found


def _replace(value: Any, path: tuple[object, ...], new: object) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    assert isinstance(head, int)
    return [*value[:head], _replace(value[head], rest, new), *value[head + 1 :]]


def _load(data: object) -> None:
    try:
        kg.Ruleset.from_dict(data)
    except kg.RulesetError as exc:
        problems = exc.problems
    else:
        return
    assert problems, "a RulesetError must name at least one problem"
    assert all(isinstance(p, kg.RulesetProblem) for p in problems)


@given(nested)
def test_loader_given_arbitrary_data_raises_only_ruleset_error(data: object) -> None:
    _load(data)


@given(st.data(), nested)
def test_loader_given_a_valid_ruleset_with_one_part_replaced_raises_only_ruleset_error(
    data: st.DataObject, new: object
) -> None:
    valid = _valid()
    path = data.draw(st.sampled_from(_paths(valid)))
    _load(_replace(valid, path, new))


def test_the_valid_ruleset_the_fuzzer_starts_from_loads() -> None:
    assert kg.Ruleset.from_dict(_valid()).activities == ("driving", "alcohol")


# --- The command line -------------------------------------------------------------

TOKENS = [
    "plan", "check", "rules", "--ended-at", "--timezone", "--at", "--format", "--ruleset",
    "json", "text", "driving", "alcohol", "recreational_drugs", "Driving", "--help", "-h",
    "--version", "2026-11-25T23:30:00Z", "2026-11-26T12:00:00+00:00", "2026-03-08T02:30:00",
    "2026-02-30T00:00:00Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00",
    "America/New_York", "Pacific/Apia", "Mars/Olympus_Mons", "UTC", "", "-", "--",
    "/nonexistent/ruleset.toml", ".",
]  # fmt: skip

argv_lists = st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=12)), max_size=10)


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@given(argv_lists)
def test_cli_given_arbitrary_arguments_exits_0_1_or_2_without_a_traceback(
    argv: list[str],
) -> None:
    code, _, err = _run(argv)
    assert code in (0, 1, 2)
    assert "Traceback" not in err
    if code == 2:
        assert err.startswith("ketamine-guidance: error: ")
        assert err.count("\n") == 1


@given(
    st.permutations(["check", "driving", "--ended-at", "E", "--timezone", "Z", "--at", "A"]),
    st.sampled_from(TOKENS),
    st.sampled_from(TOKENS),
)
def test_cli_given_shuffled_check_arguments_exits_0_1_or_2(
    order: list[str], zone: str, at: str
) -> None:
    argv = [{"E": "2026-11-25T23:30:00Z", "Z": zone, "A": at}.get(t, t) for t in order]
    code, _, err = _run(argv)
    assert code in (0, 1, 2)
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["check", "--help"]])
def test_cli_help_and_version_print_to_out_and_return_0(argv: list[str]) -> None:
    code, out, err = _run(argv)
    assert (code, err) == (0, "")
    assert "ketamine-guidance" in out


# --- Naive datetimes --------------------------------------------------------------

naive = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1))
ENDED = dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC)


def _plan() -> kg.AftercarePlan:
    return kg.plan_for(kg.Session(ENDED, "America/New_York"))


# Every public callable that takes a datetime, and how to call it with ``value``.
CALLS: dict[str, Callable[[dt.datetime], object]] = {
    "Session.ended_at": lambda value: kg.Session(value, "America/New_York"),
    "Session.ended_at (zone None)": kg.Session,
    "is_permitted.at": lambda value: kg.is_permitted(
        "driving", value, ended_at=ENDED, timezone="America/New_York"
    ),
    "is_permitted.ended_at": lambda value: kg.is_permitted(
        "driving", ENDED, ended_at=value, timezone="America/New_York"
    ),
    "Override.effective_from": lambda value: kg.Override(
        activity="driving", status=kg.Status.PERMITTED, effective_from=value, clinician="Dr A"
    ),
    "Override.until": lambda value: kg.Override(
        activity="driving",
        status=kg.Status.PERMITTED,
        effective_from=ENDED,
        clinician="Dr A",
        until=value,
    ),
    "AftercarePlan.is_permitted.at": lambda value: _plan().is_permitted("driving", value),
    "AftercarePlan.check.at": lambda value: _plan().check("driving", value),
    "AftercarePlan.decisions_at.at": lambda value: _plan().decisions_at(value),
    "AftercarePlan.with_override.effective_from": lambda value: _plan().with_override(
        "driving", status=kg.Status.PERMITTED, effective_from=value, clinician="Dr A"
    ),
    "AftercarePlan.with_override.until": lambda value: _plan().with_override(
        "driving", status=kg.Status.NOT_PERMITTED, effective_from=ENDED, clinician="A", until=value
    ),
    "AftercarePlan.to_dict.at": lambda value: _plan().to_dict(value),
    "CoursePlan.is_permitted.at": lambda value: _course().is_permitted("driving", value),
    "CoursePlan.check.at": lambda value: _course().check("driving", value),
    "CoursePlan.decisions_at.at": lambda value: _course().decisions_at(value),
    "CoursePlan.with_override.effective_from": lambda value: _course().with_override(
        "driving", status=kg.Status.PERMITTED, effective_from=value, clinician="Dr A"
    ),
    "CoursePlan.with_override.until": lambda value: _course().with_override(
        "driving", status=kg.Status.NOT_PERMITTED, effective_from=ENDED, clinician="A", until=value
    ),
    "render_sheet.now": lambda value: kg.render_sheet(_plan(), now=value),
    "render_sheet.printed_at": lambda value: kg.render_sheet(_plan(), printed_at=value),
    "to_fhir_careplan.at": lambda value: kg.to_fhir_careplan(
        _plan(), subject="Patient/1", at=value
    ),
    "to_fhir_bundle.at": lambda value: kg.to_fhir_bundle(_plan(), subject="Patient/1", at=value),
    "cds_response.at": lambda value: kg.cds_response(_plan(), at=value),
    "to_ical.stamp": lambda value: kg.to_ical(_plan(), stamp=value),
}


def _course() -> kg.CoursePlan:
    return kg.plan_for_course([_plan().session])


# Classes that only the library builds, as answers: they take datetimes it has checked.
OUTPUTS = {"Decision", "TimelineEntry", "LiftTable"}


@pytest.mark.parametrize("name", sorted(CALLS))
@given(value=naive)
def test_every_public_datetime_parameter_refuses_a_naive_datetime(
    name: str, value: dt.datetime
) -> None:
    with pytest.raises(kg.NaiveDatetimeError, match="naive"):
        CALLS[name](value)


class _NoOffset(dt.tzinfo):
    """A tzinfo that gives no offset: a datetime with it is naive in Python's terms."""

    def utcoffset(self, _d: dt.datetime | None) -> None:
        return None

    def dst(self, _d: dt.datetime | None) -> None:
        return None

    def tzname(self, _d: dt.datetime | None) -> None:
        return None


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_tzinfo_without_an_offset_is_naive_too(name: str) -> None:
    with pytest.raises(kg.NaiveDatetimeError):
        CALLS[name](dt.datetime(2026, 11, 26, 12, tzinfo=_NoOffset()))


def _datetime_parameters() -> set[str]:
    """``Class.method.param`` for every public parameter annotated with a datetime."""
    found = set()
    for export in kg.__all__:
        obj = getattr(kg, export)
        if not callable(obj) or export in OUTPUTS:
            continue
        members = [(export, obj)]
        if inspect.isclass(obj):
            members = [(export, obj.__init__)] + [
                (f"{export}.{n}", m)
                for n, m in vars(obj).items()
                # (mutmut adds copies of each method with non-ASCII names while it runs)
                if inspect.isfunction(m) and not n.startswith("_") and n.isascii()
            ]
        for where, fn in members:
            for param in inspect.signature(fn).parameters.values():
                if "datetime" in str(param.annotation):
                    found.add(f"{where}.{param.name}")
    return found


def test_the_naive_datetime_table_covers_every_public_datetime_parameter() -> None:
    tested = {name.split(" ")[0] for name in CALLS}
    missing = _datetime_parameters() - tested
    assert not missing, f"add these to CALLS in {__name__}: {sorted(missing)}"
    assert "AftercarePlan.check.at" in _datetime_parameters()


def test_naive_datetimes_in_a_zone_aware_session_are_still_refused() -> None:
    aware = dt.datetime(2026, 11, 26, 12, tzinfo=zoneinfo.ZoneInfo("Europe/London"))
    assert isinstance(_plan().is_permitted("driving", aware), bool)
    with pytest.raises(kg.NaiveDatetimeError):
        _plan().is_permitted("driving", aware.replace(tzinfo=None))


# --- Issue 12: hostile input at every entry point ------------------------------------
#
# Under the ``ci`` profile these run a few dozen examples each; ``HYPOTHESIS_PROFILE=deep``
# runs thousands.

# Characters that change what a reader sees, and characters that structure each format.
HOSTILE_CHARS = (
    "\x00\x07\x08\x1b\x7f\x85\x9b\u061c\u200b\u200e\u202e\u2066\ufeff"
    "\n\r\t<>&\"'`*_~#|[]()!\\;,:-+=.{}"
)
hostile_text = st.text(
    st.one_of(st.sampled_from(HOSTILE_CHARS), st.characters(max_codepoint=0x2FFF)),
    min_size=1,
    max_size=40,
).filter(str.strip)

VALID_TOML = b"""\
id = "clinic"
version = "1"
title = "Clinic"
[[rules]]
activity = "driving"
label = "Driving"
until = { latest_of = ["next_day", { hours = 8 }] }
reason = "Because."
source = { title = "Sheet", section = "Driving" }
"""


def _load_bytes(tmp: Any, name: str, raw: bytes) -> None:
    import time

    path = tmp / name
    path.write_bytes(raw)
    start = time.perf_counter()
    problems: tuple[kg.RulesetProblem, ...] = ()
    try:
        result = kg.load_ruleset(path)
    except kg.RulesetError as exc:
        problems = exc.problems
        assert problems, "a RulesetError must name at least one problem"
    else:
        assert isinstance(result, kg.Ruleset)
    assert all(isinstance(p, kg.RulesetProblem) for p in problems)
    assert time.perf_counter() - start < 2, "the loader must answer any file quickly"


@pytest.mark.parametrize("name", ["r.toml", "r.json"])
@given(raw=st.binary(max_size=200))
def test_the_loader_given_any_bytes_gives_a_ruleset_or_a_ruleset_error_quickly(
    tmp_path_factory: pytest.TempPathFactory, name: str, raw: bytes
) -> None:
    _load_bytes(tmp_path_factory.mktemp("bytes"), name, raw)


@given(
    position=st.integers(0, len(VALID_TOML)),
    insert=st.one_of(
        st.binary(max_size=12),
        st.sampled_from([b"[" * 500, b"{ a = " * 200, b"9" * 500, b"\x1b[2K", b"\xe2\x80\xae"]),
    ),
    cut=st.integers(0, 8),
)
def test_the_loader_given_a_valid_file_with_bytes_spliced_in_answers_quickly(
    tmp_path_factory: pytest.TempPathFactory, position: int, insert: bytes, cut: int
) -> None:
    raw = VALID_TOML[:position] + insert + VALID_TOML[position + cut :]
    _load_bytes(tmp_path_factory.mktemp("spliced"), "r.toml", raw)


@given(st.data(), hostile_text)
def test_the_loader_given_hostile_text_anywhere_refuses_only_with_ruleset_errors(
    data: st.DataObject, text: str
) -> None:
    valid = _valid()
    path = data.draw(st.sampled_from(_paths(valid)))
    from ketamine_guidance._text import UNSAFE

    problems: tuple[kg.RulesetProblem, ...] = ()
    try:
        ruleset = kg.Ruleset.from_dict(_replace(valid, path, text))
    except kg.RulesetError as exc:
        problems = exc.problems
        assert problems, "a RulesetError must name at least one problem"
    else:  # accepted: then no unsafe character is in any of its text
        assert UNSAFE.search(json.dumps(ruleset.to_dict(), ensure_ascii=False)) is None
    assert all(UNSAFE.search(p.path) is None and "\n" not in p.path for p in problems)


hostile_tokens = st.one_of(st.sampled_from(TOKENS), hostile_text)


@given(st.lists(hostile_tokens, max_size=10))
def test_cli_given_hostile_arguments_never_prints_a_control_character(argv: list[str]) -> None:
    code, out, err = _run(argv)
    assert code in (0, 1, 2)
    assert "Traceback" not in err
    from ketamine_guidance._text import UNSAFE

    for stream in (out, err):
        assert UNSAFE.search(stream.replace("\r\n", "\n")) is None, repr(stream)
    if code == 2:
        assert err.count("\n") == 1


@given(st.lists(hostile_tokens, max_size=4))
def test_cli_validate_given_hostile_file_names_answers_in_lines(names: list[str]) -> None:
    code, _, err = _run(["validate", *names])
    assert code in (0, 1, 2)
    assert "Traceback" not in err


def _hostile_plan(text: str) -> kg.AftercarePlan:
    """A plan whose every ruleset text is ``text`` (built by hand, past the loader)."""
    import attrs

    ruleset = kg.Ruleset.from_dict(_valid())
    source = kg.Source(title=text, section=text)
    rules = tuple(attrs.evolve(r, label=text, reason=text, source=source) for r in ruleset.rules)
    advice = tuple(
        attrs.evolve(a, title=text, text=text, source=source, actions=(text,))
        for a in ruleset.advice
    )
    ruleset = attrs.evolve(
        ruleset, title=text, rules=rules, advice=advice, contact=text, reviewed_by=text
    )
    return kg.plan_for(kg.Session(ENDED, "America/New_York"), ruleset)


@given(hostile_text)
def test_every_text_output_given_hostile_text_keeps_its_structure(text: str) -> None:
    import html5lib

    from ketamine_guidance._text import UNSAFE

    plan = _hostile_plan(text)
    later = dt.datetime(2026, 11, 26, 2, tzinfo=UTC)
    sheet = kg.render_sheet(plan, now=later)
    assert UNSAFE.search(sheet) is None
    markdown = kg.render_sheet(plan, format="markdown", now=later)
    assert UNSAFE.search(markdown) is None
    page = kg.render_sheet(plan, format="html", now=later)
    html5lib.HTMLParser(strict=True).parse(page)
    assert "<script" not in page.lower() or "<script" not in text.lower()
    care_plan = kg.to_fhir_careplan(plan, subject="Patient/1", at=later)
    for note in care_plan.get("note", []):
        assert UNSAFE.search(note["text"]) is None
    response = kg.cds_response(plan.decisions_at(later))
    for card in response["cards"]:
        assert UNSAFE.search(card["detail"]) is None
        assert UNSAFE.search(card["summary"]) is None
    calendar = kg.to_ical(plan).replace(b"\r\n ", b"").split(b"\r\n")
    # One reminder per distinct instant a restriction lifts at, however many lift then.
    lifted = {
        e.permitted_from_utc
        for e in plan.timeline()
        if e.permitted_from_utc is not None and e.status_until_lift is not kg.Status.PERMITTED
    }
    assert calendar.count(b"BEGIN:VEVENT") == len(lifted)
    assert calendar.count(b"BEGIN:VCALENDAR") == 1
    assert all(UNSAFE.search(line.decode()) is None for line in calendar)
