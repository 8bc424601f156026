"""The identifiers that the exports share: code systems, extensions, labels."""

from __future__ import annotations

__all__ = ["ACTIVITY_SYSTEM", "DEFAULT_SOURCE_LABEL", "RESTRICTION_EXTENSION"]

#: The code system of activity ids in FHIR and CDS Hooks output; the codes are the
#: ruleset's activity ids (``driving``).
ACTIVITY_SYSTEM = "https://ketamine-guidance.readthedocs.io/fhir/CodeSystem/activity"
#: The FHIR extension on ``CarePlan.activity.detail`` that gives the activity's status
#: until it lifts: ``not_permitted``, ``permitted_with_caution`` or ``permitted``.
RESTRICTION_EXTENSION = (
    "https://ketamine-guidance.readthedocs.io/fhir/StructureDefinition/restriction"
)
#: A CDS Hooks card's ``source.label`` unless the caller names its own service.
DEFAULT_SOURCE_LABEL = "Ketamine aftercare guidance"
