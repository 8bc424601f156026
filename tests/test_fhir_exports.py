"""FHIR an EHR can store, update and trust: identifiers, narrative, caution in core
elements, Provenance, the ruleset as a PlanDefinition, and the published definitions.

Every resource goes through tests/fhir_check.py: the official R4 JSON schema,
fhir.resources (R4B) and the R4 invariants in FHIRPath (fhirpathpy).
"""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from importlib import resources
from typing import Any
from unittest import mock

import pytest

from ketamine_guidance import (
    DEFAULT_BASE_URL,
    AftercarePlan,
    CoursePlan,
    ExportError,
    Ruleset,
    Session,
    Status,
    default_ruleset,
    fhir_definitions,
    plan_for,
    plan_for_course,
    to_fhir_bundle,
    to_fhir_careplan,
    to_fhir_plandefinition,
)
from tests.fhir_check import check
from tests.interop_fixtures import CLINIC_DATA, UTC, clinic_plan, clinic_ruleset

BASE = "https://fhir.example-clinic.org/ketamine"
XHTML = "{http://www.w3.org/1999/xhtml}"
DEFINITIONS = {r["url"]: r for r in fhir_definitions()}
DISPLAYS = {
    c["code"]: c["display"]
    for c in DEFINITIONS[f"{DEFAULT_BASE_URL}/CodeSystem/activity"]["concept"]
}


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def conforms(resource: dict[str, Any], base: str = DEFAULT_BASE_URL) -> dict[str, Any]:
    """The independent checks, then the library's own definitions loaded into the check:
    every activity coding's display is the CodeSystem's and every extension of ours is
    defined, with the value type its StructureDefinition says."""
    check(resource)
    definitions = {r["url"]: r for r in fhir_definitions(base_url=base)}
    system = f"{base}/CodeSystem/activity"
    displays = {c["code"]: c["display"] for c in definitions[system]["concept"]}
    for node in _walk(resource):
        if node.get("system") == system:
            assert node.get("display") == displays.get(node["code"])
        url = node.get("url")
        if isinstance(url, str) and url.startswith(f"{base}/StructureDefinition/"):
            (value_type,) = definitions[url]["differential"]["element"][-1]["type"]
            key = "value" + value_type["code"][0].upper() + value_type["code"][1:]
            assert key in node, (url, node)
    return resource


def _overridden() -> AftercarePlan:
    return clinic_plan().with_override(
        "flying",
        status=Status.PERMITTED,
        effective_from=dt.datetime(2026, 11, 26, 15, tzinfo=UTC),
        clinician="Dr Rivera",
        note="short flight <b>with</b> a carer",
    )


def _course() -> CoursePlan:
    return plan_for_course(
        [
            Session(dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC), "America/New_York"),
            Session(dt.datetime(2026, 11, 27, 23, 30, tzinfo=UTC), "America/New_York"),
        ],
        clinic_ruleset(),
    )


def _detail(resource: dict[str, Any], activity: str) -> dict[str, Any]:
    for item in resource["activity"]:
        if item["detail"]["code"]["coding"][0]["code"] == activity:
            return item["detail"]  # type: ignore[no-any-return]
    raise AssertionError(activity)


# The CarePlan


def test_the_identifier_is_stable_across_overrides_and_differs_by_patient() -> None:
    plan = clinic_plan()
    first = conforms(to_fhir_careplan(plan, subject="Patient/1"))
    again = conforms(to_fhir_careplan(_overridden(), subject="Patient/1"))
    other = conforms(to_fhir_careplan(plan, subject="Patient/2"))
    assert first["identifier"] == again["identifier"]
    assert first["id"] == again["id"]
    assert first["identifier"] != other["identifier"]
    assert first["identifier"][0]["system"] == f"{DEFAULT_BASE_URL}/identifier/careplan"
    course = conforms(to_fhir_careplan(_course(), subject="Patient/1"))
    assert course["identifier"] != first["identifier"]


