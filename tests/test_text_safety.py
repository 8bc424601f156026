"""The one escaper per medium, checked with parsers the library does not use to write."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from icalendar import Calendar
from markdown_it import MarkdownIt

from ketamine_guidance._formats.escape import html_text, ical_text, markdown
from ketamine_guidance._text import UNSAFE, shorten, strip_invisible, visible

HOSTILE = [
    "1. first",
    "2) second",
    "+ plus",
    "- dash",
    "---",
    "===",
    "Title\n===",
    "# heading",
    "> quote",
    "    indented code",
    "&amp; &#x41;",
    "~~struck~~",
    "**bold** _it_",
    "![x](https://example.org/x.png)",
    "[link](javascript:alert(1))",
    "<script>alert(1)</script>",
    "`code`",
    "| a | b |",
    "a\\",
    "trailing two spaces  \nnext",
]


def _rendered_text(source: str) -> str:
    """What a CommonMark renderer shows for ``source``: the text of every token, no markup."""
    parser = MarkdownIt("commonmark").enable("strikethrough").enable("table")
    tokens = parser.parse(source)
    kinds = {t.type for t in tokens}
    assert kinds <= {"paragraph_open", "paragraph_close", "inline"}, (source, kinds)
    pieces = []
    for token in tokens:
        if token.type == "inline":
            assert token.children is not None
            for child in token.children:
                assert child.type in {"text", "softbreak", "hardbreak"}, (source, child.type)
                pieces.append("\n" if child.type != "text" else child.content)
        elif token.type == "paragraph_open" and pieces:
            pieces.append("\n")
    return "".join(pieces)


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_shows_hostile_text_as_written_with_no_structure(text: str):
    expected = "\n".join(" ".join(line.split()) for line in text.split("\n") if line.strip())
    assert _rendered_text(markdown(text)) == expected


@given(st.text(alphabet=string.printable.replace("\r", "").replace("\x0b", "").replace("\x0c", "")))
def test_markdown_never_makes_structure_from_any_printable_text(text: str):
    _rendered_text(markdown(text))  # asserts only paragraphs of plain text come out


def test_markdown_shows_control_characters_as_escapes():
    assert _rendered_text(markdown("a\x1b[2Kb\u202ec")) == "a\\x1b[2Kb\\u202ec"


def _summary_read_back(value: str) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:VEVENT", f"SUMMARY:{value}"]
    calendar = Calendar.from_ical("\r\n".join([*lines, "END:VEVENT", "END:VCALENDAR", ""]))
    return str(calendar.walk("VEVENT")[0]["SUMMARY"])


@given(st.text())
def test_ical_text_reads_back_through_icalendar(text: str):
    shown = visible(text).replace("\r\n", "\n").replace("\r", "\n")
    assert _summary_read_back(ical_text(text)) == shown


def test_ical_text_escapes_what_rfc_5545_names():
    assert ical_text("a;b,c\\d\nnext") == "a\\;b\\,c\\\\d\\nnext"


def test_html_text_escapes_markup_and_shows_controls():
    assert (
        html_text('<b class="x">&\x07</b>') == "&lt;b class=&quot;x&quot;&gt;&amp;\\x07&lt;/b&gt;"
    )


@pytest.mark.parametrize(
    ("char", "unsafe"),
    [
        ("\x00", True),
        ("\x07", True),
        ("\x1b", True),
        ("\x7f", True),
        ("\x9b", True),
        ("\u202e", True),
        ("\u2066", True),
        ("\u200b", True),
        ("\ufeff", True),
        ("\u00ad", True),
        ("\n", False),
        ("\t", False),
        ("é", False),
        ("\u00a0", False),
    ],
)
def test_unsafe_characters(char: str, unsafe: bool):
    assert bool(UNSAFE.search(char)) is unsafe


def test_visible_and_shorten_make_one_safe_line():
    assert visible("a\x1b\nb") == "a\\x1b\nb"
    assert visible("a\x1b\nb\t", keep_newlines=False) == "a\\x1b\\nb\\t"
    assert shorten("short") == "short"
    long = shorten("y" * 100_000)
    assert len(long) < 110
    assert long.endswith("… (100000 characters)")


def test_strip_invisible_leaves_only_what_shows():
    assert strip_invisible(" \u200b\u202e\ufeff\t") == ""
    assert strip_invisible(" Dr\u200b A ") == "DrA"
