"""Plain English formatting of local times (see :mod:`ketamine_guidance._engine.words`).

Every time the formats show a person goes through :func:`format_local`, which rounds
up to the minute: nothing is shown earlier than true.
"""

from __future__ import annotations

from ketamine_guidance._engine.words import format_local, round_up_to_minute

__all__ = ["format_local", "round_up_to_minute"]
