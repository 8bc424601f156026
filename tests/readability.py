"""Flesch-Kincaid grade from pyphen syllable counts (no data fetched at run time).

textstat releases after 0.7.8 download NLTK data when first used, which a machine
without internet cannot do; textstat itself counts syllables with pyphen, so this
module applies the same published formula to pyphen's counts directly:

    grade = 0.39 * (words / sentences) + 11.8 * (syllables / words) - 15.59
"""

from __future__ import annotations

import functools
import re

import pyphen

_WORD = re.compile("[A-Za-z]+(?:['\u2019][A-Za-z]+)*")
_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")


@functools.cache
def _dictionary() -> pyphen.Pyphen:
    return pyphen.Pyphen(lang="en_US")


def syllables(word: str) -> int:
    """Syllables in one word: pyphen's hyphenation points plus one."""
    return len(_dictionary().positions(word.lower())) + 1


def words(text: str) -> list[str]:
    """The words of ``text`` (digits and punctuation are not words)."""
    return _WORD.findall(text)


def sentences(text: str) -> int:
    """Sentences in ``text``: runs of . ! ? at a word's end, at least one."""
    return max(1, len(_SENTENCE_END.findall(text.strip())))


def fk_grade(text: str) -> float:
    """The Flesch-Kincaid grade level of ``text``."""
    ws = words(text)
    if not ws:
        msg = f"no words in {text!r}"
        raise ValueError(msg)
    n_syllables = sum(syllables(w) for w in ws)
    return 0.39 * (len(ws) / sentences(text)) + 11.8 * (n_syllables / len(ws)) - 15.59
