"""The services the discovery endpoint lists, and the checks on a hook request's body.

Everything here is plain data and plain checks (no web framework), so the OpenAPI
description, the discovery answer and the request checks cannot disagree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, cast
from urllib.parse import quote, urlsplit

from attrs import frozen

from ketamine_guidance._rules.model import Code

__all__ = [
    "PATIENT_TEMPLATE",
    "SERVICES",
    "BadRequestError",
    "HookRequest",
    "ServiceSpec",
    "check_feedback",
    "check_request",
    "discovery",
    "sessions_template",
]

PATIENT_TEMPLATE = "Patient/{{context.patientId}}"
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


@frozen
class ServiceSpec:
    """One CDS Service: its id, the hook it answers, and what discovery says of it."""

    id: str
    hook: str
    title: str
    description: str


SERVICES: dict[str, ServiceSpec] = {
    s.id: s
    for s in (
        ServiceSpec(
            "ketamine-aftercare-patient-view",
            "patient-view",
            "Ketamine aftercare restrictions in force",
            "When a chart is opened: a card for every ketamine aftercare restriction in "
            "force now (driving, alcohol, sedatives, ...), most restrictive first, with "
            "when each lifts in the patient's local time.",
        ),
        ServiceSpec(
            "ketamine-aftercare-order-select",
            "order-select",
            "Ketamine aftercare check of selected medication orders",
            "When a medication order is selected: a warning if its medication falls under "
            "a ketamine aftercare restriction in force now, with when it lifts.",
        ),
        ServiceSpec(
            "ketamine-aftercare-order-sign",
            "order-sign",
            "Ketamine aftercare check of medication orders before signing",
            "Before orders are signed: a warning for each draft medication order that a "
            "ketamine aftercare restriction in force now covers, with a suggestion to "
            "remove it and override reasons.",
        ),
    )
}


def sessions_template(codes: Sequence[Code]) -> str:
    """The prefetch query for the patient's ketamine sessions."""
    tokens = ",".join(quote(f"{c.system}|{c.code}", safe=":/") for c in codes)
    return "Procedure?patient={{context.patientId}}&code=" + tokens


def discovery(codes: Sequence[Code]) -> dict[str, Any]:
    """The discovery response: one service per hook."""
    prefetch = {"patient": PATIENT_TEMPLATE, "sessions": sessions_template(codes)}
    usage = (
        "Every call needs a JWT bearer token signed by an EHR key the service trusts. "
        "The patient's time zone is read from the Patient's timezone extension "
        "(http://hl7.org/fhir/StructureDefinition/timezone), else the clinic zone the "
        "service is configured with."
    )
    return {
        "services": [
            {
                "hook": s.hook,
                "id": s.id,
                "title": s.title,
                "description": s.description,
                "prefetch": dict(prefetch),
                "usageRequirements": usage,
            }
            for s in SERVICES.values()
        ]
    }


class BadRequestError(Exception):
    """The request body does not fit the hook: the message names the field, nothing else."""


@frozen
class HookRequest:
    """The parts of a hook request the service uses, checked."""

    patient_id: str
    fhir_server: str | None
    access_token: str | None
    prefetch: Mapping[str, object]
    draft_orders: object
    selections: tuple[str, ...]


def _need(condition: bool, message: str) -> None:  # noqa: FBT001 (a check, read at the call)
    if not condition:
        raise BadRequestError(message)


def _bundle(value: object) -> dict[str, Any] | None:
    if isinstance(value, dict):
        data = cast("dict[str, Any]", value)
        if data.get("resourceType") == "Bundle":
            return data
    return None


