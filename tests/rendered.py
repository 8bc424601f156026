"""What a reader sees of a Markdown output, rendered by an independent CommonMark parser."""

from __future__ import annotations

import html
import re

from markdown_it import MarkdownIt

_TAG = re.compile(r"<[^>]+>")


def markdown_html(text: str) -> str:
    """``text`` rendered by markdown-it-py (CommonMark, with tables and strikethrough)."""
    page: str = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text)
    return page


def markdown_words(text: str) -> str:
    """The text a reader sees in rendered Markdown: tags removed, entities decoded."""
    return html.unescape(_TAG.sub("", markdown_html(text)))
