"""The FHIR R4 CarePlan export, validated with fhir.resources (its R4B models)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest
from fhir.resources.R4B.careplan import CarePlan

from ketamine_guidance import (
    ACTIVITY_SYSTEM,
    RESTRICTION_EXTENSION,
    AftercarePlan,
    BeforeSessionEndError,
    ExportError,
    NaiveDatetimeError,
    Ruleset,
    Session,
    Status,
    plan_for,
    to_fhir_careplan,
)
from tests.interop_fixtures import FOLD_DATA, UTC, clinic_plan

TZ_CODE = "http://hl7.org/fhir/StructureDefinition/tz-code"
# The value sets FHIR R4 binds these elements to (required bindings).
REQUEST_STATUS = {
    "draft",
    "active",
    "on-hold",
    "revoked",
    "completed",
    "entered-in-error",
    "unknown",
}
CAREPLAN_INTENT = {"proposal", "plan", "order", "option"}
ACTIVITY_STATUS = {
    "not-started", "scheduled", "in-progress", "on-hold", "completed",
    "cancelled", "stopped", "unknown", "entered-in-error",
}  # fmt: skip
ZONES = zoneinfo.available_timezones()
AT = dt.datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def checked(resource: dict[str, Any], plan: AftercarePlan) -> dict[str, Any]:
    """Validate with fhir.resources, then every coded value against its value set."""
    CarePlan.model_validate(resource)
    assert resource["status"] in REQUEST_STATUS
    assert resource["intent"] in CAREPLAN_INTENT
    codes = {Status.NOT_PERMITTED.value, Status.PERMITTED_WITH_CAUTION.value, "permitted"}
    for node in _walk(resource):
        if "url" in node and "valueCode" in node:
            allowed = {TZ_CODE: ZONES, RESTRICTION_EXTENSION: codes}[node["url"]]
            assert node["valueCode"] in allowed
        if "system" in node:
            assert node["system"] == ACTIVITY_SYSTEM
            assert node["code"] in plan.ruleset.activities
    for activity in resource["activity"]:
        assert activity["detail"]["status"] in ACTIVITY_STATUS
    return resource


def _detail(resource: dict[str, Any], activity: str) -> dict[str, Any]:
    for item in resource["activity"]:
        if item["detail"]["code"]["coding"][0]["code"] == activity:
            return item["detail"]  # type: ignore[no-any-return]
    raise AssertionError(activity)


def test_careplan_at_the_end_of_the_session() -> None:
    plan = clinic_plan()
    resource = checked(to_fhir_careplan(plan, subject="Patient/123"), plan)
    assert resource["resourceType"] == "CarePlan"
    assert (resource["status"], resource["intent"]) == ("active", "plan")
    assert resource["subject"] == {"reference": "Patient/123"}
    assert resource["created"] == "2026-11-25T18:30:00-05:00"
    assert resource["period"]["start"] == "2026-11-25T18:30:00-05:00"
    assert resource["period"]["_start"]["extension"] == [
        {"url": TZ_CODE, "valueCode": "America/New_York"}
    ]
    assert "end" not in resource["period"]  # one restriction never lifts
    driving = _detail(resource, "driving")
    assert driving["code"]["text"] == "Driving"
    assert driving["doNotPerform"] is True
    assert driving["status"] == "in-progress"
    assert driving["description"] == "Wait before driving."
    assert driving["scheduledPeriod"]["start"] == "2026-11-25T18:30:00-05:00"
    assert driving["scheduledPeriod"]["end"] == "2026-11-26T07:00:00-05:00"
    exercise = _detail(resource, "exercise")
    assert exercise["doNotPerform"] is False  # caution is not a prohibition
    assert exercise["extension"] == [
        {"url": RESTRICTION_EXTENSION, "valueCode": "permitted_with_caution"}
    ]
    assert exercise["scheduledPeriod"]["end"] == "2026-11-26T00:00:00-05:00"
    assert _detail(resource, "water")["status"] == "completed"
    never = _detail(resource, "recreational_drugs")
    assert "end" not in never["scheduledPeriod"]
    assert never["doNotPerform"] is True


def test_statuses_follow_the_instant_given() -> None:
    plan = clinic_plan()
    later = dt.datetime(2026, 11, 26, 13, 0, tzinfo=UTC)  # 08:00 EST on the next day
    resource = checked(to_fhir_careplan(plan, subject="Patient/123", at=later), plan)
    assert resource["created"] == "2026-11-26T08:00:00-05:00"
    assert _detail(resource, "driving")["status"] == "completed"
    assert _detail(resource, "flying")["status"] == "in-progress"
    assert _detail(resource, "recreational_drugs")["status"] == "in-progress"
    assert resource["status"] == "active"


def test_careplan_completes_when_every_restriction_has_lifted() -> None:
    plan = plan_for(
        Session(dt.datetime(2026, 10, 31, 20, tzinfo=UTC), "America/New_York"),
        Ruleset.from_dict(FOLD_DATA),
    )
    resource = to_fhir_careplan(plan, subject="Patient/9", at=dt.datetime(2026, 12, 1, tzinfo=UTC))
    checked(resource, plan)
    assert resource["status"] == "completed"
    # 30 hours after 16:00 EDT is 2026-11-02 02:00 UTC, 21:00 EST on 1 November.
    assert resource["period"]["end"] == "2026-11-01T21:00:00-05:00"
    # The next day's 01:30 happens twice; the later one (EST) is meant.
    assert _detail(resource, "driving")["scheduledPeriod"]["end"] == "2026-11-01T01:30:00-05:00"


def test_overrides_are_progress_notes() -> None:
    plan = (
        clinic_plan()
        .with_override(
            "flying",
            status=Status.PERMITTED,
            effective_from=dt.datetime(2026, 11, 26, 15, tzinfo=UTC),
            clinician="Dr Rivera",
            note="short flight",
        )
        .with_override(
            "water",
            status=Status.NOT_PERMITTED,
            effective_from=dt.datetime(2026, 11, 27, tzinfo=UTC),
            clinician="Dr Chen",
        )
    )
    resource = checked(to_fhir_careplan(plan, subject="Patient/123", at=AT), plan)
    flying = next(a for a in resource["activity"] if a["detail"]["code"]["text"] == "Flying")
    assert flying["progress"] == [
        {
            "authorString": "Dr Rivera",
            "time": "2026-11-26T10:00:00-05:00",
            "_time": {"extension": [{"url": TZ_CODE, "valueCode": "America/New_York"}]},
            "text": "Dr Rivera set this to permitted from 2026-11-26T10:00:00-05:00: short flight",
        }
    ]
    assert flying["detail"]["scheduledPeriod"]["end"] == "2026-11-26T10:00:00-05:00"
    water = next(a for a in resource["activity"] if a["detail"]["code"]["text"] == "Water")
    assert water["progress"][0]["text"].endswith("to not permitted from 2026-11-26T19:00:00-05:00.")
    # Permitted now, restricted again later by the override: scheduled.
    assert water["detail"]["status"] == "scheduled"
    assert "end" not in water["detail"]["scheduledPeriod"]


def test_advice_items_are_notes() -> None:
    plan = clinic_plan()
    notes = checked(to_fhir_careplan(plan, subject="Patient/1"), plan)["note"]
    assert len(notes) == 2
    assert notes[0]["text"].startswith("**If you feel sick**\n\nRest, sip water")
    assert "- Sip water\n- Lie down" in notes[0]["text"]
    assert "A clinic's own aftercare sheet" in notes[1]["text"]


def test_default_ruleset_and_a_fixed_offset_zone() -> None:
    plus_two = dt.timezone(dt.timedelta(hours=2))
    plan = plan_for(Session(dt.datetime(2026, 11, 25, 23, 30, tzinfo=plus_two), plus_two))
    resource = checked(
        to_fhir_careplan(plan, subject="urn:uuid:0b4f2c9e-8f4e-4c57-9d0c-2f4d1f0f1a01"), plan
    )
    assert resource["period"] == {"start": "2026-11-25T23:30:00+02:00"}
    assert not any(node.get("url") == TZ_CODE for node in _walk(resource))


@pytest.mark.parametrize("subject", ["", "Patient 123", "123", None, 123])
def test_subject_must_be_a_reference(subject: Any) -> None:
    with pytest.raises(ExportError, match="subject must be a FHIR reference"):
        to_fhir_careplan(clinic_plan(), subject=subject)


def test_bad_plan_and_instants() -> None:
    with pytest.raises(TypeError, match="plan must be an AftercarePlan"):
        to_fhir_careplan("plan", subject="Patient/1")  # type: ignore[arg-type]
    with pytest.raises(BeforeSessionEndError):
        to_fhir_careplan(clinic_plan(), subject="Patient/1", at=dt.datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(NaiveDatetimeError):
        to_fhir_careplan(clinic_plan(), subject="Patient/1", at=dt.datetime(2026, 12, 1))