def test_narrative_category_and_profile() -> None:
    data = dict(CLINIC_DATA, title="Clinic <script>alert(1)</script> & co")
    plan = plan_for(clinic_plan().session, Ruleset.from_dict(data))
    resource = conforms(to_fhir_careplan(plan, subject="Patient/1"))
    assert resource["text"]["status"] == "generated"
    div = ET.fromstring(resource["text"]["div"])  # well-formed XHTML  # noqa: S314
    assert div.tag == f"{XHTML}div"
    assert not div.findall(f".//{XHTML}script")
    assert "Clinic <script>alert(1)</script> & co" in "".join(div.itertext())
    cells = ["".join(td.itertext()) for td in div.iter(f"{XHTML}td")]
    assert "Driving" in cells
    assert resource["category"] == [
        {
            "coding": [
                {
                    "system": "http://hl7.org/fhir/us/core/CodeSystem/careplan-category",
                    "code": "assess-plan",
                }
            ]
        }
    ]
    assert resource["meta"]["profile"] == [
        "http://hl7.org/fhir/us/core/StructureDefinition/us-core-careplan"
    ]
    urn = conforms(to_fhir_careplan(plan, subject="urn:uuid:0b4f2c9e-8f4e-4c57-9d0c-2f4d1f0f1a01"))
    assert "profile" not in urn["meta"]  # US Core needs a Patient reference


def test_caution_is_said_in_core_elements() -> None:
    resource = conforms(to_fhir_careplan(clinic_plan(), subject="Patient/1"))
    exercise = _detail(resource, "exercise")
    assert exercise["doNotPerform"] is False
    # A receiver that ignores every extension still reads "take care".
    assert exercise["statusReason"]["text"].startswith("Exercise: take care until ")
    assert exercise["statusReason"]["text"].endswith("; after that permitted.")
    assert exercise["description"].startswith("Exercise: take care until ")
    assert "Take care: Exercise: take care until" in resource["description"]
    assert "take care" not in _detail(resource, "driving")["description"]


def test_display_is_fixed_by_the_code_system_and_the_label_goes_to_text() -> None:
    data = json.loads(json.dumps(CLINIC_DATA))
    data["rules"][0]["label"] = "Driving a car or a motorbike"
    plan = plan_for(clinic_plan().session, Ruleset.from_dict(data))
    driving = _detail(conforms(to_fhir_careplan(plan, subject="Patient/1")), "driving")
    assert driving["code"]["coding"][0]["display"] == DISPLAYS["driving"]
    assert driving["code"]["text"] == "Driving a car or a motorbike"
    # A clinic's own activity is not in the code system: no display is made up.
    flying = _detail(conforms(to_fhir_careplan(plan, subject="Patient/1")), "flying")
    assert "display" not in flying["code"]["coding"][0]


def test_base_url_moves_every_url_of_ours() -> None:
    resource = conforms(
        to_fhir_careplan(clinic_plan(), subject="Patient/1", base_url=BASE + "/"), BASE
    )
    text = json.dumps(resource)
    assert DEFAULT_BASE_URL not in text
    assert f"{BASE}/CodeSystem/activity" in text
    assert f"{BASE}/StructureDefinition/restriction" in text
    assert resource["identifier"][0]["system"] == f"{BASE}/identifier/careplan"


def test_audit_tags_name_the_ruleset_and_tz_database() -> None:
    plan = clinic_plan()
    tags = {
        t["system"].rsplit("/", 1)[1]: t["code"]
        for t in to_fhir_careplan(plan, subject="Patient/1")["meta"]["tag"]
    }
    assert tags["ruleset-id"] == "clinic"
    assert tags["ruleset-version"] == "3"
    assert tags["ruleset-digest"] == plan.ruleset.digest
    assert tags["tzdb"].split("-")[0] in {"system", "tzdata"}


def test_a_course_encounter_and_author() -> None:
    course = _course()
    resource = conforms(
        to_fhir_careplan(
            course, subject="Patient/1", encounter="Encounter/9", author="Practitioner/4"
        )
    )
    assert resource["encounter"] == {"reference": "Encounter/9"}
    assert resource["author"] == {"reference": "Practitioner/4"}
    assert resource["period"]["start"] == "2026-11-25T18:30:00-05:00"
    driving = _detail(resource, "driving")
    lift = course.check("driving", dt.datetime(2026, 11, 28, 1, tzinfo=UTC)).permitted_from
    assert lift is not None
    assert driving["scheduledPeriod"]["end"] == lift.isoformat()
    assert "2 ketamine sessions" in resource["description"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"base_url": "ftp://x"}, "base_url must be an http"),
        ({"base_url": 'https://x/"y'}, "base_url must be an http"),
        ({"base_url": "https://x?y=1"}, "base_url must be an http"),
        ({"encounter": "not a reference"}, "encounter must be a FHIR reference"),
        ({"author": ""}, "author must be a FHIR reference"),
    ],
)
def test_bad_options_are_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ExportError, match=message):
        to_fhir_careplan(clinic_plan(), subject="Patient/1", **options)
    with pytest.raises(ExportError, match=message):
        to_fhir_bundle(clinic_plan(), subject="Patient/1", **options)


