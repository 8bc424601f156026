"""The OpenAPI 3.1 description of the service, built from the same service list."""

from __future__ import annotations

import functools
from typing import Any

from ketamine_guidance.service._config import ServiceConfig
from ketamine_guidance.service._hooks import SERVICES

__all__ = ["openapi"]

_REF = "#/components/schemas/"
_STRING = {"type": "string"}
_CODING = {
    "type": "object",
    "properties": {"system": _STRING, "code": _STRING, "display": _STRING},
}
_BUNDLE = {
    "type": "object",
    "required": ["resourceType"],
    "properties": {
        "resourceType": {"const": "Bundle"},
        "entry": {
            "type": "array",
            "items": {"type": "object", "properties": {"resource": {"type": "object"}}},
        },
    },
}
_SCHEMAS: dict[str, Any] = {
    "Coding": _CODING,
    "OperationOutcome": {
        "type": "object",
        "required": ["resourceType", "issue"],
        "properties": {
            "resourceType": {"const": "OperationOutcome"},
            "issue": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["severity", "code"],
                    "properties": {
                        "severity": {"enum": ["fatal", "error", "warning", "information"]},
                        "code": _STRING,
                        "diagnostics": _STRING,
                    },
                },
            },
        },
    },
    "Discovery": {
        "type": "object",
        "required": ["services"],
        "properties": {
            "services": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["hook", "id", "description"],
                    "properties": {
                        "hook": _STRING,
                        "id": _STRING,
                        "title": _STRING,
                        "description": _STRING,
                        "prefetch": {"type": "object", "additionalProperties": _STRING},
                        "usageRequirements": _STRING,
                    },
                },
            }
        },
    },
    "Link": {
        "type": "object",
        "required": ["label", "url", "type"],
        "properties": {"label": _STRING, "url": _STRING, "type": {"enum": ["absolute", "smart"]}},
    },
    "Suggestion": {
        "type": "object",
        "required": ["label"],
        "properties": {
            "label": _STRING,
            "uuid": _STRING,
            "isRecommended": {"type": "boolean"},
            "actions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["type", "description"],
                    "properties": {
                        "type": {"enum": ["create", "update", "delete"]},
                        "description": _STRING,
                        "resourceId": {"type": "array", "items": _STRING},
                    },
                },
            },
        },
    },
    "Card": {
        "type": "object",
        "required": ["uuid", "summary", "indicator", "source"],
        "properties": {
            "uuid": {"type": "string", "format": "uuid"},
            "summary": {"type": "string", "maxLength": 139},
            "detail": _STRING,
            "indicator": {"enum": ["info", "warning", "critical"]},
            "source": {
                "type": "object",
                "required": ["label"],
                "properties": {
                    "label": _STRING,
                    "url": _STRING,
                    "topic": {"$ref": _REF + "Coding"},
                },
            },
            "links": {"type": "array", "items": {"$ref": _REF + "Link"}},
            "suggestions": {"type": "array", "items": {"$ref": _REF + "Suggestion"}},
            "selectionBehavior": {"enum": ["at-most-one", "any"]},
            "overrideReasons": {"type": "array", "items": {"$ref": _REF + "Coding"}},
            "extension": {"type": "object"},
        },
    },
    "CDSResponse": {
        "type": "object",
        "required": ["cards"],
        "properties": {"cards": {"type": "array", "items": {"$ref": _REF + "Card"}}},
    },
    "Feedback": {
        "type": "object",
        "required": ["feedback"],
        "properties": {
            "feedback": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["card", "outcome", "outcomeTimestamp"],
                    "properties": {
                        "card": {"type": "string", "minLength": 1},
                        "outcome": {"enum": ["accepted", "overridden"]},
                        "outcomeTimestamp": {"type": "string", "format": "date-time"},
                        "overrideReason": {
                            "type": "object",
                            "properties": {
                                "reason": {"$ref": _REF + "Coding"},
                                "userComment": _STRING,
                            },
                        },
                        "acceptedSuggestions": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id"],
                                "properties": {"id": _STRING},
                            },
                        },
                    },
                },
            }
        },
    },
    "FeedbackStored": {
        "type": "object",
        "required": ["stored"],
        "properties": {"stored": {"type": "integer", "minimum": 1}},
    },
}


