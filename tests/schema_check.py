"""Validate documents against the JSON Schemas shipped inside the package."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import jsonschema
from referencing import Registry, Resource

#: The schema file for each document kind.
SCHEMA_FILES = {
    "advice": "advice.schema.json",
    "decision": "decision.schema.json",
    "plan": "plan.schema.json",
    "ruleset": "ruleset-document.schema.json",
    "timeline-entry": "timeline-entry.schema.json",
}


@functools.cache
def _schemas() -> dict[str, dict[str, Any]]:
    folder = resources.files("ketamine_guidance").joinpath("schemas")
    return {
        item.name: json.loads(item.read_text("utf-8"))
        for item in folder.iterdir()
        if item.name.endswith(".schema.json")
    }


@functools.cache
def _registry() -> Registry[Any]:
    pairs = [(s["$id"], Resource.from_contents(s)) for s in _schemas().values()]
    return Registry().with_resources(pairs)


def validator(kind: str) -> jsonschema.Draft202012Validator:
    """A draft 2020-12 validator for one kind, with every shipped file resolvable."""
    schema = _schemas()[SCHEMA_FILES[kind]]
    return jsonschema.Draft202012Validator(
        schema,
        registry=_registry(),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def validate(document: dict[str, Any]) -> dict[str, Any]:
    """Validate a document against the schema its ``schema`` tag names; return it."""
    tag = document["schema"]
    prefix, kind, version = tag.split("/")
    assert (prefix, version) == ("ketamine-guidance", "v1"), tag
    # Through JSON text, as a consumer would read it.
    validator(kind).validate(json.loads(json.dumps(document)))
    return document
