"""Plain English formatting of local times (see :mod:`ketamine_guidance._engine.words`).

Every time the formats show a person goes through :func:`format_local`, which rounds
up to the minute, so that no lift is shown earlier than true; the start of a ban and
the end of a permission are rounded down instead (``down=True``), so that neither is
shown later than true.
"""

from __future__ import annotations

from ketamine_guidance._engine.words import (
    format_clock,
    format_date,
    format_local,
    format_offset,
    format_short,
    round_up_to_minute,
)

__all__ = [
    "format_clock",
    "format_date",
    "format_local",
    "format_offset",
    "format_short",
    "round_up_to_minute",
]
