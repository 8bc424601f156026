"""Helpers for the CDS Hooks service tests: a real uvicorn server on 127.0.0.1, EHR keys
and tokens made in the test, and the FHIR resources an EHR would send."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

UTC = dt.timezone.utc
ISSUER = "https://ehr.example.org"
SESSION_SYSTEM = "https://ketamine-guidance.readthedocs.io/fhir/CodeSystem/procedure"
ATC = "http://www.whocc.no/atc"


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class Server:
    """An ASGI app served by uvicorn in a thread, on a socket bound to 127.0.0.1."""

    def __init__(self, make_app: Callable[[int], Any], sock: socket.socket | None = None) -> None:
        self.sock = sock or free_socket()
        self.port: int = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            make_app(self.port), log_config=None, lifespan="on", ws="none", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():  # pragma: no cover
                msg = "the test server did not start"
                raise RuntimeError(msg)
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


class Ehr:
    """An EHR's signing key, its public JWKS and the tokens it signs."""

    def __init__(self, kid: str = "ehr-key-1", *, rsa: bool = False) -> None:
        self.kid = kid
        self.alg = "RS384" if rsa else "ES384"
        self.key: ECKey | RSAKey = (
            RSAKey.generate_key(2048, parameters={"kid": kid})
            if rsa
            else ECKey.generate_key("P-384", parameters={"kid": kid})
        )

    def jwks(self) -> dict[str, Any]:
        return dict(KeySet([self.key]).as_dict(private=False))

    def token(
        self,
        aud: str | list[str],
        *,
        now: dt.datetime,
        iss: str = ISSUER,
        lifetime: int = 300,
        jti: str | None = None,
        jku: str | None = None,
    ) -> str:
        header: dict[str, Any] = {"alg": self.alg, "typ": "JWT", "kid": self.kid}
        if jku is not None:
            header["jku"] = jku
        issued = int(now.timestamp())
        claims = {
            "iss": iss,
            "sub": "client-1",
            "aud": aud,
            "iat": issued,
            "exp": issued + lifetime,
            "jti": jti or str(uuid.uuid4()),
        }
        return jwt.encode(header, claims, self.key, algorithms=[self.alg])


def patient(ident: str = "p1", zone: str | None = "America/New_York") -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": ident,
        "name": [{"family": "Zzyzx-Private", "given": ["Quentin"]}],
    }
    if zone is not None:
        resource["extension"] = [
            {"url": "http://hl7.org/fhir/StructureDefinition/timezone", "valueCode": zone}
        ]
    return resource


def procedure(
    ended: dt.datetime | str | None,
    *,
    ident: str = "s1",
    status: str = "completed",
    period: bool = True,
    code: str = "ketamine-session",
) -> dict[str, Any]:
    end = ended.isoformat() if isinstance(ended, dt.datetime) else ended
    resource: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": ident,
        "status": status,
        "code": {"coding": [{"system": SESSION_SYSTEM, "code": code}]},
        "subject": {"reference": "Patient/p1"},
    }
    if end is not None:
        if period:
            resource["performedPeriod"] = {"end": end}
        else:
            resource["performedDateTime"] = end
    return resource


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }


def medication_request(
    ident: str, code: str | None, name: str, system: str = ATC
) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": name}
    if code is not None:
        concept["coding"] = [{"system": system, "code": code, "display": name}]
    return {
        "resourceType": "MedicationRequest",
        "id": ident,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": concept,
    }


def hook_body(
    hook: str,
    *,
    prefetch: dict[str, Any] | None = None,
    orders: list[dict[str, Any]] | None = None,
    selections: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": "Practitioner/u1", "patientId": "p1"}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = bundle(*(orders or []))
    if hook == "order-select":
        context["selections"] = selections or []
    body: dict[str, Any] = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context}
    if prefetch is not None:
        body["prefetch"] = prefetch
    body.update(extra)
    return body


class Clock:
    """A clock the test moves."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def iter_cards(response: Any) -> Iterator[dict[str, Any]]:
    yield from response.json()["cards"]