def _request_schema(hook: str) -> dict[str, Any]:
    context: dict[str, Any] = {
        "type": "object",
        "required": ["patientId"],
        "properties": {
            "patientId": {"type": "string", "pattern": "^[A-Za-z0-9\\-.]{1,64}$"},
            "userId": _STRING,
            "encounterId": _STRING,
        },
    }
    if hook != "patient-view":
        context["required"].append("draftOrders")
        context["properties"]["draftOrders"] = _BUNDLE
    if hook == "order-select":
        context["required"].append("selections")
        context["properties"]["selections"] = {"type": "array", "items": _STRING}
    return {
        "type": "object",
        "required": ["hook", "hookInstance", "context"],
        # The service needs the Patient and the sessions: prefetched, or fetched.
        "anyOf": [
            {
                "required": ["prefetch"],
                "properties": {"prefetch": {"required": ["patient", "sessions"]}},
            },
            {"required": ["fhirServer"]},
        ],
        "dependentRequired": {"fhirAuthorization": ["fhirServer"]},
        "properties": {
            "hook": {"const": hook},
            "hookInstance": {"type": "string", "minLength": 1},
            "fhirServer": {"type": "string", "pattern": "^https?://"},
            "fhirAuthorization": {
                "type": "object",
                "required": ["access_token"],
                "properties": {
                    "access_token": _STRING,
                    "token_type": _STRING,
                    "expires_in": {"type": "integer"},
                    "scope": _STRING,
                    "subject": _STRING,
                },
            },
            "context": context,
            "prefetch": {
                "type": "object",
                "properties": {
                    "patient": {
                        "type": "object",
                        "required": ["resourceType"],
                        "properties": {"resourceType": {"const": "Patient"}},
                    },
                    "sessions": _BUNDLE,
                },
            },
        },
    }


def _errors(*codes: int) -> dict[str, Any]:
    words = {
        400: "Malformed JSON, or a body that does not fit the hook.",
        401: "No valid bearer token (no detail is given).",
        404: "No such service.",
        412: "Prefetch missing and no fhirServer to fetch it from.",
        413: "The body is over the size limit.",
    }
    content = {"application/json": {"schema": {"$ref": _REF + "OperationOutcome"}}}
    return {str(c): {"description": words[c], "content": content} for c in codes}


def _json(description: str, name: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _REF + name}}},
    }


@functools.cache
def _paths() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/cds-services": {
            "get": {
                "summary": "CDS Hooks discovery",
                "operationId": "discovery",
                "responses": {
                    "200": _json("The services and their prefetch templates.", "Discovery")
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This description",
                "operationId": "openapi",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }
    for spec in SERVICES.values():
        paths[f"/cds-services/{spec.id}"] = {
            "post": {
                "summary": spec.title,
                "description": spec.description,
                "operationId": spec.id.replace("-", "_"),
                "security": [{"ehrJwt": []}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _request_schema(spec.hook)}},
                },
                "responses": {
                    "200": _json("Cards, most restrictive first.", "CDSResponse"),
                    **_errors(400, 401, 412, 413),
                },
            }
        }
        paths[f"/cds-services/{spec.id}/feedback"] = {
            "post": {
                "summary": f"Feedback on the cards of {spec.id}",
                "operationId": spec.id.replace("-", "_") + "_feedback",
                "security": [{"ehrJwt": []}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": _REF + "Feedback"}}},
                },
                "responses": {
                    "200": _json("How many feedback items were stored.", "FeedbackStored"),
                    **_errors(400, 401, 413),
                },
            }
        }
    return paths


def openapi(config: ServiceConfig) -> dict[str, Any]:
    """The OpenAPI 3.1 document for a service with ``config``."""
    from ketamine_guidance import __version__

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ketamine_guidance CDS Hooks service",
            "version": __version__,
            "description": "Ketamine aftercare cards for EHRs, by HL7 CDS Hooks 2.0.",
        },
        "servers": [{"url": config.base_url}],
        "paths": _paths(),
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "ehrJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    }
