"""The Starlette application: routes, limits, CORS, and the work of each hook."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, MutableMapping
from typing import Any, TypeVar, cast
from urllib.parse import quote

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ketamine_guidance._engine.course import CoursePlan, plan_for_course
from ketamine_guidance._engine.plan import Decision
from ketamine_guidance._engine.session import Session, resolve_timezone
from ketamine_guidance._errors import GuidanceError
from ketamine_guidance.service._auth import Verifier
from ketamine_guidance.service._cards import Cards, ZoneSource, rank
from ketamine_guidance.service._config import ServiceConfig
from ketamine_guidance.service._fhir import (
    FetchError,
    Order,
    fetch_json,
    has_next_page,
    in_progress,
    orders,
    patient_zone,
    sessions,
)
from ketamine_guidance.service._hooks import (
    PATIENT_TEMPLATE,
    SERVICES,
    BadRequestError,
    HookRequest,
    ServiceSpec,
    check_feedback,
    check_request,
    discovery,
    sessions_template,
)
from ketamine_guidance.service._openapi import openapi
from ketamine_guidance.service._store import Store

__all__ = ["build_app"]

LOG = logging.getLogger("ketamine_guidance.service")
UTC = dt.timezone.utc

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def outcome(status: int, code: str, text: str, headers: dict[str, str] | None = None) -> Response:
    """A FHIR OperationOutcome error response."""
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }
    return JSONResponse(body, status_code=status, headers=headers)


# What a request's body is read into: a hook request, or feedback rows.
_Checked = TypeVar("_Checked")


class _TooLargeError(Exception):
    pass


class _Logged:
    """ASGI middleware: one log line per request, with no patient data.

    The line holds the method, the route's service id, the status and the time taken;
    never a body, a query string, a header or a token.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            path = str(scope["path"])
            route = path if path.startswith(("/cds-services", "/openapi")) else "(other)"
            LOG.info(
                "%s %s %d %.1fms",
                scope["method"],
                route[:100],
                status[0],
                (time.perf_counter() - start) * 1000,
            )


