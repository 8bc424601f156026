"""Escaping for each medium, in one place per medium.

Every output that places caller or ruleset text in a structured format goes through one
of these functions, so that text can never change the structure around it:

* :func:`markdown` for Markdown (the sheet, CDS Hooks ``detail``, FHIR ``markdown``);
* :func:`ical_text` for iCalendar TEXT values (RFC 5545 section 3.3.11);
* :func:`html_text` for HTML text and attribute values.

Each first escapes the characters that are invisible or control a terminal
(:data:`ketamine_guidance._text.UNSAFE`), so they show as ``\\x1b``-style escapes.
"""

from __future__ import annotations

import html
import re
import string

from ketamine_guidance._text import visible

__all__ = ["html_text", "ical_text", "markdown"]

# CommonMark lets a backslash escape any ASCII punctuation character, and only those;
# escaping all of them means no character can open emphasis, a link, an image, raw
# HTML, an entity (&amp;), a list item (1. or 2) or +), a heading, a setext underline
# (--- or ===), strikethrough (~~), a table (|) or a code span.
_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")
_SPACE_RUNS = re.compile(r"[ \t]+")


def markdown(text: str) -> str:
    """``text`` as Markdown that renders exactly as written, on one line per line.

    Every ASCII punctuation character is backslash-escaped and the indentation of each
    line is removed (four spaces would start a code block); newlines are kept.

    >>> print(markdown("1. **Do** <b>this</b> & ~~that~~"))
    1\\. \\*\\*Do\\*\\* \\<b\\>this\\<\\/b\\> \\& \\~\\~that\\~\\~
    >>> print(markdown("    ---"))
    \\-\\-\\-
    """
    lines = visible(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(
        _PUNCTUATION.sub(r"\\\1", _SPACE_RUNS.sub(" ", line).strip()) for line in lines
    )


def ical_text(text: str) -> str:
    """``text`` as an iCalendar TEXT value: backslash, semicolon, comma and newline
    escaped as RFC 5545 section 3.3.11 says.

    >>> print(ical_text("a;b,c\\\\d\\nnext"))
    a\\;b\\,c\\\\d\\nnext
    """
    shown = visible(text).replace("\r\n", "\n").replace("\r", "\n")
    return shown.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def html_text(text: str) -> str:
    """``text`` escaped for HTML text or a quoted attribute value.

    >>> html_text('<a href="x">&</a>')
    '&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;'
    """
    return html.escape(visible(text), quote=True)