# The transaction Bundle


def test_bundle_updates_the_careplan_by_identifier_and_adds_a_provenance_per_override() -> None:
    plan = _overridden().with_override(
        "water",
        status=Status.NOT_PERMITTED,
        effective_from=dt.datetime(2026, 11, 27, tzinfo=UTC),
        clinician="Dr Chen",
    )
    bundle = conforms(
        to_fhir_bundle(plan, subject="Patient/1", at=dt.datetime(2026, 11, 26, 2, tzinfo=UTC))
    )
    assert bundle["type"] == "transaction"
    care, *provenances = bundle["entry"]
    identifier = care["resource"]["identifier"][0]
    assert care["request"] == {
        "method": "PUT",
        "url": f"CarePlan?identifier={identifier['system']}|{identifier['value']}",
    }
    assert "id" not in care["resource"]
    assert [p["resource"]["resourceType"] for p in provenances] == ["Provenance", "Provenance"]
    first, second = (p["resource"] for p in provenances)
    assert first["target"] == [{"reference": care["fullUrl"]}]
    assert first["agent"][0]["who"] == {"display": "Dr Rivera"}
    assert second["agent"][0]["who"] == {"display": "Dr Chen"}
    assert first["recorded"] == "2026-11-26T15:00:00+00:00"
    assert "short flight <b>with</b> a carer" in first["reason"][0]["text"]
    div = ET.fromstring(first["text"]["div"])  # noqa: S314
    assert not div.findall(f".//{XHTML}b")
    assert all(p["request"]["url"] == f"Provenance/{p['resource']['id']}" for p in provenances)
    # base_url names the definitions, not the server: every fullUrl is a urn.
    assert all(e["fullUrl"].startswith("urn:uuid:") for e in bundle["entry"])
    # Posting again gives the same requests: the server updates, never duplicates.
    assert (
        to_fhir_bundle(plan, subject="Patient/1", at=dt.datetime(2026, 11, 26, 2, tzinfo=UTC))
        == bundle
    )


@pytest.mark.parametrize(
    ("clinician_id", "who"),
    [
        ("Practitioner/7", {"display": "Dr Rivera", "reference": "Practitioner/7"}),
        (
            "npi-1234567890",
            {
                "display": "Dr Rivera",
                "identifier": {
                    "system": f"{DEFAULT_BASE_URL}/identifier/clinician",
                    "value": "npi-1234567890",
                },
            },
        ),
    ],
)
def test_the_clinician_id_hook_names_the_agent(clinician_id: str, who: dict[str, Any]) -> None:
    with mock.patch(
        "ketamine_guidance._formats.fhir.override_clinician_id", return_value=clinician_id
    ):
        bundle = conforms(to_fhir_bundle(_overridden(), subject="Patient/1"))
    assert bundle["entry"][1]["resource"]["agent"][0]["who"] == who


def test_the_hooks_read_attributes_the_override_work_adds() -> None:
    from types import SimpleNamespace

    from ketamine_guidance._formats.fhir import override_clinician_id, override_recorded

    made = dt.datetime(2026, 11, 26, 14, tzinfo=UTC)
    stand_in: Any = SimpleNamespace(clinician_id="Practitioner/7", recorded_at=made)
    assert override_clinician_id(stand_in) == "Practitioner/7"
    assert override_recorded(stand_in) == made
    (ov,) = _overridden().overrides
    assert override_clinician_id(ov) is None
    assert override_recorded(ov) == ov.effective_from_utc


# The ruleset as a PlanDefinition