def check_request(spec: ServiceSpec, body: object) -> HookRequest:
    """The request, or BadRequestError naming the first field that does not fit."""
    _need(isinstance(body, dict), "the request body must be a JSON object")
    data = cast("dict[str, Any]", body)
    _need(data.get("hook") == spec.hook, f"hook must be {spec.hook!r} for this service")
    _need(
        isinstance(data.get("hookInstance"), str) and bool(data["hookInstance"]),
        "hookInstance must be a string",
    )
    context = data.get("context")
    _need(isinstance(context, dict), "context must be an object")
    ctx = cast("dict[str, Any]", context)
    patient = ctx.get("patientId")
    _need(
        isinstance(patient, str) and _FHIR_ID.fullmatch(patient) is not None,
        "context.patientId must be a FHIR id",
    )
    draft_orders: object = None
    selections: tuple[str, ...] = ()
    if spec.hook in ("order-select", "order-sign"):
        draft_orders = _bundle(ctx.get("draftOrders"))
        _need(draft_orders is not None, "context.draftOrders must be a FHIR Bundle")
    if spec.hook == "order-select":
        raw = ctx.get("selections")
        _need(
            isinstance(raw, list) and all(isinstance(s, str) for s in cast("list[object]", raw)),
            "context.selections must be a list of strings",
        )
        selections = tuple(cast("list[str]", raw))
    server = data.get("fhirServer")
    if server is not None:
        parts = urlsplit(server) if isinstance(server, str) else None
        _need(
            parts is not None and parts.scheme in ("http", "https") and bool(parts.netloc),
            "fhirServer must be an http or https URL",
        )
    token: str | None = None
    auth = data.get("fhirAuthorization")
    if auth is not None:
        _need(
            isinstance(auth, dict)
            and isinstance(cast("dict[str, Any]", auth).get("access_token"), str),
            "fhirAuthorization must be an object with an access_token",
        )
        _need(server is not None, "fhirAuthorization needs fhirServer")
        token = cast("dict[str, str]", auth)["access_token"]
    prefetch = data.get("prefetch", {})
    _need(isinstance(prefetch, dict), "prefetch must be an object")
    return HookRequest(
        patient_id=cast("str", patient),
        fhir_server=cast("str | None", server),
        access_token=token,
        prefetch=cast("dict[str, object]", prefetch),
        draft_orders=draft_orders,
        selections=selections,
    )


_OUTCOMES = ("accepted", "overridden")


def _optional_str(value: object, message: str) -> str | None:
    _need(value is None or isinstance(value, str), message)
    return cast("str | None", value)


def check_feedback(body: object) -> list[dict[str, Any]]:
    """The feedback items of a feedback request, as store columns (without the ruleset)."""
    from dateutil.parser import isoparse

    _need(isinstance(body, dict), "the request body must be a JSON object")
    items = cast("dict[str, Any]", body).get("feedback")
    _need(isinstance(items, list) and items != [], "feedback must be a non-empty list")
    rows: list[dict[str, Any]] = []
    for index, item in enumerate(cast("list[object]", items)):
        where = f"feedback[{index}]"
        _need(isinstance(item, dict), f"{where} must be an object")
        entry = cast("dict[str, Any]", item)
        card = entry.get("card")
        _need(isinstance(card, str) and bool(card), f"{where}.card must be a card uuid")
        _need(entry.get("outcome") in _OUTCOMES, f"{where}.outcome must be accepted or overridden")
        stamp = entry.get("outcomeTimestamp")
        try:
            moment = isoparse(stamp) if isinstance(stamp, str) else None
        except (ValueError, OverflowError):
            moment = None
        _need(
            moment is not None and moment.tzinfo is not None,
            f"{where}.outcomeTimestamp must be an ISO 8601 instant with a UTC offset",
        )
        reason = entry.get("overrideReason", {})
        _need(isinstance(reason, dict), f"{where}.overrideReason must be an object")
        reason_d = cast("dict[str, Any]", reason)
        coding = reason_d.get("reason", {})
        _need(isinstance(coding, dict), f"{where}.overrideReason.reason must be a Coding")
        coding_d = cast("dict[str, Any]", coding)
        message = f"{where}.overrideReason must hold strings"
        accepted = entry.get("acceptedSuggestions", [])
        _need(
            isinstance(accepted, list)
            and all(
                isinstance(a, dict) and isinstance(cast("dict[str, Any]", a).get("id"), str)
                for a in cast("list[object]", accepted)
            ),
            f"{where}.acceptedSuggestions must be a list of {{id}} objects",
        )
        rows.append(
            {
                "card": card,
                "outcome": entry["outcome"],
                "outcome_timestamp": stamp,
                "override_system": _optional_str(coding_d.get("system"), message),
                "override_code": _optional_str(coding_d.get("code"), message),
                "override_display": _optional_str(coding_d.get("display"), message),
                "user_comment": _optional_str(reason_d.get("userComment"), message),
                "accepted_suggestions": [
                    cast("dict[str, str]", a)["id"] for a in cast("list[object]", accepted)
                ],
            }
        )
    return rows
