"""Reading the FHIR resources a hook call brings (or the service fetches).

* Sessions: ``Procedure`` resources with ``status`` ``completed`` and one of the
  configured codes; the end is ``performedPeriod.end`` or ``performedDateTime`` (R4),
  or ``occurrencePeriod.end`` / ``occurrenceDateTime`` (R5), with a UTC offset.
* The zone: the ``Patient`` extension :data:`TIMEZONE_EXTENSION` (FHIR's "timezone"
  extension, a ``valueCode`` holding an IANA zone name such as ``America/New_York``).
* Orders: draft ``MedicationRequest`` resources; the medication's codings come from
  ``medicationCodeableConcept`` (R4), ``medication.concept`` (R5) or a contained
  ``Medication`` that ``medicationReference`` points to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

from attrs import frozen

from ketamine_guidance._rules.model import Code

__all__ = [
    "TIMEZONE_EXTENSION",
    "FetchError",
    "Order",
    "SessionRecord",
    "fetch_json",
    "has_next_page",
    "in_progress",
    "orders",
    "patient_zone",
    "resources",
    "sessions",
]

#: The FHIR extension on ``Patient`` that the service reads the patient's zone from.
TIMEZONE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/timezone"


class FetchError(Exception):
    """The FHIR server could not be read (no detail: it could hold patient data)."""


def _dict(value: object) -> dict[str, Any] | None:
    return cast("dict[str, Any]", value) if isinstance(value, dict) else None


def _list(value: object) -> list[object]:
    return cast("list[object]", value) if isinstance(value, list) else []


def resources(value: object) -> Iterator[dict[str, Any]]:
    """The resources of a Bundle's entries (nothing for anything else)."""
    data = _dict(value) or {}
    if data.get("resourceType") != "Bundle":
        return
    for entry in _list(data.get("entry")):
        resource = _dict((_dict(entry) or {}).get("resource"))
        if resource is not None:
            yield resource


def patient_zone(patient: object) -> tuple[bool, str | None]:
    """(whether the Patient carries a zone extension, its valueCode if a string)."""
    data = _dict(patient) or {}
    for extension in _list(data.get("extension")):
        ext = _dict(extension) or {}
        if ext.get("url") == TIMEZONE_EXTENSION:
            code = ext.get("valueCode")
            return True, code if isinstance(code, str) else None
    return False, None


def has_next_page(bundle: object) -> bool:
    """True when a search Bundle says more results follow (a ``next`` link)."""
    data = _dict(bundle) or {}
    return any((_dict(link) or {}).get("relation") == "next" for link in _list(data.get("link")))


@frozen
class SessionRecord:
    """A ketamine session from a Procedure: its id and end (None when unreadable)."""

    ident: str
    ended_at: dt.datetime | None


def _instant(value: object) -> dt.datetime | None:
    from dateutil.parser import isoparse

    if not isinstance(value, str) or "T" not in value:
        return None  # a date alone says no instant
    try:
        moment = isoparse(value)
    except (ValueError, OverflowError):
        return None
    return moment if moment.tzinfo is not None else None


def _codings(concept: object) -> Iterator[tuple[object, object]]:
    for coding in _list((_dict(concept) or {}).get("coding")):
        c = _dict(coding) or {}
        yield c.get("system"), c.get("code")


def _end(procedure: Mapping[str, Any]) -> object:
    for period_key, time_key in (
        ("performedPeriod", "performedDateTime"),
        ("occurrencePeriod", "occurrenceDateTime"),
    ):
        period = _dict(procedure.get(period_key))
        if period is not None:
            return period.get("end")
        if time_key in procedure:
            return procedure[time_key]
    return None


def _is_session(resource: Mapping[str, Any], codes: Sequence[Code]) -> bool:
    return resource.get("resourceType") == "Procedure" and any(
        c.matches(s, v) for s, v in _codings(resource.get("code")) for c in codes
    )


def in_progress(bundle: object, codes: Sequence[Code]) -> bool:
    """True when a ketamine session in the Bundle is recorded as still going on."""
    return any(
        _is_session(r, codes) and r.get("status") == "in-progress" for r in resources(bundle)
    )


def sessions(bundle: object, codes: Sequence[Code]) -> list[SessionRecord]:
    """The completed ketamine sessions in a Bundle of Procedures."""
    out: list[SessionRecord] = []
    for resource in resources(bundle):
        if resource.get("status") != "completed" or not _is_session(resource, codes):
            continue
        ident = resource.get("id")
        out.append(SessionRecord(ident if isinstance(ident, str) else "", _instant(_end(resource))))
    return out


@frozen
class Order:
    """A draft medication order: its id, its name in words and its codings."""

    ident: str | None
    name: str
    codings: tuple[tuple[object, object], ...]


def _concept_name(concept: object) -> str | None:
    data = _dict(concept) or {}
    text = data.get("text")
    if isinstance(text, str) and text.strip():
        return text.strip()
    for coding in _list(data.get("coding")):
        display = (_dict(coding) or {}).get("display")
        if isinstance(display, str) and display.strip():
            return display.strip()
    return None


def _medication(request: Mapping[str, Any]) -> object:
    if "medicationCodeableConcept" in request:
        return request["medicationCodeableConcept"]
    medication = _dict(request.get("medication")) or {}
    if "concept" in medication:
        return medication["concept"]  # R5: a CodeableReference
    reference = _dict(request.get("medicationReference")) or _dict(medication.get("reference"))
    target = (reference or {}).get("reference")
    if isinstance(target, str) and target.startswith("#"):
        for contained in _list(request.get("contained")):
            item = _dict(contained) or {}
            if item.get("resourceType") == "Medication" and item.get("id") == target[1:]:
                return item.get("code")
    return None


def orders(draft_orders: object) -> list[Order]:
    """The MedicationRequests in a ``draftOrders`` Bundle."""
    out: list[Order] = []
    for resource in resources(draft_orders):
        if resource.get("resourceType") != "MedicationRequest":
            continue
        concept = _medication(resource)
        ident = resource.get("id")
        out.append(
            Order(
                ident if isinstance(ident, str) and ident else None,
                _concept_name(concept) or "This medication order",
                tuple(_codings(concept)),
            )
        )
    return out


async def fetch_json(
    client: Any,  # an httpx.AsyncClient; Any keeps httpx out of the type of this module
    url: str,
    *,
    token: str | None,
    max_bytes: int,
) -> object:
    """GET ``url`` as FHIR JSON, at most ``max_bytes``; FetchError on any failure."""
    import json

    import httpx

    headers = {"Accept": "application/fhir+json, application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        async with client.stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                raise FetchError
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError
        return json.loads(body)
    except (httpx.HTTPError, ValueError) as exc:
        raise FetchError from exc
