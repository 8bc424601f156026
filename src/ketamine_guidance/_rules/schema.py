"""The JSON Schema for ruleset files, shipped in the package for editors and CI."""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMA_RESOURCE", "ruleset_schema", "ruleset_schema_text"]

SCHEMA_RESOURCE = "schemas/ruleset.schema.json"


def ruleset_schema_text() -> str:
    """The schema file's text, exactly as shipped."""
    from importlib import resources  # on first use: it is slow to import

    return resources.files("ketamine_guidance").joinpath(SCHEMA_RESOURCE).read_text("utf-8")


def ruleset_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) for ruleset files, as a new dict on every call.

    Editors that read JSON Schema (for TOML too, such as Taplo) use it to complete and
    check a clinic's file as it is written.  The loader checks more than the schema can
    say (unique activities and advice ids, what ``remove`` names, that a date exists,
    the base of ``extends``); :func:`~ketamine_guidance.validate_ruleset` is the
    final word.

    >>> ruleset_schema()["$schema"]
    'https://json-schema.org/draft/2020-12/schema'

    .. versionadded:: 0.1.0
    """
    import json

    schema: dict[str, Any] = json.loads(ruleset_schema_text())
    return schema