@pytest.mark.parametrize(
    "ruleset", [default_ruleset(), clinic_ruleset()], ids=["default", "clinic"]
)
def test_the_ruleset_is_a_plandefinition_with_activitydefinitions(ruleset: Ruleset) -> None:
    bundle = conforms(to_fhir_plandefinition(ruleset))
    plan_definition, *definitions = (e["resource"] for e in bundle["entry"])
    assert plan_definition["resourceType"] == "PlanDefinition"
    assert plan_definition["version"] == ruleset.version
    assert plan_definition["identifier"][0]["value"] == ruleset.digest
    actions = plan_definition["action"]
    assert [a["code"][0]["coding"][0]["code"] for a in actions] == list(ruleset.activities)
    urls = {f"{d['url']}|{d['version']}" for d in definitions}
    assert {a["definitionCanonical"] for a in actions} == urls
    for rule, action, definition in zip(ruleset.rules, actions, definitions, strict=True):
        assert definition["doNotPerform"] is (rule.while_restricted is Status.NOT_PERMITTED)
        assert ("timingDuration" in action) != ("extension" in action)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert entry["request"]["url"] == (
            f"{resource['resourceType']}?url={resource['url']}&version={ruleset.version}"
        )


def test_plandefinition_timings() -> None:
    data = json.loads(json.dumps(CLINIC_DATA))
    data["rules"].append(
        {**data["rules"][0], "activity": "boating", "label": "Boating", "until": {"hours": 36}}
    )
    data["effective_from"] = "2026-02-01"
    bundle = conforms(to_fhir_plandefinition(Ruleset.from_dict(data), base_url=BASE), BASE)
    plan_definition = bundle["entry"][0]["resource"]
    actions = {a["code"][0]["coding"][0]["code"]: a for a in plan_definition["action"]}
    assert actions["boating"]["timingDuration"] == {
        "value": 36, "unit": "h", "system": "http://unitsofmeasure.org", "code": "h",
    }  # fmt: skip
    assert actions["water"]["timingDuration"]["value"] == 0
    assert actions["driving"]["extension"] == [
        {"url": f"{BASE}/StructureDefinition/window", "valueString": "next day 07:00"}
    ]
    assert "next day 07:00" in actions["driving"]["textEquivalent"]
    assert plan_definition["effectivePeriod"] == {"start": "2026-02-01"}


def test_plandefinition_takes_a_ruleset() -> None:
    with pytest.raises(TypeError, match="ruleset must be a Ruleset"):
        to_fhir_plandefinition("default")  # type: ignore[arg-type]


# The published definitions


def test_the_shipped_definitions_validate_and_cover_the_default_activities() -> None:
    for resource in fhir_definitions():
        check(resource)
    code_system = DEFINITIONS[f"{DEFAULT_BASE_URL}/CodeSystem/activity"]
    assert [c["code"] for c in code_system["concept"]] == list(default_ruleset().activities)
    assert code_system["count"] == len(code_system["concept"])
    for name in (
        "CodeSystem-activity",
        "StructureDefinition-restriction",
        "StructureDefinition-window",
    ):
        text = (
            resources.files("ketamine_guidance")
            .joinpath("fhir")
            .joinpath(f"{name}.json")
            .read_text("utf-8")
        )
        assert json.loads(text) in fhir_definitions()
    rebased = fhir_definitions(base_url=BASE)
    assert all(r["url"].startswith(BASE) for r in rebased)
    assert DEFAULT_BASE_URL not in json.dumps(rebased)


def test_a_careplan_breaking_an_invariant_is_caught() -> None:
    # The checks can fail: a Period that ends before it starts breaks per-1.
    resource = to_fhir_careplan(clinic_plan(), subject="Patient/1")
    resource["period"]["end"] = "2020-01-01T00:00:00-05:00"
    with pytest.raises(AssertionError, match="per-1"):
        check(resource)
    bare = to_fhir_careplan(clinic_plan(), subject="Patient/1")
    del bare["text"]
    with pytest.raises(AssertionError, match="dom-6"):
        check(bare)


def test_a_lift_shown_in_words_is_never_early() -> None:
    ended = dt.datetime(2026, 11, 25, 23, 30, 0, 250000, tzinfo=UTC)
    plan = plan_for(Session(ended, "America/New_York"), clinic_ruleset())
    resource = conforms(to_fhir_careplan(plan, subject="Patient/1"))
    sedatives = _detail(resource, "sedative_medications")  # 24 h after 18:30:00.25 EST
    assert sedatives["scheduledPeriod"]["end"] == "2026-11-26T18:30:00.250000-05:00"
    assert "until Thu 26 Nov 2026, 18:31 EST" in sedatives["description"]
