"""The aftercare sheet's own words in other languages: gettext catalogues.

Every heading and fixed phrase of the sheet is a message marked with :func:`N_`
(Babel's extractor finds them: ``pybabel extract -F babel.cfg``).  The catalogues ship
in the package as ``locale/<language>/LC_MESSAGES/ketamine_guidance.po`` and are read
with Babel, the ``i18n`` extra, the first time a sheet in that language is made (Babel
is needed for any locale other than English anyway, for its dates).  A message the
catalogue lacks, or marks fuzzy, stays English; a test keeps every catalogue complete.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

__all__ = ["DOMAIN", "LANGUAGES", "N_", "catalogue"]

DOMAIN = "ketamine_guidance"
#: The languages with a complete catalogue (English is the source language).
LANGUAGES = ("de", "es", "fr")


def N_(message: str) -> str:  # noqa: N802  (the gettext name extractors look for)
    """Mark ``message`` for extraction; it is translated where it is shown."""
    return message


@functools.cache
def catalogue(language: str) -> Mapping[str, str]:
    """The translations of one of :data:`LANGUAGES`, message id to text (needs Babel)."""
    from importlib import resources

    from babel.messages.pofile import read_po

    path = resources.files("ketamine_guidance").joinpath(
        f"locale/{language}/LC_MESSAGES/{DOMAIN}.po"
    )
    with path.open("rb") as stream:
        messages = read_po(stream, locale=language, domain=DOMAIN)
    return {
        str(m.id): str(m.string)
        for m in messages
        if m.id and isinstance(m.string, str) and m.string and not m.fuzzy
    }
