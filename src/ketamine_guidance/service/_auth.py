"""Who may call: the EHR's signed JWT bearer token, as CDS Hooks 2.0 requires.

A token is accepted only when all of these hold: an asymmetric algorithm; a signature
by a key of the configured JWKS, or of an allow-listed ``jku`` key set; ``iss`` in the
allow list; ``aud`` the endpoint called (or the service's public URL); ``exp`` in the
future and at most an hour ahead; a ``jti`` never seen before (kept in the store until
the token expires).  Every failure is the same ``False``: the caller answers 401 and
says nothing about which check failed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ketamine_guidance.service._config import ServiceConfig
from ketamine_guidance.service._store import Store

__all__ = ["ALGORITHMS", "Verifier"]

#: Asymmetric signatures only: a shared secret would let the service forge EHR calls.
ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512")
_LEEWAY = 30  # seconds of clock difference allowed on exp
_MAX_LIFETIME = 3600  # a token may be valid for at most this long ahead
_JKU_TTL = 300.0  # seconds a fetched jku key set is reused

FetchJson = Callable[[str], Awaitable[object]]


def _key_set(data: object) -> KeySet | None:
    try:
        keys = cast("KeySet", KeySet.import_key_set(cast("Any", data)))  # pyright: ignore[reportUnknownMemberType]
    except (JoseError, ValueError, TypeError, KeyError, AttributeError):
        return None
    return keys


class Verifier:
    """Checks bearer tokens for one service configuration."""

    def __init__(self, config: ServiceConfig, store: Store, fetch_json: FetchJson) -> None:
        self._issuers = frozenset(config.issuers)
        self._jku_allow = frozenset(config.jku_allow)
        self._keys = None if config.jwks is None else _key_set(config.jwks)
        self._store = store
        self._fetch_json = fetch_json
        self._jku_cache: dict[str, tuple[float, KeySet | None]] = {}

    async def _jku_keys(self, url: str) -> KeySet | None:
        cached = self._jku_cache.get(url)
        now = time.monotonic()
        if cached is not None and now - cached[0] < _JKU_TTL:
            return cached[1]
        try:
            keys = _key_set(await self._fetch_json(url))
        except Exception:  # noqa: BLE001 (any failure to fetch means no keys: refuse)
            keys = None
        self._jku_cache[url] = (now, keys)
        return keys

    async def verify(self, authorization: str | None, audiences: frozenset[str], now: int) -> bool:
        """True when the ``Authorization`` header carries a token this service accepts."""
        if not self._issuers or authorization is None:
            return False
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        token = token.strip()
        try:
            header = jws.extract_compact(token.encode("ascii")).headers()
        except (JoseError, ValueError, UnicodeError):
            return False
        alg, jku = header.get("alg"), header.get("jku")
        if alg not in ALGORITHMS:
            return False
        if jku is None:
            keys = self._keys
        elif isinstance(jku, str) and jku.rstrip("/") in self._jku_allow:
            keys = await self._jku_keys(jku)
        else:
            keys = None
        if keys is None:
            return False
        try:
            claims = jwt.decode(token, keys, algorithms=[cast("str", alg)]).claims
        except (JoseError, ValueError, TypeError, KeyError):
            return False
        return self._claims_ok(claims, audiences, now)

    def _claims_ok(self, claims: Mapping[str, Any], audiences: frozenset[str], now: int) -> bool:
        iss, aud, exp, jti = (claims.get(k) for k in ("iss", "aud", "exp", "jti"))
        aud_values = cast("list[object]", aud) if isinstance(aud, list) else [aud]
        if (
            iss not in self._issuers
            or not any(isinstance(a, str) and a.rstrip("/") in audiences for a in aud_values)
            or isinstance(exp, bool)
            or not isinstance(exp, int | float)
            or not now - _LEEWAY <= exp <= now + _MAX_LIFETIME
            or not isinstance(jti, str)
            or not jti
        ):
            return False
        return self._store.use_jti(cast("str", iss), jti, int(exp) + _LEEWAY, now)
