"""schemathesis fuzzes the service's OpenAPI description (issue 15): no 5xx, and every
response matches the schema the description gives for it.

Every generated call carries a fresh, valid token, so the fuzzing reaches the hook
handling behind the authentication.  The examples per operation are bounded for CI.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from ketamine_guidance.service import ServiceConfig, create_app
from tests.service_support import ISSUER, Clock, Ehr, Server

EHR = Ehr()
CLOCK = Clock(dt.datetime(2026, 11, 26, 3, 0, tzinfo=dt.timezone.utc))


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    store: Path = tmp_path_factory.mktemp("fuzz") / "store.sqlite3"

    def make_app(port: int) -> Any:
        config = ServiceConfig(
            port=port,
            jwks=EHR.jwks(),
            issuers=(ISSUER,),
            store=store,
            clock=CLOCK,
            clinic_timezone="America/New_York",
            fhir_timeout=0.5,
        )
        return create_app(config)

    with Server(make_app) as server:
        yield schemathesis.openapi.from_url(server.url + "/openapi.json")


OPERATIONS = [
    ("GET", "/cds-services"),
    ("GET", "/openapi.json"),
    *(
        ("POST", f"/cds-services/ketamine-aftercare-{hook}{tail}")
        for hook in ("patient-view", "order-select", "order-sign")
        for tail in ("", "/feedback")
    ),
]


def check(case: Any) -> None:
    if isinstance(case.body, dict) and "fhirServer" in case.body:
        # Never reach out to hosts the fuzzer invents: a closed local port instead.
        case.body["fhirServer"] = "http://127.0.0.1:9/fhir"
    if case.operation.method.upper() == "POST":
        url = case.operation.base_url.rstrip("/") + case.formatted_path
        token = EHR.token(url, now=CLOCK.now)
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    response = case.call()
    assert response.status_code < 500, response.text
    case.validate_response(response)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_server_errors_and_every_response_matches_its_schema(
    api_schema: Any, method: str, path: str
) -> None:
    operation = api_schema[path][method]

    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def fuzz(case: Any) -> None:
        check(case)

    fuzz()
