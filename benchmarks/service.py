"""The CDS Hooks service under load (issue 15): requests per second and p50/p99 latency.

    nox -s bench_service               # about a minute on 2 cores
    python benchmarks/service.py --requests 3000 --seconds 10

The service runs in its own process (uvicorn, one worker, on 127.0.0.1), with one extra
route: a bare Starlette JSON endpoint that answers ``{"cards": []}`` without reading the
request, the framework's floor.  A bounded asyncio httpx client then measures, for
patient-view, order-sign and the bare endpoint, in the same run:

* throughput: a fixed number of requests over 16 keep-alive connections, as fast as the
  server answers;
* latency: an open-loop load at a fixed rate (200 requests per second by default), each
  request's time from its scheduled start, so a slow server cannot hide its queue.

Every request carries a fresh ES384 token (signed beforehand); hooks carry a prefetch.
The client is a minimal HTTP/1.1 one over asyncio streams, so that it costs less than
the server it measures.
Targets: hooks at least half the bare endpoint's throughput; p99 under 20 ms at 200/s.
Nothing here asserts: the table says PASS or MISS.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

UTC = dt.timezone.utc
ISSUER = "https://ehr.example.org"
ATC = "http://www.whocc.no/atc"
SESSION_SYSTEM = "https://ketamine-guidance.readthedocs.io/fhir/CodeSystem/procedure"


def serve(port: int, store: str, jwks_path: str) -> None:
    """The server process: the service plus a bare endpoint of the same framework."""
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    from ketamine_guidance.service import ServiceConfig, create_app

    config = ServiceConfig(
        port=port,
        jwks=json.loads(Path(jwks_path).read_text("utf-8")),
        issuers=(ISSUER,),
        store=Path(store),
    )
    app = create_app(config)

    async def bare(_request: Request) -> JSONResponse:
        return JSONResponse({"cards": []})

    app.add_route("/bare", bare, methods=["POST"])
    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _bodies(now: dt.datetime) -> dict[str, dict[str, Any]]:
    ended = (now - dt.timedelta(hours=2)).isoformat()
    prefetch = {
        "patient": {
            "resourceType": "Patient",
            "id": "p1",
            "extension": [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/timezone",
                    "valueCode": "America/New_York",
                }
            ],
        },
        "sessions": {
            "resourceType": "Bundle",
            "entry": [
                {
                    "resource": {
                        "resourceType": "Procedure",
                        "id": "s1",
                        "status": "completed",
                        "code": {
                            "coding": [{"system": SESSION_SYSTEM, "code": "ketamine-session"}]
                        },
                        "performedPeriod": {"end": ended},
                    }
                }
            ],
        },
    }
    order = {
        "resourceType": "MedicationRequest",
        "id": "mr1",
        "status": "draft",
        "medicationCodeableConcept": {
            "coding": [{"system": ATC, "code": "N05CD08", "display": "Midazolam"}]
        },
    }
    context = {"patientId": "p1", "userId": "Practitioner/1"}
    return {
        "patient-view": {
            "hook": "patient-view",
            "hookInstance": "h",
            "context": context,
            "prefetch": prefetch,
        },
        "order-sign": {
            "hook": "order-sign",
            "hookInstance": "h",
            "context": {
                **context,
                "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": order}]},
            },
            "prefetch": prefetch,
        },
    }


PATHS = {
    "patient-view": "/cds-services/ketamine-aftercare-patient-view",
    "order-sign": "/cds-services/ketamine-aftercare-order-sign",
    "bare": "/bare",
}


class Load:
    def __init__(self, base: str, key: Any, count: int) -> None:
        from joserfc import jwt

        now = dt.datetime.now(UTC)
        bodies = _bodies(now)
        self.base = base
        self.payload = {
            name: json.dumps(bodies.get(name, bodies["patient-view"])).encode() for name in PATHS
        }
        issued = int(now.timestamp())
        header = {"alg": "ES384", "typ": "JWT", "kid": "bench"}
        self.tokens: dict[str, list[str]] = {}
        for name, path in PATHS.items():
            claims = {"iss": ISSUER, "aud": base + path, "iat": issued, "exp": issued + 600}
            self.tokens[name] = [
                jwt.encode(header, {**claims, "jti": str(uuid.uuid4())}, key, algorithms=["ES384"])
                for _ in range(count)
            ]

    async def one(self, conn: Connection, name: str) -> float:
        token = self.tokens[name].pop()
        start = time.perf_counter()
        status, body = await conn.post(PATHS[name], self.payload[name], token)
        elapsed = time.perf_counter() - start
        if status != 200:
            msg = f"{name}: HTTP {status}: {body[:200]!r}"
            raise RuntimeError(msg)
        if name != "bare" and b'"uuid"' not in body:
            msg = f"{name}: no cards"
            raise RuntimeError(msg)
        return elapsed

    async def throughput(self, pool: list[Connection], name: str, total: int) -> float:
        remaining = [total]

        async def worker(conn: Connection) -> None:
            while remaining[0] > 0:
                remaining[0] -= 1
                await self.one(conn, name)

        start = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in pool))
        return total / (time.perf_counter() - start)

    async def latency(
        self, pool: list[Connection], name: str, rate: float, seconds: float
    ) -> list[float]:
        """Open loop: request i starts at i/rate; its latency counts from then."""
        count = int(rate * seconds)
        origin = time.perf_counter() + 0.05
        results: list[float] = []
        free: asyncio.Queue[Connection] = asyncio.Queue()
        for conn in pool:
            free.put_nowait(conn)

        async def fire(i: int) -> None:
            scheduled = origin + i / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            conn = await free.get()
            try:
                await self.one(conn, name)
            finally:
                free.put_nowait(conn)
            results.append(time.perf_counter() - scheduled)

        await asyncio.gather(*(fire(i) for i in range(count)))
        return results


class Connection:
    """A minimal HTTP/1.1 keep-alive client: a load generator must cost less than the
    server it measures, and a full client library costs about as much as the service."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str
    ) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, f"127.0.0.1:{port}")

    async def post(self, path: str, body: bytes, token: str) -> tuple[int, bytes]:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return int(status_line.split()[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def _quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


async def _measure(
    port: int, key: Any, requests: int, rate: float, seconds: float
) -> dict[str, Any]:
    load = Load(f"http://127.0.0.1:{port}", key, requests + int(rate * seconds) + 200)
    pool = [await Connection.open(port) for _ in range(16)]
    try:
        for name in PATHS:  # warm up: connections, caches
            for _ in range(50):
                await load.one(pool[0], name)
        out: dict[str, Any] = {}
        for name in PATHS:
            rps = await load.throughput(pool, name, requests)
            lat = await load.latency(pool, name, rate, seconds)
            out[name] = (rps, _quantile(lat, 0.50) * 1000, _quantile(lat, 0.99) * 1000)
        return out
    finally:
        for conn in pool:
            conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=2000, help="throughput requests per endpoint"
    )
    parser.add_argument("--rate", type=float, default=200.0, help="latency load, requests/s")
    parser.add_argument("--seconds", type=float, default=5.0, help="latency load duration")
    parser.add_argument(
        "--serve", nargs=3, metavar=("PORT", "STORE", "JWKS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1], args.serve[2])
        return

    import httpx
    from joserfc.jwk import ECKey, KeySet

    key = ECKey.generate_key("P-384", parameters={"kid": "bench"})
    with tempfile.TemporaryDirectory() as tmp:
        jwks = Path(tmp) / "jwks.json"
        jwks.write_text(json.dumps(KeySet([key]).as_dict(private=False)), "utf-8")
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                str(port),
                str(Path(tmp) / "s.sqlite3"),
                str(jwks),
            ]
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(base + "/cds-services", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise
                    time.sleep(0.1)
            results = asyncio.run(_measure(port, key, args.requests, args.rate, args.seconds))
        finally:
            server.terminate()
            server.wait(30)

    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}, {platform.python_implementation()} {platform.python_version()}"
    )
    load = f"latency: {args.rate:g}/s for {args.seconds:g} s"
    print(f"Throughput: {args.requests} requests, 16 at a time; {load}")
    print()
    print(f"| Endpoint | Requests/s | p50 ms | p99 ms at {args.rate:g}/s | Targets |")
    print("| --- | --- | --- | --- | --- |")
    bare_rps = results["bare"][0]
    for name, (rps, p50, p99) in results.items():
        if name == "bare":
            verdict = "(the framework's floor)"
        else:
            half = "PASS" if rps >= bare_rps / 2 else "MISS"
            fast = "PASS" if p99 < 20 else "MISS"
            verdict = f"≥ half the bare rate ({rps / bare_rps:.0%}): {half}; p99 < 20 ms: {fast}"
        print(f"| {name} | {rps:.0f} | {p50:.1f} | {p99:.1f} | {verdict} |")


if __name__ == "__main__":
    main()
