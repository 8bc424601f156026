"""Plain-text safety shared by every layer: which characters are unsafe, and how to show
a value in one line.

Ruleset text reaches terminals, sheets and other systems.  Some characters change what a
reader sees without being visible themselves: terminal control sequences (ESC, BEL, ...,
which can erase a printed line), bidirectional overrides (U+202E, which reorder text) and
zero-width characters (which hide a name).  The loader refuses them in ruleset files;
every output that shows caller text escapes them; messages cut long values.
"""

from __future__ import annotations

import re

__all__ = [
    "INVISIBLE",
    "UNSAFE",
    "shorten",
    "strip_invisible",
    "visible",
]

# C0 controls other than tab and newline, DEL, and the C1 controls.
_CONTROL = "\x00-\x08\x0b-\x1f\x7f-\x9f"
# Bidirectional embeddings, overrides, isolates and marks.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# Characters that take no space: zero-width space, joiners, word joiner, BOM, soft hyphen.
_ZERO_WIDTH = "\u00ad\u180e\u200b-\u200d\u2060-\u2064\ufeff"

#: Characters that change what a reader sees without being visible: refused in ruleset
#: text and escaped in every output.
UNSAFE = re.compile(f"[{_CONTROL}{_BIDI}{_ZERO_WIDTH}]")
#: Characters a name can be made of and still look empty: whitespace, bidi, zero-width.
INVISIBLE = re.compile(rf"[\s{_BIDI}{_ZERO_WIDTH}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, keep_newlines: bool = True) -> str:
    """``text`` with every unsafe character written as an escape (``\\x1b``, ``\\u202e``).

    With ``keep_newlines=False`` newlines and tabs are escaped too (``\\n``, ``\\t``), so
    the result is one line.

    >>> visible("ok\\x1b[2Kgone\\u202e")
    'ok\\\\x1b[2Kgone\\\\u202e'
    >>> visible("two\\nlines", keep_newlines=False)
    'two\\\\nlines'
    """
    shown = UNSAFE.sub(_escape, text)
    if not keep_newlines:
        shown = shown.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return shown


def strip_invisible(text: str) -> str:
    """``text`` without whitespace, bidi controls and zero-width characters.

    >>> strip_invisible(" \\u200b\\u202e ")
    ''
    """
    return INVISIBLE.sub("", text)


def shorten(text: str, limit: int = 80) -> str:
    """``text`` in one visible line of at most about ``limit`` characters, for messages.

    >>> shorten("abc" * 40, limit=20)
    'abcabcabcabcabcabca… (120 characters)'
    """
    shown = visible(text, keep_newlines=False)
    if len(shown) <= limit:
        return shown
    return f"{shown[: limit - 1]}… ({len(text)} characters)"
