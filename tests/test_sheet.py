"""The patient's aftercare sheet: content, order, formats, escaping, times and locales."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import sys
from pathlib import Path
from typing import Any

import attrs
import html5lib
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketamine_guidance import (
    AftercarePlan,
    BeforeSessionEndError,
    GuidanceError,
    NaiveDatetimeError,
    Ruleset,
    Session,
    Status,
    default_ruleset,
    plan_for,
    render_sheet,
)
from ketamine_guidance._cli import main
from ketamine_guidance._formats.text import format_local
from tests.strategies import instants, zone_names

UTC = dt.timezone.utc
GOLDEN = Path(__file__).parent / "golden"
ARTICLE = "So You Just Had A Ketamine Therapy Session \N{EN DASH} Now What?"
SECTION = "Take It Easy On The Day Of Your Ketamine Session"
HOSTILE = '<script>alert("x")</script> & <b>bold</b>'
XHTML = "{http://www.w3.org/1999/xhtml}"


def fixed_plan() -> AftercarePlan:
    """The golden session: ended 18:30 EST on 25 Nov 2026, with a contact line and an override."""
    ruleset = attrs.evolve(default_ruleset(), contact="Call the clinic on 555-0100, day or night.")
    ended = dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    return plan_for(Session(ended, "America/New_York"), ruleset).with_override(
        "prescription_pain_medication",
        status=Status.PERMITTED,
        effective_from=dt.datetime(2026, 11, 26, 2, 0, tzinfo=UTC),
        clinician="Dr. Ana Rivera",
        note="Your usual dose is fine tonight.",
    )


FIXED_NOW = dt.datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # 20:00 EST


def small_ruleset(**changes: Any) -> Ruleset:
    source = {"title": ARTICLE, "section": SECTION}
    data: dict[str, Any] = {
        "id": "clinic",
        "version": "7",
        "title": "Clinic aftercare",
        "rules": [
            {
                "activity": "driving",
                "label": "Driving",
                "until": "next_day",
                "reason": "Wait.",
                "source": source,
            },
            {
                "activity": "flying",
                "label": "Flying a plane",
                "until": {"hours": 24},
                "reason": "Wait a full day.",
                "source": source,
            },
        ],
        "advice": [
            {
                "id": "rest",
                "category": "after_effects",
                "title": "Rest",
                "text": "Rest today.",
                "source": source,
                "symptoms": ["sedation"],
            },
            {
                "id": "journal",
                "category": "integration",
                "title": "Write it down",
                "text": "Keep a journal.",
                "source": source,
            },
        ],
    }
    data.update(changes)
    return Ruleset.from_dict(data)


# Golden files


@pytest.mark.parametrize(("fmt", "name"), [("text", "sheet.txt"), ("markdown", "sheet.md")])
def test_golden(fmt: Any, name: str) -> None:
    rendered = render_sheet(fixed_plan(), format=fmt, now=FIXED_NOW)
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":  # pragma: no cover (regenerating by hand)
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8")


def test_the_golden_sheet_says_the_times_a_reader_expects() -> None:
    text = (GOLDEN / "sheet.txt").read_text(encoding="utf-8")
    assert "Your session ended: Wed 25 Nov 2026, 18:30 EST (America/New_York)" in text
    assert "Right now: Wed 25 Nov 2026, 20:00 EST" in text
    assert "  - Driving: from Thu 26 Nov 2026, 06:00 EST. Not allowed before then." in text


# Content and order


def _positions(sheet: str, *needles: str) -> list[int]:
    found = [sheet.find(n) for n in needles]
    assert -1 not in found, [n for n, i in zip(needles, found, strict=True) if i == -1]
    return found


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_content_comes_in_the_issue_order(fmt: Any) -> None:
    sheet = render_sheet(fixed_plan(), format=fmt, now=FIXED_NOW)
    order = _positions(
        sheet,
        "Ketamine therapy aftercare",
        "Your session ended",
        "Right now",
        "When you can do each thing again",
        "After-effects",
        "Call the clinic on 555-0100",
        "Integration",
        "What to expect",
        "Sources",
    )
    assert order == sorted(order)


def test_markdown_opens_with_a_level_one_heading() -> None:
    assert render_sheet(fixed_plan(), format="markdown").startswith(
        "# Ketamine therapy aftercare\n"
    )


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_right_now_only_with_now(fmt: Any) -> None:
    assert "Right now" not in render_sheet(fixed_plan(), format=fmt)
    assert "Right now" in render_sheet(fixed_plan(), format=fmt, now=FIXED_NOW)


def test_right_now_lists_what_is_limited() -> None:
    sheet = render_sheet(fixed_plan(), format="markdown", now=FIXED_NOW)
    right_now = sheet[sheet.index("## Right now") : sheet.index("## When")]
    not_yet = right_now[right_now.index("### Not allowed\n") : right_now.index("### Allowed")]
    careful = right_now[right_now.index("### Allowed, but take care") :]
    assert "**Driving**" in not_yet
    assert "**Hard exercise**" in not_yet
    assert "**Eating your usual food**" in careful
    assert "Drinking water" not in right_now  # permitted since the session ended


def test_right_now_says_when_an_override_applies() -> None:
    later = dt.datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # the override permits it from 02:00Z
    plan = fixed_plan().with_override(
        "alcohol", status=Status.NOT_PERMITTED, effective_from=later, clinician="Nurse Kim"
    )
    sheet = render_sheet(plan, format="markdown", now=dt.datetime(2026, 11, 27, tzinfo=UTC))
    right_now = sheet[sheet.index("## Right now") : sheet.index("## When")]
    assert "**Drinks with alcohol**" in right_now
    assert "Changed by Nurse Kim." in right_now
    assert "Taking prescription pain medicine" not in right_now


def test_right_now_when_nothing_is_limited() -> None:
    plan = plan_for(Session(dt.datetime(2026, 1, 1, tzinfo=UTC), "UTC"), small_ruleset())
    sheet = render_sheet(plan, now=dt.datetime(2026, 1, 3, tzinfo=UTC))
    assert "Nothing on this sheet is limited right now." in sheet


def test_never_lifting_restrictions_are_stated_as_such() -> None:
    sheet = render_sheet(fixed_plan(), format="markdown")
    assert "- **Taking recreational drugs**: No end is given." in sheet


def test_clinician_overrides_show_who_made_them() -> None:
    sheet = render_sheet(fixed_plan(), format="markdown")
    line = next(s for s in sheet.splitlines() if "Dr. Ana Rivera" in s)
    assert line == (
        "  Changed by Dr. Ana Rivera: allowed from Wed 25 Nov 2026, 21:00 EST. "
        "Your usual dose is fine tonight."
    )


def test_an_override_before_the_session_ended_shows_the_session_end() -> None:
    plan = fixed_plan().with_override(
        "driving",
        status=Status.PERMITTED,
        effective_from=dt.datetime(2026, 11, 20, tzinfo=UTC),
        clinician="Dr. B",
        note="A friend drives.",
    )
    sheet = render_sheet(plan, format="markdown")
    assert "Changed by Dr. B: allowed from Wed 25 Nov 2026, 18:30 EST. A friend drives." in sheet
    assert "- **Driving**: from Wed 25 Nov 2026, 18:30 EST, when your session ended." in sheet


def test_advice_is_grouped_by_category_with_every_item() -> None:
    sheet = render_sheet(fixed_plan(), format="markdown")
    for advice in default_ruleset().advice:
        assert f"#### {advice.title}" in sheet
        group_start = sheet.index(f"### {advice.category.title}")
        assert group_start < sheet.index(f"#### {advice.title}")
        for action in advice.actions:
            assert f"- {action}" in sheet


def test_contact_line_without_after_effects_advice_still_shows() -> None:
    ruleset = small_ruleset(advice=[], contact="Ring 555-0199.")
    plan = plan_for(Session(dt.datetime(2026, 1, 1, tzinfo=UTC), "UTC"), ruleset)
    sheet = render_sheet(plan, format="markdown")
    assert "### After-effects" in sheet
    assert "Ring 555-0199." in sheet


def test_no_advice_no_advice_heading() -> None:
    plan = plan_for(Session(dt.datetime(2026, 1, 1, tzinfo=UTC), "UTC"), small_ruleset(advice=[]))
    assert "Advice" not in render_sheet(plan)


def test_sources_name_the_article_and_each_section_once() -> None:
    sheet = render_sheet(fixed_plan(), format="markdown")
    sources = sheet[sheet.index("## Sources") :]
    assert sources.count(ARTICLE) == 1
    for section in {r.source.section for r in default_ruleset().rules}:
        assert sources.count(f"  - {section}\n") == 1
    assert "(default, version 2026.1)" in sources


def test_reviewer_is_named_when_the_ruleset_has_one() -> None:
    ruleset = small_ruleset(reviewed_by="Dr. Q", reviewed_on="2026-01-02")
    plan = plan_for(Session(dt.datetime(2026, 1, 1, tzinfo=UTC), "UTC"), ruleset)
    assert ", reviewed by Dr. Q on 2026-01-02." in render_sheet(plan, format="markdown")


def test_a_zone_without_a_name_shows_its_offset_only() -> None:
    ended = dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    sheet = render_sheet(plan_for(Session(ended, ended.tzinfo), small_ruleset()))
    assert "Your session ended: Thu 1 Jan 2026, 12:00 UTC-05:00\n" in sheet


# The timeline's times are the plan's own permitted_from values


def _timeline_lines(sheet: str) -> dict[str, str]:
    part = sheet[sheet.index("## When") : sheet.index("## Advice")]
    lines = {}
    for line in part.splitlines():
        match = re.match(r"- \*\*(.+?)\*\*", line)
        if match:
            lines[match.group(1)] = line
    return lines


def _check_timeline(plan: AftercarePlan) -> None:
    lines = _timeline_lines(render_sheet(plan, format="markdown"))
    entries = plan.timeline()
    assert len(lines) == len(entries)
    for entry in entries:
        line = lines[entry.label]
        if entry.permitted_from is None:
            assert "No end is given." in line
        else:
            local = entry.permitted_from_utc.astimezone(plan.session.timezone)  # type: ignore[union-attr]
            if entry.status_until_lift is Status.PERMITTED_WITH_CAUTION:
                assert f": take care until {format_local(local)}; after that allowed." in line
            else:
                assert f": from {format_local(local)}" in line
    html_times = re.findall(
        r'<li><p><strong>[^<]*</strong>: (?:from|take care until) <time datetime="([^"]+)">',
        render_sheet(plan, format="html"),
    )
    assert html_times == [e.permitted_from.isoformat() for e in entries if e.permitted_from]


def test_timeline_across_spring_forward() -> None:
    # The US springs forward at 02:00 on Sun 8 Mar 2026; the session ends the evening before.
    ended = dt.datetime(2026, 3, 8, 4, 30, tzinfo=UTC)  # Sat 7 Mar, 23:30 EST
    plan = plan_for(Session(ended, "America/New_York"), small_ruleset())
    _check_timeline(plan)
    lines = _timeline_lines(render_sheet(plan, format="markdown"))
    assert "from Sun 8 Mar 2026, 06:00 EDT" in lines["Driving"]
    assert "from Mon 9 Mar 2026, 00:30 EDT" in lines["Flying a plane"]  # 24 real hours


def test_timeline_across_fall_back() -> None:
    # The UK falls back at 02:00 BST on Sun 25 Oct 2026.
    ended = dt.datetime(2026, 10, 24, 21, 0, tzinfo=UTC)  # Sat 24 Oct, 22:00 BST
    plan = plan_for(Session(ended, "Europe/London"), small_ruleset())
    _check_timeline(plan)
    lines = _timeline_lines(render_sheet(plan, format="markdown"))
    assert "from Sun 25 Oct 2026, 06:00 GMT" in lines["Driving"]
    assert "from Sun 25 Oct 2026, 21:00 GMT" in lines["Flying a plane"]


def test_timeline_of_the_default_ruleset() -> None:
    _check_timeline(fixed_plan())


@given(ended=instants, zone=zone_names)
def test_timeline_times_are_the_plans_own(ended: dt.datetime, zone: str) -> None:
    _check_timeline(plan_for(Session(ended, zone)))


# HTML


def _parse(page: str) -> Any:
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=True).parse(page)


def test_html_is_valid_standalone_html5() -> None:
    page = render_sheet(fixed_plan(), format="html", now=FIXED_NOW)
    assert page.startswith("<!DOCTYPE html>\n")
    document = _parse(page)  # strict: raises on any parse error
    assert document.get("lang") == "en"
    assert document.find(f"{XHTML}head/{XHTML}meta").get("charset") == "utf-8"
    assert document.find(f"{XHTML}head/{XHTML}title").text == "Ketamine therapy aftercare"
    assert len(document.findall(f".//{XHTML}h1")) == 1
    assert document.findall(f".//{XHTML}h2")
    assert document.findall(f".//{XHTML}ul/{XHTML}li")
    assert document.find(f".//{XHTML}main") is not None


def test_html_has_a_print_stylesheet_and_nothing_external() -> None:
    page = render_sheet(fixed_plan(), format="html")
    document = _parse(page)
    style = document.find(f"{XHTML}head/{XHTML}style").text
    assert "@media print" in style
    assert document.findall(f".//{XHTML}script") == []
    for tag in ("link", "img", "iframe", "object", "embed"):
        assert document.findall(f".//{XHTML}{tag}") == []
    assert "url(" not in style
    assert "@import" not in style
    assert not [e for e in document.iter() if e.get("src") or e.get("href")]


def hostile_plan() -> AftercarePlan:
    source = {"title": HOSTILE, "section": HOSTILE}
    ruleset = Ruleset.from_dict(
        {
            "id": "evil",
            "version": "<1>",
            "title": HOSTILE,
            "contact": HOSTILE,
            "rules": [
                {
                    "activity": "driving",
                    "label": HOSTILE,
                    "until": "next_day",
                    "reason": HOSTILE,
                    "source": source,
                }
            ],
            "advice": [
                {
                    "id": "a",
                    "category": "after_effects",
                    "title": HOSTILE,
                    "text": HOSTILE,
                    "actions": [HOSTILE],
                    "examples": [HOSTILE],
                    "source": source,
                }
            ],
        }
    )
    plan = plan_for(Session(dt.datetime(2026, 1, 1, tzinfo=UTC), "UTC"), ruleset)
    return plan.with_override(
        "driving",
        status=Status.NOT_PERMITTED,
        effective_from=dt.datetime(2026, 1, 1, tzinfo=UTC),
        clinician=HOSTILE,
        note=HOSTILE,
    )


def test_html_escapes_ruleset_and_caller_text() -> None:
    page = render_sheet(hostile_plan(), format="html", now=dt.datetime(2026, 1, 2, tzinfo=UTC))
    document = _parse(page)
    assert document.findall(f".//{XHTML}script") == []
    assert document.findall(f".//{XHTML}b") == []
    text = "".join(document.itertext())
    # The hostile text shows as text: every place it came from.
    assert text.count('<script>alert("x")</script> & <b>bold</b>') >= 12
    assert "<script" not in page


def test_markdown_escapes_ruleset_and_caller_text() -> None:
    sheet = render_sheet(hostile_plan(), format="markdown")
    assert re.search(r"(?<!\\)[<>&]", sheet) is None  # every < > & is backslash-escaped
    assert sheet.count('\\<script\\>alert("x")\\</script\\> \\& \\<b\\>bold\\</b\\>') >= 10


def test_line_breaks_in_ruleset_text_do_not_change_the_layout() -> None:
    ruleset = attrs.evolve(small_ruleset(), title="Clinic\n# aftercare")
    plan = plan_for(Session(dt.datetime(2026, 1, 1, tzinfo=UTC), "UTC"), ruleset)
    assert render_sheet(plan, format="markdown").startswith("# Clinic \\# aftercare\n")
    assert render_sheet(plan).startswith("Clinic # aftercare\n" + "=" * 18 + "\n")


# Locales


def test_locale_en_needs_no_babel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "babel", None)
    assert "Thu 26 Nov 2026, 06:00 EST" in render_sheet(fixed_plan(), locale="en")


def test_other_locales_without_babel_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "babel", None)
    with pytest.raises(GuidanceError, match=re.escape("ketamine-guidance[i18n]")):
        render_sheet(fixed_plan(), locale="de")


def test_babel_formats_dates_for_the_locale_in_the_sessions_zone() -> None:
    pytest.importorskip("babel")
    ended = dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC)  # Thu 26 Nov, 00:30 in Berlin
    plan = plan_for(Session(ended, "Europe/Berlin"))
    sheet = render_sheet(plan, locale="de_DE", format="html")
    assert _parse(sheet).get("lang") == "de-DE"
    assert "Do., 26. Nov. 2026, 00:30 CET" in sheet
    assert "27. Nov. 2026, 06:00 CET" in sheet  # driving: the next day at 06:00, local


@pytest.mark.parametrize("locale", ["", "de DE", "x", 3, "en_US<script>"])
def test_malformed_locale(locale: Any) -> None:
    with pytest.raises(GuidanceError, match="locale must be"):
        render_sheet(fixed_plan(), locale=locale)


def test_unknown_locale() -> None:
    pytest.importorskip("babel")
    with pytest.raises(GuidanceError, match="unknown locale 'xx_YY'"):
        render_sheet(fixed_plan(), locale="xx_YY")


# Bad input


def test_bad_format() -> None:
    with pytest.raises(GuidanceError, match="unknown sheet format 'pdf'"):
        render_sheet(fixed_plan(), format="pdf")  # type: ignore[arg-type]


def test_not_a_plan() -> None:
    with pytest.raises(TypeError, match="plan must be an AftercarePlan"):
        render_sheet(default_ruleset())  # type: ignore[arg-type]


def test_naive_now() -> None:
    with pytest.raises(NaiveDatetimeError, match="now is naive"):
        render_sheet(fixed_plan(), now=dt.datetime(2026, 11, 26, 1))


def test_now_before_the_session_ended() -> None:
    with pytest.raises(BeforeSessionEndError, match=r"now \(.*\) is before the session ended"):
        render_sheet(fixed_plan(), now=dt.datetime(2026, 11, 25, 23, 0, tzinfo=UTC))


@given(st.sampled_from(["text", "markdown", "html"]))
def test_every_format_ends_with_one_newline(fmt: Any) -> None:
    sheet = render_sheet(fixed_plan(), format=fmt)
    assert sheet.endswith("\n")
    assert not sheet.endswith("\n\n")


# The command line


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


ENDED = ("--ended-at", "2026-11-25T23:30:00Z", "--timezone", "America/New_York")


def test_cli_sheet_text_matches_the_library() -> None:
    code, out, err = _run("sheet", *ENDED, "--now", "2026-11-26T01:00:00Z")
    assert (code, err) == (0, "")
    plan = plan_for(Session(dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC), "America/New_York"))
    assert out == render_sheet(plan, now=FIXED_NOW)


@pytest.mark.parametrize(("fmt", "start"), [("markdown", "# "), ("html", "<!DOCTYPE html>")])
def test_cli_sheet_formats(fmt: str, start: str) -> None:
    code, out, _ = _run("sheet", *ENDED, "--format", fmt)
    assert code == 0
    assert out.startswith(start)


def test_cli_sheet_with_a_ruleset_file(tmp_path: Path) -> None:
    path = tmp_path / "clinic.toml"
    path.write_text(
        'id = "c"\nversion = "1"\ntitle = "Clinic sheet"\ncontact = "Ring 555-0142."\n'
        '[[rules]]\nactivity = "driving"\nlabel = "Driving"\nuntil = "next_day"\n'
        f'reason = "Wait."\nsource = {{ title = "{ARTICLE}", section = "{SECTION}" }}\n',
        encoding="utf-8",
    )
    code, out, _ = _run("sheet", *ENDED, "--ruleset", str(path))
    assert code == 0
    assert out.startswith("Clinic sheet\n")
    assert "Ring 555-0142." in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--now", "2026-11-26T01:00:00"), "has no UTC offset"),
        (("--now", "2026-11-25T20:00:00Z"), "now (2026-11-25T20:00:00+00:00) is before"),
        (("--format", "pdf"), "invalid choice: 'pdf'"),
        (("--locale", "de DE"), "locale must be"),
        (("--timezone", "Mars/Base"), "unknown time zone 'Mars/Base'"),
        (("--ruleset", "/no/such/file.toml"), "cannot read file"),
    ],
)
def test_cli_sheet_bad_input_exits_2_with_one_line(extra: tuple[str, ...], message: str) -> None:
    code, out, err = _run("sheet", *ENDED, *extra)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("ketamine-guidance: error: ")
    assert message in err
