"""The identifiers that the exports share: code systems, extensions, labels."""

from __future__ import annotations

__all__ = [
    "ACTIVITY_SYSTEM",
    "DEFAULT_BASE_URL",
    "DEFAULT_SOURCE_LABEL",
    "RESTRICTION_EXTENSION",
]

#: Where the FHIR exports' code system, extensions and identifier systems live unless the
#: caller gives its own ``base_url``; the docs site publishes the definitions there.
DEFAULT_BASE_URL = "https://ketamine-guidance.readthedocs.io/fhir"
#: The code system of activity ids in FHIR and CDS Hooks output (under the default
#: ``base_url``); the codes are the ruleset's activity ids (``driving``).
ACTIVITY_SYSTEM = f"{DEFAULT_BASE_URL}/CodeSystem/activity"
#: The FHIR extension on ``CarePlan.activity.detail`` that gives the activity's status
#: until it lifts: ``not_permitted``, ``permitted_with_caution`` or ``permitted``.
RESTRICTION_EXTENSION = f"{DEFAULT_BASE_URL}/StructureDefinition/restriction"
#: A CDS Hooks card's ``source.label`` unless the caller names its own service.
DEFAULT_SOURCE_LABEL = "Ketamine aftercare guidance"
