"""The CDS Hooks service (issue 15), over real HTTP: uvicorn on 127.0.0.1, httpx client.

The expected local times are computed here with pytz, a zone library the service does
not use.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytz
from jsonschema import Draft202012Validator

from ketamine_guidance import Ruleset, default_ruleset
from ketamine_guidance.service import ServiceConfig, create_app
from tests.service_support import (
    ATC,
    ISSUER,
    Clock,
    Ehr,
    Server,
    bundle,
    hook_body,
    medication_request,
    patient,
    procedure,
)

UTC = dt.timezone.utc
PV = "/cds-services/ketamine-aftercare-patient-view"
SIGN = "/cds-services/ketamine-aftercare-order-sign"
SELECT = "/cds-services/ketamine-aftercare-order-select"
SOURCE = {"title": "Test aftercare", "section": "After the session"}

CLIENT = httpx.Client(timeout=10)  # one client: each new one builds an SSL context
RULESET = Ruleset.from_dict(
    {
        "id": "test",
        "version": "1",
        "title": "Test rules",
        "rules": [
            {
                "activity": "driving",
                "label": "Driving",
                "until": "next_day",
                "reason": "You may be drowsy.",
                "source": SOURCE,
            },
            {
                "activity": "sedative_medications",
                "label": "Taking sedatives",
                "until": "next_day",
                "reason": "Sedatives add to the drowsiness.",
                "source": SOURCE,
                "codes": [{"system": ATC, "code": "N05C"}],
            },
            {
                "activity": "recreational_drugs",
                "label": "Recreational drugs",
                "until": "never",
                "reason": "They mix badly.",
                "source": SOURCE,
            },
            {
                "activity": "hard_exercise",
                "label": "Hard exercise",
                "until": {"hours": 4},
                "while_restricted": "permitted_with_caution",
                "reason": "Take it easy.",
                "source": SOURCE,
            },
            {
                "activity": "water",
                "label": "Drinking water",
                "until": "immediately",
                "reason": "Fine.",
                "source": SOURCE,
            },
        ],
    }
)


def local(zone: str, *wall_time: int) -> str:
    """A local wall time as the cards write it, via pytz (independent of the service)."""
    year, month, day, hour, minute = wall_time
    wall = dt.datetime(year, month, day, hour, minute)
    moment = pytz.timezone(zone).localize(wall, is_dst=None)
    return moment.strftime("%a %-d %b %Y, %H:%M %Z")


def openapi_validator(document: dict[str, Any], name: str) -> Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return Draft202012Validator(schema)


class Harness:
    """A running service, its EHR and a client that signs every call."""

    def __init__(self, tmp_path: Path, ehr: Ehr, **settings: Any) -> None:
        self.ehr = ehr
        self.clock = Clock(dt.datetime(2026, 11, 26, 3, 0, tzinfo=UTC))
        self.client = CLIENT
        self.settings = {
            "ruleset": RULESET,
            "jwks": ehr.jwks(),
            "issuers": (ISSUER,),
            "store": tmp_path / "store.sqlite3",
            "clock": self.clock,
            **settings,
        }
        self.server: Server | None = None

    def make_app(self, port: int) -> Any:
        return create_app(ServiceConfig(port=port, **self.settings))

    def start(self) -> Harness:
        self.server = Server(self.make_app).__enter__()
        return self

    def stop(self) -> None:
        assert self.server is not None
        self.server.__exit__()

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def token(self, path: str, **claims: Any) -> str:
        return self.ehr.token(claims.pop("aud", self.url + path), now=self.clock.now, **claims)

    def post(
        self, path: str, body: Any, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token(path)}"}
        headers.update(kwargs.pop("headers", {}))
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
        return self.client.post(self.url + path, content=content, headers=headers, **kwargs)


START = dt.datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="module", autouse=True)
def _close_client() -> Iterator[None]:
    yield
    CLIENT.close()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    harness = Harness(tmp_path_factory.mktemp("service"), Ehr()).start()
    yield harness
    harness.stop()


@pytest.fixture
def service(running: Harness) -> Harness:
    """The shared service, its clock back at the start."""
    running.clock.now = START
    return running


def prefetch_for(*ends: dt.datetime, zone: str | None = "America/New_York") -> dict[str, Any]:
    return {
        "patient": patient(zone=zone),
        "sessions": bundle(*(procedure(e, ident=f"s{i}") for i, e in enumerate(ends))),
    }


def cards_of(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    cards: list[dict[str, Any]] = response.json()["cards"]
    return cards


# Discovery and OpenAPI


def test_discovery_lists_one_service_per_hook_with_prefetch_templates(service: Harness) -> None:
    response = CLIENT.get(service.url + "/cds-services")
    assert response.status_code == 200
    services = response.json()["services"]
    assert [s["hook"] for s in services] == ["patient-view", "order-select", "order-sign"]
    for s in services:
        assert {"hook", "id", "title", "description", "prefetch", "usageRequirements"} <= set(s)
        assert s["prefetch"]["patient"] == "Patient/{{context.patientId}}"
        assert s["prefetch"]["sessions"].startswith("Procedure?patient={{context.patientId}}&code=")
        assert "ketamine-session" in s["prefetch"]["sessions"]
    document = CLIENT.get(service.url + "/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    openapi_validator(document, "Discovery").validate(response.json())


# patient-view


@pytest.mark.parametrize(
    ("ended", "now", "zone", "lift"),
    [
        # New York, the night before the spring change (EST -> EDT on 8 Mar 2026)
        (
            dt.datetime(2026, 3, 8, 1, 0, tzinfo=UTC),
            dt.datetime(2026, 3, 8, 3, 0, tzinfo=UTC),
            "America/New_York",
            (2026, 3, 8, 6, 0),
        ),
        # New York, the night before the fall change (EDT -> EST on 1 Nov 2026)
        (
            dt.datetime(2026, 11, 1, 0, 0, tzinfo=UTC),
            dt.datetime(2026, 11, 1, 3, 0, tzinfo=UTC),
            "America/New_York",
            (2026, 11, 1, 6, 0),
        ),
        # Kathmandu, UTC+05:45
        (
            dt.datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
            dt.datetime(2026, 11, 25, 13, 0, tzinfo=UTC),
            "Asia/Kathmandu",
            (2026, 11, 26, 6, 0),
        ),
    ],
    ids=["new-york-spring", "new-york-fall", "kathmandu"],
)
def test_patient_view_cards_say_when_each_restriction_lifts_in_the_patients_zone(
    service: Harness,
    ended: dt.datetime,
    now: dt.datetime,
    zone: str,
    lift: tuple[int, int, int, int, int],
) -> None:
    service.clock.now = now
    response = service.post(PV, hook_body("patient-view", prefetch=prefetch_for(ended, zone=zone)))
    cards = cards_of(response)
    document = CLIENT.get(service.url + "/openapi.json").json()
    openapi_validator(document, "CDSResponse").validate(response.json())
    by_topic = {c["source"]["topic"]["code"]: c for c in cards}
    # Most restrictive first: never, then the next-day ones, then the caution; water is fine.
    assert [c["source"]["topic"]["code"] for c in cards] == [
        "recreational_drugs",
        "driving",
        "sedative_medications",
        "hard_exercise",
    ]
    assert [c["indicator"] for c in cards] == ["warning", "warning", "warning", "info"]
    expected = local(zone, *lift)
    assert (
        by_topic["driving"]["summary"] == f"After ketamine: Driving not permitted until {expected}"
    )
    never = by_topic["recreational_drugs"]
    assert never["summary"].endswith(" not permitted; no end is given")
    assert "No end is given: treat it as in force." in never["detail"]
    assert "only a clinician" not in never["detail"]
    assert expected.replace(", ", "\\, ") in by_topic["driving"]["detail"] or expected in (
        by_topic["driving"]["detail"].replace("\\", "")
    )
    assert "from the Patient record" in by_topic["driving"]["detail"].replace("\\", "")
    for card in cards:
        uuid.UUID(card["uuid"])
        assert len(card["summary"]) < 140
        ext = card["extension"]["ketamine-guidance-ruleset"]
        assert ext == {"id": "test", "version": "1", "digest": RULESET.digest}
        assert card["source"]["label"] == "Ketamine aftercare guidance (ruleset test 1)"
        anchor = "#rule-" + card["source"]["topic"]["code"].replace("_", "-")
        assert card["links"][0]["url"].endswith("/explanation/traceability.html" + anchor)
        assert card["source"]["url"] == card["links"][0]["url"]


def test_card_uuids_are_stable_for_the_same_plan_and_instant(service: Harness) -> None:
    body = hook_body(
        "patient-view", prefetch=prefetch_for(dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC))
    )
    first = [c["uuid"] for c in cards_of(service.post(PV, body))]
    again = [c["uuid"] for c in cards_of(service.post(PV, body))]
    assert first == again
    assert len(set(first)) == len(first)
    service.clock.now += dt.timedelta(minutes=1)
    later = [c["uuid"] for c in cards_of(service.post(PV, body))]
    assert set(later).isdisjoint(first)


def test_a_course_answers_with_the_latest_session(service: Harness) -> None:
    # Two sessions in New York: Tue 24 and Wed 25 Nov 2026, both ending 18:30 EST.
    first = dt.datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    second = dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    service.clock.now = dt.datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
    cards = cards_of(
        service.post(PV, hook_body("patient-view", prefetch=prefetch_for(first, second)))
    )
    driving = next(c for c in cards if c["source"]["topic"]["code"] == "driving")
    assert driving["summary"].endswith(local("America/New_York", 2026, 11, 26, 6, 0))
    assert "2 ketamine sessions" in driving["detail"]
    # A session still to come (after now) does not count yet.
    service.clock.now = dt.datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    cards = cards_of(
        service.post(PV, hook_body("patient-view", prefetch=prefetch_for(first, second)))
    )
    assert "driving" not in {c["source"]["topic"]["code"] for c in cards}


def test_the_clinic_zone_is_used_and_stated_when_the_patient_gives_none(tmp_path: Path) -> None:
    harness = Harness(tmp_path, Ehr(), clinic_timezone="Asia/Kathmandu").start()
    try:
        harness.clock.now = dt.datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
        body = hook_body(
            "patient-view",
            prefetch=prefetch_for(dt.datetime(2026, 11, 25, 12, 0, tzinfo=UTC), zone=None),
        )
        cards = cards_of(harness.post(PV, body))
        driving = next(c for c in cards if c["source"]["topic"]["code"] == "driving")
        assert driving["summary"].endswith(local("Asia/Kathmandu", 2026, 11, 26, 6, 0))
        assert "clinic's time zone, Asia/Kathmandu" in driving["detail"].replace("\\", "")
    finally:
        harness.stop()


def test_with_no_zone_at_all_the_card_says_it_cannot_tell_never_a_utc_guess(
    service: Harness,
) -> None:
    body = hook_body(
        "patient-view",
        prefetch=prefetch_for(dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC), zone=None),
    )
    (card,) = cards_of(service.post(PV, body))
    assert card["indicator"] == "warning"
    assert "cannot tell the time rules" in card["summary"]
    assert "UTC" not in card["summary"] + card["detail"]


def test_an_unknown_zone_in_the_patient_record_is_not_replaced_by_a_guess(service: Harness) -> None:
    body = hook_body(
        "patient-view",
        prefetch=prefetch_for(dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC), zone="Mars/Olympus"),
    )
    (card,) = cards_of(service.post(PV, body))
    assert "not recognised" in card["summary"]


def test_sessions_without_a_usable_end_get_a_card_and_others_still_count(service: Harness) -> None:
    ended = dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    sessions = bundle(
        procedure(ended, ident="ok", period=False),
        procedure("2026-11-25", ident="date-only"),
        procedure(None, ident="no-end"),
        procedure(ended, ident="other", code="something-else"),
        procedure(ended, ident="stopped", status="not-done"),
        {"resourceType": "Observation", "id": "x"},
    )
    body = hook_body("patient-view", prefetch={"patient": patient(), "sessions": sessions})
    cards = cards_of(service.post(PV, body))
    assert "no end time" in cards[0]["summary"]
    assert {c["source"].get("topic", {}).get("code") for c in cards[1:]} == {
        "recreational_drugs",
        "driving",
        "sedative_medications",
        "hard_exercise",
    }


def test_no_sessions_means_no_cards(service: Harness) -> None:
    body = hook_body("patient-view", prefetch={"patient": patient(), "sessions": bundle()})
    assert cards_of(service.post(PV, body)) == []


def test_a_ruleset_not_in_effect_for_the_session_gets_a_card(tmp_path: Path) -> None:
    import attrs

    later = attrs.evolve(RULESET, effective_from=dt.date(2027, 1, 1))
    harness = Harness(tmp_path, Ehr(), ruleset=later).start()
    try:
        body = hook_body(
            "patient-view", prefetch=prefetch_for(dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC))
        )
        (card,) = cards_of(harness.post(PV, body))
        assert "ruleset does not cover" in card["summary"]
    finally:
        harness.stop()


# order-select and order-sign


ENDED = dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC)  # 18:30 EST; clock: 22:00 EST


def test_order_sign_warns_for_a_matching_order_and_says_nothing_for_others(
    service: Harness,
) -> None:
    orders = [
        medication_request("mr-midazolam", "N05CD08", "Midazolam 7.5 mg tablet"),
        medication_request("mr-amoxicillin", "J01CA04", "Amoxicillin 500 mg capsule"),
    ]
    response = service.post(
        SIGN, hook_body("order-sign", prefetch=prefetch_for(ENDED), orders=orders)
    )
    (card,) = cards_of(response)
    document = CLIENT.get(service.url + "/openapi.json").json()
    openapi_validator(document, "CDSResponse").validate(response.json())
    lift = local("America/New_York", 2026, 11, 26, 6, 0)
    assert card["indicator"] == "warning"
    assert card["summary"] == f"Midazolam 7.5 mg tablet: not permitted after ketamine until {lift}"
    detail = card["detail"].replace("\\", "")
    assert "Taking sedatives" in detail
    assert "N05C" in detail
    assert card["overrideReasons"]
    assert all({"system", "code", "display"} <= set(r) for r in card["overrideReasons"])
    (suggestion,) = card["suggestions"]
    assert card["selectionBehavior"] == "at-most-one"
    assert suggestion["actions"] == [
        {
            "type": "delete",
            "description": "Remove this draft order.",
            "resourceId": ["MedicationRequest/mr-midazolam"],
        }
    ]


def test_order_sign_says_nothing_once_the_restriction_has_lifted(service: Harness) -> None:
    service.clock.now = dt.datetime(2026, 11, 26, 11, 0, tzinfo=UTC)  # 06:00 EST
    orders = [medication_request("mr-1", "N05CD08", "Midazolam")]
    body = hook_body("order-sign", prefetch=prefetch_for(ENDED), orders=orders)
    assert cards_of(service.post(SIGN, body)) == []


def test_order_select_checks_the_selected_orders_only(service: Harness) -> None:
    orders = [
        medication_request("mr-1", "N05CD08", "Midazolam"),
        medication_request("mr-2", "N05CF02", "Zolpidem"),
    ]
    body = hook_body(
        "order-select",
        prefetch=prefetch_for(ENDED),
        orders=orders,
        selections=["MedicationRequest/mr-2"],
    )
    (card,) = cards_of(service.post(SELECT, body))
    assert card["summary"].startswith("Zolpidem:")


def test_an_order_with_no_code_in_a_known_system_is_flagged_while_a_restriction_is_in_force(
    service: Harness,
) -> None:
    rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
    orders = [
        medication_request("mr-1", None, "Something for sleep"),
        medication_request(
            "mr-2", "1000001", "A sedative coded in RxNorm only (test code)", system=rxnorm
        ),
    ]
    body = hook_body("order-sign", prefetch=prefetch_for(ENDED), orders=orders)
    cards = cards_of(service.post(SIGN, body))
    assert [c["indicator"] for c in cards] == ["info", "info"]
    assert all("no usable code" in c["summary"] for c in cards)
    service.clock.now = dt.datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert cards_of(service.post(SIGN, body)) == []


def test_default_ruleset_orders_match_by_atc_class(tmp_path: Path) -> None:
    harness = Harness(tmp_path, Ehr(), ruleset=default_ruleset()).start()
    try:
        orders = [
            medication_request("mr-1", "N02AA01", "Morphine"),
            medication_request("mr-2", "N05BA01", "Diazepam"),
            {
                "resourceType": "MedicationRequest",
                "id": "mr-3",
                "contained": [
                    {
                        "resourceType": "Medication",
                        "id": "med",
                        "code": {
                            "coding": [{"system": ATC, "code": "N05CD08", "display": "Midazolam"}]
                        },
                    }
                ],
                "medicationReference": {"reference": "#med"},
            },
            {
                "resourceType": "MedicationRequest",
                "id": "mr-4",
                "medication": {"concept": {"coding": [{"system": ATC, "code": "J01CA04"}]}},
            },
        ]
        body = hook_body("order-sign", prefetch=prefetch_for(ENDED), orders=orders)
        cards = cards_of(harness.post(SIGN, body))
        assert sorted(c["source"]["topic"]["code"] for c in cards) == [
            "prescription_pain_medication",
            "sedative_medications",
            "sedative_medications",
        ]
        names = {c["summary"].split(":")[0] for c in cards}
        assert names == {"Morphine", "Diazepam", "Midazolam"}
    finally:
        harness.stop()


# Errors


def test_412_when_prefetch_is_missing_and_there_is_no_fhir_server(service: Harness) -> None:
    response = service.post(PV, hook_body("patient-view"))
    assert response.status_code == 412
    assert response.json()["resourceType"] == "OperationOutcome"
    partial = hook_body("patient-view", prefetch={"patient": patient()})
    assert service.post(PV, partial).status_code == 412


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "JSON object"),
        (hook_body("order-sign"), "hook must be 'patient-view'"),
        ({**hook_body("patient-view"), "hookInstance": 3}, "hookInstance"),
        ({**hook_body("patient-view"), "context": []}, "context must be an object"),
        ({**hook_body("patient-view"), "context": {"patientId": "../x"}}, "patientId"),
        ({**hook_body("patient-view"), "fhirServer": "file:///etc"}, "fhirServer"),
        (
            {**hook_body("patient-view"), "fhirAuthorization": {"access_token": "t"}},
            "needs fhirServer",
        ),
        (
            {**hook_body("patient-view"), "fhirServer": "http://h", "fhirAuthorization": "t"},
            "fhirAuthorization",
        ),
        ({**hook_body("patient-view"), "prefetch": []}, "prefetch must be an object"),
        (
            hook_body(
                "patient-view",
                prefetch={"patient": {"resourceType": "Group"}, "sessions": bundle()},
            ),
            "FHIR Patient",
        ),
        (hook_body("patient-view", prefetch={"patient": patient(), "sessions": []}), "FHIR Bundle"),
    ],
)
def test_400_with_an_operation_outcome_for_bad_bodies(
    service: Harness, body: Any, message: str
) -> None:
    response = service.post(PV, body)
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert message in outcome["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    ("path", "context", "message"),
    [
        (SIGN, {"patientId": "p1"}, "draftOrders"),
        (SIGN, {"patientId": "p1", "draftOrders": {"resourceType": "Patient"}}, "draftOrders"),
        (SELECT, {"patientId": "p1", "draftOrders": bundle()}, "selections"),
        (SELECT, {"patientId": "p1", "draftOrders": bundle(), "selections": [1]}, "selections"),
    ],
)
def test_400_for_an_order_context_that_does_not_match_the_hook(
    service: Harness, path: str, context: dict[str, Any], message: str
) -> None:
    hook = "order-sign" if path == SIGN else "order-select"
    body = {"hook": hook, "hookInstance": "i", "context": context}
    response = service.post(path, body)
    assert response.status_code == 400
    assert message in response.json()["issue"][0]["diagnostics"]


def test_413_over_one_mebibyte(service: Harness) -> None:
    big = json.dumps({"hook": "patient-view", "pad": "x" * (1024 * 1024)}).encode()
    assert service.post(PV, big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted as it streams
        for _ in range(17):
            yield b" " * 65536

    response = CLIENT.post(
        service.url + PV,
        content=chunks(),
        headers={
            "Authorization": f"Bearer {service.token(PV)}",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 413
    assert service.post(SIGN + "/feedback", big).status_code == 413
    response = CLIENT.post(
        service.url + SIGN + "/feedback",
        content=chunks(),
        headers={"Authorization": f"Bearer {service.token(SIGN + '/feedback')}"},
    )
    assert response.status_code == 413


def test_an_unknown_service_is_404(service: Harness) -> None:
    assert service.post("/cds-services/nope", hook_body("patient-view")).status_code == 404
    assert service.post("/cds-services/nope/feedback", {}).status_code == 404


# Security


def test_tokens_valid_expired_unknown_key_wrong_aud_wrong_iss_and_replayed(
    service: Harness,
) -> None:
    body = hook_body("patient-view", prefetch=prefetch_for(ENDED))
    good = service.token(PV)
    assert service.post(PV, body, token=good).status_code == 200
    refused = {
        "replayed": good,
        "expired": service.token(PV, lifetime=-120),
        "unknown key": Ehr(kid="ehr-key-1").token(service.url + PV, now=service.clock.now),
        "wrong aud": service.token(PV, aud="https://elsewhere.example.org/cds-services"),
        "wrong iss": service.token(PV, iss="https://evil.example.org"),
        "too long-lived": service.token(PV, lifetime=7200),
        "not allow-listed jku": service.token(PV, jku="https://evil.example.org/jwks.json"),
    }
    for why, token in refused.items():
        response = service.post(PV, body, token=token)
        assert response.status_code == 401, why
        assert response.json()["issue"][0]["diagnostics"] == "Not authorized.", why
    for header in ("", "Basic abc", "Bearer", "Bearer not.a.jwt"):
        response = CLIENT.post(service.url + PV, json=body, headers={"Authorization": header})
        assert response.status_code == 401
    assert CLIENT.post(service.url + PV, json=body).status_code == 401
    # aud may be the service's own base URL, as a list too
    assert service.post(PV, body, token=service.token(PV, aud=[service.url])).status_code == 200


def test_an_rsa_key_and_a_symmetric_algorithm(tmp_path: Path) -> None:
    from joserfc import jwt
    from joserfc.jwk import OctKey

    ehr = Ehr(rsa=True)
    harness = Harness(tmp_path, ehr).start()
    try:
        body = hook_body("patient-view", prefetch=prefetch_for(ENDED))
        assert harness.post(PV, body).status_code == 200
        secret = OctKey.generate_key(256, parameters={"kid": ehr.kid})
        claims = {"iss": ISSUER, "aud": harness.url + PV, "exp": 1796000000, "jti": "h"}
        forged = jwt.encode({"alg": "HS256", "kid": ehr.kid}, claims, secret)
        assert harness.post(PV, body, token=forged).status_code == 401
    finally:
        harness.stop()


def test_no_keys_or_no_issuers_refuse_everything(tmp_path: Path) -> None:
    for settings in ({"jwks": None}, {"issuers": ()}):
        harness = Harness(tmp_path, Ehr(), **settings).start()
        try:
            body = hook_body("patient-view", prefetch=prefetch_for(ENDED))
            assert harness.post(PV, body).status_code == 401
        finally:
            harness.stop()


def test_a_jku_key_set_from_an_allow_listed_url(tmp_path: Path) -> None:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    ehr = Ehr(kid="jku-key")
    served: dict[str, Any] = {"jwks": ehr.jwks()}

    def keys_app(_port: int) -> Any:
        async def jwks(_request: Any) -> JSONResponse:
            return JSONResponse(served["jwks"])

        return Starlette(routes=[Route("/jwks.json", jwks)])

    with Server(keys_app) as keys:
        jku = keys.url + "/jwks.json"
        harness = Harness(tmp_path, ehr, jwks=None, jku_allow=(jku,)).start()
        try:
            body = hook_body("patient-view", prefetch=prefetch_for(ENDED))
            assert harness.post(PV, body, token=harness.token(PV, jku=jku)).status_code == 200
            assert harness.post(PV, body).status_code == 401  # no jku, no configured keys
            assert harness.post(PV, body, token=harness.token(PV, jku=jku)).status_code == 200
        finally:
            harness.stop()
    harness = Harness(tmp_path, ehr, jwks=None, jku_allow=(jku,)).start()
    try:  # the key server is gone: refused, not an error
        body = hook_body("patient-view", prefetch=prefetch_for(ENDED))
        assert harness.post(PV, body, token=harness.token(PV, jku=jku)).status_code == 401
    finally:
        harness.stop()


def test_cors_preflight_for_a_configured_origin(tmp_path: Path) -> None:
    origin = "https://sandbox.cds-hooks.org"
    harness = Harness(tmp_path, Ehr(), cors_origins=(origin,)).start()
    try:
        preflight = {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        }
        response = CLIENT.options(harness.url + PV, headers=preflight)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == origin
        assert "POST" in response.headers["access-control-allow-methods"]
        assert "authorization" in response.headers["access-control-allow-headers"].lower()
        other = CLIENT.options(
            harness.url + PV, headers={**preflight, "Origin": "https://evil.example.org"}
        )
        assert "access-control-allow-origin" not in other.headers
        get = CLIENT.get(harness.url + "/cds-services", headers={"Origin": origin})
        assert get.headers["access-control-allow-origin"] == origin
    finally:
        harness.stop()


def test_logs_hold_no_patient_data(service: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = hook_body("patient-view", prefetch=prefetch_for(ENDED))
    body["context"]["patientId"] = "pid-98765"
    assert service.post(PV, body).status_code == 200
    assert service.post(PV, {**body, "hook": "order-sign"}).status_code == 400
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "ketamine-aftercare-patient-view 200" in text
    for secret in ("pid-98765", "Zzyzx-Private", "Quentin", "America/New_York", "Bearer"):
        assert secret not in text


# Feedback


def feedback_body(card: str, outcome: str = "overridden") -> dict[str, Any]:
    item: dict[str, Any] = {
        "card": card,
        "outcome": outcome,
        "outcomeTimestamp": "2026-11-26T03:05:00Z",
    }
    if outcome == "overridden":
        item["overrideReason"] = {
            "reason": {
                "system": "urn:x",
                "code": "agreed-with-ketamine-clinician",
                "display": "Agreed",
            },
            "userComment": "Discussed",
        }
    else:
        item["acceptedSuggestions"] = [{"id": "s-1"}]
    return {"feedback": [item]}


def test_feedback_is_stored_and_survives_a_restart(tmp_path: Path) -> None:
    harness = Harness(tmp_path, Ehr()).start()
    orders = [medication_request("mr-1", "N05CD08", "Midazolam")]
    (card,) = cards_of(
        harness.post(SIGN, hook_body("order-sign", prefetch=prefetch_for(ENDED), orders=orders))
    )
    path = SIGN + "/feedback"
    response = harness.post(path, feedback_body(card["uuid"]))
    assert response.status_code == 200
    assert response.json() == {"stored": 1}
    harness.stop()
    restarted = Harness(tmp_path, Ehr()).start()
    try:
        assert restarted.post(path, feedback_body("other-card", "accepted")).json() == {"stored": 1}
    finally:
        restarted.stop()
    with contextlib.closing(sqlite3.connect(tmp_path / "store.sqlite3")) as db:
        rows = db.execute(
            "SELECT service, card, outcome, override_code, user_comment, accepted_suggestions, "
            "ruleset_id, ruleset_version, ruleset_digest, received_at FROM feedback ORDER BY id"
        ).fetchall()
    assert rows == [
        (
            "ketamine-aftercare-order-sign",
            card["uuid"],
            "overridden",
            "agreed-with-ketamine-clinician",
            "Discussed",
            "[]",
            "test",
            "1",
            RULESET.digest,
            "2026-11-26T03:00:00+00:00",
        ),
        (
            "ketamine-aftercare-order-sign",
            "other-card",
            "accepted",
            None,
            None,
            '["s-1"]',
            "test",
            "1",
            RULESET.digest,
            "2026-11-26T03:00:00+00:00",
        ),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "feedback must be a non-empty list"),
        ({"feedback": [3]}, "feedback[0] must be an object"),
        ({"feedback": [{"outcome": "accepted"}]}, "card"),
        ({"feedback": [{"card": "c", "outcome": "maybe"}]}, "outcome"),
        (
            {"feedback": [{"card": "c", "outcome": "accepted", "outcomeTimestamp": "soon"}]},
            "outcomeTimestamp",
        ),
        (
            {
                "feedback": [
                    {"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-11-26T03:05:00"}
                ]
            },
            "offset",
        ),
        (
            {"feedback": [{**feedback_body("c")["feedback"][0], "overrideReason": 1}]},
            "overrideReason must be",
        ),
        (
            {"feedback": [{**feedback_body("c")["feedback"][0], "overrideReason": {"reason": 1}}]},
            "Coding",
        ),
        (
            {
                "feedback": [
                    {**feedback_body("c")["feedback"][0], "overrideReason": {"userComment": 1}}
                ]
            },
            "strings",
        ),
        (
            {
                "feedback": [
                    {**feedback_body("c", "accepted")["feedback"][0], "acceptedSuggestions": [1]}
                ]
            },
            "id",
        ),
        (b"nope", "not valid JSON"),
    ],
)
def test_bad_feedback_is_400(service: Harness, body: Any, message: str) -> None:
    response = service.post(SIGN + "/feedback", body)
    assert response.status_code == 400
    assert message in response.json()["issue"][0]["diagnostics"]


def test_feedback_needs_a_token(service: Harness) -> None:
    response = CLIENT.post(service.url + SIGN + "/feedback", json=feedback_body("c"))
    assert response.status_code == 401


# Fetching from the FHIR server


def fhir_app(resources: dict[str, Any], seen: list[tuple[str, str | None]]) -> Callable[[int], Any]:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def read(request: Request) -> Response:
        seen.append(
            (str(request.url.path) + "?" + request.url.query, request.headers.get("authorization"))
        )
        kind = request.path_params["kind"]
        if kind == "Procedure" and request.query_params.get("patient") != "p1":
            return JSONResponse({"resourceType": "OperationOutcome"}, status_code=404)
        data = resources.get(kind)
        if data is None:
            return JSONResponse({"resourceType": "OperationOutcome"}, status_code=404)
        return JSONResponse(data)

    async def patient_read(request: Request) -> Response:
        seen.append((str(request.url.path), request.headers.get("authorization")))
        return (
            JSONResponse(resources["Patient"])
            if request.path_params["ident"] == "p1"
            else Response(status_code=404)
        )

    def make(_port: int) -> Any:
        return Starlette(
            routes=[Route("/fhir/Patient/{ident}", patient_read), Route("/fhir/{kind}", read)]
        )

    return make


def test_the_service_fetches_missing_prefetch_from_the_fhir_server(service: Harness) -> None:
    seen: list[tuple[str, str | None]] = []
    resources = {"Patient": patient(zone="Asia/Kathmandu"), "Procedure": bundle(procedure(ENDED))}
    with Server(fhir_app(resources, seen)) as fhir:
        body = hook_body(
            "patient-view",
            fhirServer=fhir.url + "/fhir",
            fhirAuthorization={"access_token": "fhir-token", "token_type": "Bearer"},
        )
        cards = cards_of(service.post(PV, body))
        driving = next(c for c in cards if c["source"]["topic"]["code"] == "driving")
        # 23:30 UTC is 05:15 on the 26th in Kathmandu: the next day is the 27th
        assert driving["summary"].endswith(local("Asia/Kathmandu", 2026, 11, 27, 6, 0))
        assert ("/fhir/Patient/p1", "Bearer fhir-token") in seen
        assert [a for p, a in seen if p.startswith("/fhir/Procedure")] == ["Bearer fhir-token"]
        # prefetch given for the patient only: only the sessions are fetched
        seen.clear()
        body = hook_body(
            "patient-view", prefetch={"patient": patient()}, fhirServer=fhir.url + "/fhir"
        )
        cards = cards_of(service.post(PV, body))
        assert len(seen) == 1
        assert seen[0][0].startswith("/fhir/Procedure?patient=p1&code=")
        assert "ketamine-session" in seen[0][0]
        assert seen[0][1] is None


def test_a_fhir_server_that_fails_or_answers_too_much_gives_a_cannot_tell_card(
    tmp_path: Path,
) -> None:
    seen: list[tuple[str, str | None]] = []
    huge = bundle(*(procedure(ENDED, ident=f"s{i}") for i in range(200)))
    resources = {"Patient": patient(), "Procedure": huge}
    harness = Harness(tmp_path, Ehr(), fhir_max_bytes=20_000).start()
    try:
        with Server(fhir_app(resources, seen)) as fhir:
            for server in (fhir.url + "/fhir", fhir.url + "/missing"):
                body = hook_body("patient-view", fhirServer=server)
                (card,) = cards_of(harness.post(PV, body))
                assert "could not be read" in card["summary"]
            body = hook_body("patient-view", fhirServer=fhir.url + "/fhir")
            body["context"]["patientId"] = "p2"
            (card,) = cards_of(harness.post(PV, body))
            assert "could not be read" in card["summary"]
        body = hook_body("patient-view", fhirServer=fhir.url + "/fhir")  # now closed
        (card,) = cards_of(harness.post(PV, body))
        assert "could not be read" in card["summary"]
    finally:
        harness.stop()


# Edges


def test_sessions_alone_in_prefetch_fetches_the_patient_only(service: Harness) -> None:
    seen: list[tuple[str, str | None]] = []
    resources = {"Patient": patient(zone="Asia/Kathmandu"), "Procedure": bundle()}
    with Server(fhir_app(resources, seen)) as fhir:
        body = hook_body(
            "patient-view",
            prefetch={"sessions": bundle(procedure(ENDED))},
            fhirServer=fhir.url + "/fhir",
        )
        cards = cards_of(service.post(PV, body))
    assert [p for p, _ in seen] == ["/fhir/Patient/p1"]
    assert "Asia/Kathmandu" in cards[0]["detail"].replace("\\", "")


def test_an_unexpected_failure_is_a_500_with_no_detail(
    running: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def fail(*_: object) -> object:
        msg = "secret patient detail"
        raise RuntimeError(msg)

    assert running.server is not None
    app: Any = running.server.server.config.app
    monkeypatch.setattr(app.state.service, "answer", fail)
    response = running.post(PV, hook_body("patient-view", prefetch=prefetch_for(ENDED)))
    assert response.status_code == 500
    assert response.json()["issue"][0]["code"] == "exception"
    assert "secret" not in response.text
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "unexpected RuntimeError" in text
    assert "secret" not in text


def test_a_key_set_that_cannot_be_read_refuses_every_token(tmp_path: Path) -> None:
    harness = Harness(tmp_path, Ehr(), jwks={"keys": [{"kty": "nonsense"}]}).start()
    try:
        body = hook_body("patient-view", prefetch=prefetch_for(ENDED))
        assert harness.post(PV, body).status_code == 401
    finally:
        harness.stop()


def test_a_long_medication_name_is_cut_and_an_order_without_id_gets_no_suggestion(
    service: Harness,
) -> None:
    name = "Midazolam " + "extra long product description " * 8
    order = medication_request("x", "N05CD08", name)
    del order["id"]
    body = hook_body("order-sign", prefetch=prefetch_for(ENDED), orders=[order])
    (card,) = cards_of(service.post(SIGN, body))
    lift = local("America/New_York", 2026, 11, 26, 6, 0)
    assert len(card["summary"]) == 139
    assert card["summary"].endswith(f"…: not permitted after ketamine until {lift}")
    assert "suggestions" not in card
    assert "selectionBehavior" not in card


def test_odd_fhir_shapes_are_read_safely() -> None:
    from ketamine_guidance import Code
    from ketamine_guidance.service._fhir import orders, patient_zone, resources, sessions

    code = Code(
        "https://ketamine-guidance.readthedocs.io/fhir/CodeSystem/procedure", "ketamine-session"
    )
    assert list(resources([1])) == []
    assert list(resources({"resourceType": "Procedure"})) == []
    assert list(resources({"resourceType": "Bundle", "entry": [1, {"resource": 2}, {}]})) == []
    assert list(resources({"resourceType": "Bundle", "entry": "x"})) == []
    other = {"url": "http://example.org/other", "valueCode": "Asia/Tokyo"}
    tz = {"url": "http://hl7.org/fhir/StructureDefinition/timezone", "valueCode": 5}
    assert patient_zone({"extension": [other, 3]}) == (False, None)
    assert patient_zone({"extension": [other, tz]}) == (True, None)
    bad = procedure("2026-13-45T99:00:00Z")
    naive = procedure("2026-11-25T18:30:00")
    r5 = {**procedure(None), "occurrencePeriod": {"end": "2026-11-25T23:30:00Z"}}
    r5_time = {**procedure(None), "occurrenceDateTime": "2026-11-25T23:30:00Z"}
    ends = [s.ended_at for s in sessions(bundle(bad, naive, r5, r5_time), [code])]
    utc = dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    assert ends == [None, None, utc, utc]
    no_id = {**procedure(utc), "id": 7}
    assert sessions(bundle(no_id), [code])[0].ident == ""
    request = {
        "resourceType": "MedicationRequest",
        "id": "m",
        "contained": [
            {"resourceType": "Patient", "id": "med"},
            {"resourceType": "Medication", "id": "other"},
        ],
        "medicationReference": {"reference": "#med"},
    }
    by_r5_reference = {
        "resourceType": "MedicationRequest",
        "medication": {"reference": {"reference": "Medication/1"}},
    }
    named = {
        "resourceType": "MedicationRequest",
        "medicationCodeableConcept": {"coding": [{"display": " "}, {"display": "Shown"}]},
    }
    found = orders(bundle(request, by_r5_reference, named, {"resourceType": "Observation"}))
    assert [(o.ident, o.name, o.codings) for o in found] == [
        ("m", "This medication order", ()),
        (None, "This medication order", ()),
        (None, "Shown", ((None, None), (None, None))),
    ]


def test_a_session_in_progress_gets_a_warning_card(service: Harness) -> None:
    sessions = bundle(procedure(None, ident="now", status="in-progress"))
    orders = [medication_request("mr-1", "N05CD08", "Midazolam")]
    body = hook_body(
        "order-sign", prefetch={"patient": patient(), "sessions": sessions}, orders=orders
    )
    (card,) = cards_of(service.post(SIGN, body))
    assert card["indicator"] == "warning"
    assert "in progress" in card["summary"]


def test_a_paged_search_result_says_later_sessions_may_be_missing(service: Harness) -> None:
    sessions = bundle(procedure(ENDED))
    sessions["link"] = [{"relation": "self", "url": "x"}, {"relation": "next", "url": "y"}, 3]
    body = hook_body("patient-view", prefetch={"patient": patient(), "sessions": sessions})
    cards = cards_of(service.post(PV, body))
    assert "not every session was read" in cards[0]["summary"]
    assert cards[0]["indicator"] == "warning"
    assert len(cards) > 1  # the sessions that were read still count


def test_a_restriction_that_ends_past_the_last_date_says_so_not_no_end() -> None:
    """A lift past datetime.max is not "no end is given": the cards say which (H34)."""
    from ketamine_guidance import Hours, Rule, Ruleset, Session, Source, plan_for
    from ketamine_guidance.service._cards import Cards, ZoneSource

    rule = Rule(
        activity="driving", label="Driving", until=Hours(48), reason="r", source=Source("T", "S")
    )
    rules = Ruleset(id="far", version="1", title="t", rules=(rule,))
    ended = dt.datetime(9999, 12, 30, 12, tzinfo=dt.timezone.utc)
    decision = plan_for(Session(ended, "Asia/Tokyo"), rules).check("driving", ended)
    assert decision.lifts_beyond_range
    card = Cards(rules, "https://docs.example.org").restriction(
        decision, ZoneSource("Asia/Tokyo", from_patient=True), 1, ["k"]
    )
    assert card is not None
    assert "; the end is beyond the dates this library can represent" in card["summary"]
    assert "The end is beyond the dates this library can represent: treat it as in force." in (
        card["detail"].replace("\\", "")
    )
    assert "no end is given" not in card["summary"] + card["detail"]