class _Service:
    """The state one application shares between requests."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.store = Store(config.store)
        self.cards = Cards(config.ruleset, config.docs_url)
        self.clock = config.clock or (lambda: dt.datetime.now(UTC))
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(config.fhir_timeout), follow_redirects=False
        )
        self.verifier = Verifier(config, self.store, self._fetch_jwks)
        self.discovery = discovery(config.session_codes)
        self.sessions_query = sessions_template(config.session_codes)
        self.plans = functools.lru_cache(maxsize=4096)(self._plan)

    async def _fetch_jwks(self, url: str) -> object:
        return await fetch_json(self.client, url, token=None, max_bytes=1024 * 1024)

    def _plan(self, ends: tuple[dt.datetime, ...], zone: str) -> CoursePlan:
        return plan_for_course([Session(e, zone) for e in ends], self.config.ruleset)

    # Reading requests

    async def body(self, request: Request) -> object:
        """The JSON body, at most max_body_bytes (413 past it, 400 if not JSON)."""
        limit = self.config.max_body_bytes
        chunks = bytearray()
        async for chunk in request.stream():
            chunks += chunk
            if len(chunks) > limit:
                raise _TooLargeError
        try:
            return json.loads(chunks)
        except ValueError:
            msg = "the request body is not valid JSON"
            raise BadRequestError(msg) from None

    async def authorized(self, request: Request, path: str) -> bool:
        base = self.config.base_url
        audiences = frozenset({base, f"{base}/cds-services", f"{base}{path}"})
        now = int(self.clock().timestamp())
        return await self.verifier.verify(request.headers.get("authorization"), audiences, now)

    # The work of a hook

    async def fetched(self, hook: HookRequest) -> tuple[object, object] | None:
        """The Patient and sessions Bundle, from prefetch or the FHIR server.

        None when something had to be fetched and could not be.
        """
        patient = hook.prefetch.get("patient")
        procedures = hook.prefetch.get("sessions")
        base = (hook.fhir_server or "").rstrip("/")
        ident = quote(hook.patient_id, safe="")
        limit = self.config.fhir_max_bytes
        try:
            if patient is None:
                url = f"{base}/{PATIENT_TEMPLATE.replace('{{context.patientId}}', ident)}"
                patient = await fetch_json(
                    self.client, url, token=hook.access_token, max_bytes=limit
                )
            if procedures is None:
                url = f"{base}/{self.sessions_query.replace('{{context.patientId}}', ident)}"
                procedures = await fetch_json(
                    self.client, url, token=hook.access_token, max_bytes=limit
                )
        except FetchError:
            return None
        return patient, procedures

    async def respond(self, spec: ServiceSpec, checked: HookRequest) -> Response:
        """The answer to a checked hook request: prefetch, else fetch, else 412."""
        patient, procedures = checked.prefetch.get("patient"), checked.prefetch.get("sessions")
        if patient is None or procedures is None:
            if checked.fhir_server is None:
                return outcome(
                    412,
                    "required",
                    "Prefetch 'patient' and 'sessions' are missing and no fhirServer is given.",
                )
            data = await self.fetched(checked)
            if data is None:
                cards = [self.cards.cannot_tell("not-read", [spec.hook])]
                return JSONResponse({"cards": cards})
            patient, procedures = data
        if _resource_type(patient) != "Patient":
            return outcome(400, "invalid", "prefetch patient must be a FHIR Patient")
        if _resource_type(procedures) != "Bundle":
            return outcome(400, "invalid", "prefetch sessions must be a FHIR Bundle")
        return JSONResponse({"cards": self.answer(spec, checked, patient, procedures)})

    def answer(
        self, spec: ServiceSpec, hook: HookRequest, patient: object, procedures: object
    ) -> list[dict[str, Any]]:
        now = self.clock().astimezone(UTC)
        key: list[object] = [spec.hook, now.isoformat()]
        records = sessions(procedures, self.config.session_codes)
        cards: list[dict[str, Any]] = []
        if any(r.ended_at is None for r in records):
            cards.append(self.cards.cannot_tell("no-end", key))
        if has_next_page(procedures):  # a later page could hold the latest session
            cards.append(self.cards.cannot_tell("paged", key))
        if in_progress(procedures, self.config.session_codes):
            cards.append(self.cards.cannot_tell("in-progress", key))
        ends = tuple(
            sorted(e.astimezone(UTC) for r in records if (e := r.ended_at) is not None and e <= now)
        )
        if not ends:
            return cards
        key.append([e.isoformat() for e in ends])
        zone = self._zone(patient)
        if zone is None or isinstance(zone, str):
            return [*cards, self.cards.cannot_tell(zone or "no-zone", key)]
        key.append(zone.name)
        try:
            plan = self.plans(ends, zone.name)
            decisions = plan.decisions_at(now)
        except GuidanceError:
            return [*cards, self.cards.cannot_tell("ruleset", key)]
        if spec.hook == "patient-view":
            for decision in rank(decisions):
                card = self.cards.restriction(decision, zone, len(ends), key)
                if card is not None:
                    cards.append(card)
            return cards
        return cards + self._order_cards(
            hook, plan=plan, now=now, zone=zone, sessions=len(ends), key=key
        )

    def _zone(self, patient: object) -> ZoneSource | str | None:
        """The zone, or "bad-zone", or None when nothing gives one."""
        has_extension, code = patient_zone(patient)
        if has_extension:
            try:
                resolve_timezone(code)
            except GuidanceError:
                return "bad-zone"
            return ZoneSource(str(code), from_patient=True)
        clinic = self.config.clinic_timezone
        return None if clinic is None else ZoneSource(clinic, from_patient=False)

    def _order_cards(  # noqa: PLR0913  (the parts of one answer, keyword-only)
        self,
        hook: HookRequest,
        *,
        plan: CoursePlan,
        now: dt.datetime,
        zone: ZoneSource,
        sessions: int,
        key: list[object],
    ) -> list[dict[str, Any]]:
        coded = [r for r in self.config.ruleset.rules if r.codes]
        systems = {c.system for r in coded for c in r.codes}
        decided: dict[str, Decision] = {}

        def decide(activity: str) -> Decision:
            if activity not in decided:
                decided[activity] = plan.check(activity, now)
            return decided[activity]

        cards: list[tuple[int, dict[str, Any]]] = []
        for order in orders(hook.draft_orders):
            if spec_selects(hook, order):
                # No code in any system the ruleset's codes use (an RxNorm-only order
                # against ATC classes): it cannot be matched, so it is not silently passed.
                if not any(s in systems for s, _ in order.codings):
                    if any(decide(r.activity).status.restrictiveness for r in coded):
                        cards.append((1, self.cards.uncoded_order(order, key)))
                    continue
                for rule in coded:
                    code = next(
                        (c for c in rule.codes for s, v in order.codings if c.matches(s, v)), None
                    )
                    if code is None:
                        continue
                    decision = decide(rule.activity)
                    card = self.cards.order(
                        order=order,
                        code=code,
                        decision=decision,
                        zone=zone,
                        sessions=sessions,
                        key=key,
                    )
                    if card is not None:
                        cards.append((decision.status.restrictiveness, card))
        return [c for _, c in sorted(cards, key=lambda rc: -rc[0])]


def _resource_type(value: object) -> object:
    return cast("dict[str, object]", value).get("resourceType") if isinstance(value, dict) else None


def spec_selects(hook: HookRequest, order: Order) -> bool:
    """order-select answers for the selected orders only; order-sign for every draft."""
    if not hook.selections:
        return True
    return order.ident is not None and f"MedicationRequest/{order.ident}" in hook.selections


def build_app(config: ServiceConfig) -> Starlette:
    """The ASGI application for ``config``."""
    service = _Service(config)
    unauthorized = functools.partial(
        outcome, 401, "security", "Not authorized.", {"WWW-Authenticate": "Bearer"}
    )

    def too_large() -> Response:
        return outcome(
            413, "too-costly", f"The request body is over {config.max_body_bytes} bytes."
        )

    def declared_too_large(request: Request) -> bool:
        length = request.headers.get("content-length", "")
        return length.isdigit() and int(length) > config.max_body_bytes

    async def services(_request: Request) -> Response:
        return JSONResponse(service.discovery)

    async def openapi_json(_request: Request) -> Response:
        return JSONResponse(openapi(config))

    async def admitted(
        request: Request, read: Callable[[ServiceSpec, object], _Checked]
    ) -> tuple[ServiceSpec, _Checked] | Response:
        """The checks every POST shares, in order: a known service, the size limit, the
        token, then ``read`` on the body; an error response for the first that fails."""
        spec = SERVICES.get(request.path_params["service_id"])
        if spec is None:
            return outcome(404, "not-found", "No such CDS Service.")
        if declared_too_large(request):
            return too_large()
        if not await service.authorized(request, request.url.path):
            return unauthorized()
        try:
            return spec, read(spec, await service.body(request))
        except _TooLargeError:
            return too_large()
        except BadRequestError as exc:
            return outcome(400, "invalid", str(exc))

    async def hook(request: Request) -> Response:
        got = await admitted(request, check_request)
        if isinstance(got, Response):
            return got
        return await service.respond(*got)

    async def feedback(request: Request) -> Response:
        got = await admitted(request, lambda _spec, body: check_feedback(body))
        if isinstance(got, Response):
            return got
        spec, rows = got
        ruleset = config.ruleset
        received = service.clock().astimezone(UTC).isoformat()
        for row in rows:
            row.update(
                service=spec.id,
                ruleset_id=ruleset.id,
                ruleset_version=ruleset.version,
                ruleset_digest=service.cards.digest,
                received_at=received,
            )
        return JSONResponse({"stored": service.store.add_feedback(rows)})

    async def server_error(_request: Request, exc: Exception) -> Response:
        LOG.error("unexpected %s", type(exc).__name__)  # never the message: it may hold data
        return outcome(500, "exception", "The service failed; the error has been logged.")

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            await service.client.aclose()
            service.store.close()

    middleware = [Middleware(_Logged)]
    if config.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(config.cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type"],
                max_age=600,
            )
        )
    app = Starlette(
        routes=[
            Route("/cds-services", services, methods=["GET"]),
            Route("/cds-services/{service_id}", hook, methods=["POST"]),
            Route("/cds-services/{service_id}/feedback", feedback, methods=["POST"]),
            Route("/openapi.json", openapi_json, methods=["GET"]),
        ],
        middleware=middleware,
        exception_handlers={Exception: server_error},
        lifespan=lifespan,
    )
    app.state.service = service
    return app
