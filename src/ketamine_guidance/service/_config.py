"""The service's configuration: what the command line and the TOML file set.

Nothing here imports Starlette, so the command line can read and check a configuration
(and report a bad one in one line) before the optional web packages are needed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import attrs
from attrs import field, frozen

from ketamine_guidance._engine.session import resolve_timezone
from ketamine_guidance._errors import GuidanceError
from ketamine_guidance._rules.model import Code
from ketamine_guidance._rules.ruleset import Ruleset, default_ruleset, load_ruleset

__all__ = [
    "DEFAULT_SESSION_CODE",
    "MAX_BODY_BYTES",
    "SESSION_SYSTEM",
    "ConfigError",
    "ServiceConfig",
    "config_from_toml",
    "parse_code",
]

#: The library's own code system for procedures: no standard code for "a ketamine
#: therapy session" is assumed; a clinic names the codes its EHR records.
SESSION_SYSTEM = "https://ketamine-guidance.readthedocs.io/fhir/CodeSystem/procedure"
#: The Procedure code that marks a ketamine session unless the configuration names others.
DEFAULT_SESSION_CODE = Code(SESSION_SYSTEM, "ketamine-session")
#: Request bodies larger than this are refused with 413.
MAX_BODY_BYTES = 1024 * 1024


class ConfigError(GuidanceError, ValueError):
    """A service configuration value is wrong; the message names the setting."""


def _url(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        msg = f"{what} must be an http or https URL, not {value!r}"
        raise ConfigError(msg)
    return value.rstrip("/")


def parse_code(text: str) -> Code:
    """``SYSTEM|CODE`` (as FHIR token searches write it) as a :class:`Code`."""
    system, bar, code = text.rpartition("|")
    if not bar or not system.strip() or not code.strip():
        msg = f"a session code must be written SYSTEM|CODE, not {text!r}"
        raise ConfigError(msg)
    return Code(system.strip(), code.strip())


@frozen(kw_only=True)
class ServiceConfig:
    """Everything the CDS Hooks service needs; every field has a safe default.

    * ``host``, ``port``: where ``ketamine-guidance serve`` listens.
    * ``public_url``: the base URL the EHR calls (``aud`` of its tokens is checked
      against it); by default ``http://HOST:PORT``.
    * ``ruleset``: the rules the cards come from (the default ruleset unless given).
    * ``jwks``: the EHR's public keys, a JSON Web Key Set; ``jku_allow``: the ``jku``
      URLs whose key sets may be fetched; ``issuers``: the ``iss`` values accepted.
      With no keys or no issuers every hook call is refused (fail closed).
    * ``clinic_timezone``: the zone used when the Patient record gives none (stated on
      every card that uses it); None: such patients get a card saying the service
      cannot tell the time rules.
    * ``session_codes``: the Procedure codes that mark a ketamine session.
    * ``cors_origins``: browser origins allowed to call the service (the sandbox's).
    * ``store``: the SQLite file for feedback and used token ids.
    * ``clock``: the current instant (for embedding and tests); None: the system clock.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None
    ruleset: Ruleset = field(factory=default_ruleset)
    jwks: Mapping[str, Any] | None = None
    jku_allow: tuple[str, ...] = ()
    issuers: tuple[str, ...] = ()
    clinic_timezone: str | None = None
    session_codes: tuple[Code, ...] = (DEFAULT_SESSION_CODE,)
    cors_origins: tuple[str, ...] = ()
    store: Path = Path("ketamine-guidance-service.sqlite3")
    max_body_bytes: int = MAX_BODY_BYTES
    fhir_timeout: float = 5.0
    fhir_max_bytes: int = 4 * MAX_BODY_BYTES
    docs_url: str = "https://ketamine-guidance.readthedocs.io/en/latest"
    clock: Callable[[], dt.datetime] | None = field(default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            msg = f"port must be 0 to 65535, not {self.port}"
            raise ConfigError(msg)
        if self.public_url is not None:
            object.__setattr__(self, "public_url", _url(self.public_url, "public_url"))
        object.__setattr__(self, "jku_allow", tuple(_url(u, "jku") for u in self.jku_allow))
        if self.clinic_timezone is not None:
            resolve_timezone(self.clinic_timezone)  # UnknownTimezoneError names it
        if not self.session_codes:
            msg = "session_codes must name at least one Procedure code"
            raise ConfigError(msg)
        if self.jwks is not None and not isinstance(self.jwks.get("keys"), list):
            msg = "jwks must be a JSON Web Key Set: an object with a 'keys' list"
            raise ConfigError(msg)

    @property
    def base_url(self) -> str:
        """The URL the EHR calls, without a trailing slash."""
        return self.public_url or f"http://{self.host}:{self.port}"

    def evolve(self, **changes: Any) -> ServiceConfig:
        """A copy with ``changes`` (checked again)."""
        return attrs.evolve(self, **changes)


def read_jwks(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A JSON Web Key Set file, as a dict (ConfigError naming the file if unreadable)."""
    try:
        data: object = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"cannot read the JWKS file {os.fspath(path)!r}: {exc}"
        raise ConfigError(msg) from None
    if not isinstance(data, dict):
        msg = f"the JWKS file {os.fspath(path)!r} is not a JSON object"
        raise ConfigError(msg)
    return cast("dict[str, Any]", data)


_KEYS: dict[str, str] = {
    "host": "a string",
    "port": "an integer",
    "public_url": "a string",
    "ruleset": "a string",
    "jwks": "a string",
    "jku": "a list of strings",
    "issuers": "a list of strings",
    "clinic_timezone": "a string",
    "session_codes": "a list of strings",
    "cors_origins": "a list of strings",
    "store": "a string",
}


def _check_setting(key: str, value: object) -> None:
    kind = _KEYS[key]
    if kind == "an integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "a string":
        ok = isinstance(value, str)
    else:
        ok = isinstance(value, list) and all(
            isinstance(v, str) for v in cast("list[object]", value)
        )
    if not ok:
        msg = f"config: {key} must be {kind}, not {value!r}"
        raise ConfigError(msg)


def config_from_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The settings of a TOML config file, as ``ServiceConfig`` keyword arguments.

    Paths in it (``ruleset``, ``jwks``, ``store``) are relative to the file's folder.
    """
    from ketamine_guidance._rules.loader import read_ruleset_data

    base = Path(path).parent
    try:
        data = read_ruleset_data(path)  # the same size-capped TOML reading as rulesets
    except GuidanceError as exc:
        msg = f"cannot read the config file: {exc}"
        raise ConfigError(msg) from None
    if not isinstance(data, dict):  # pragma: no cover (TOML always gives a table)
        msg = "the config file must be a TOML table"
        raise ConfigError(msg)
    table = cast("dict[str, object]", data)
    settings: dict[str, Any] = {}
    for key, value in table.items():
        if key not in _KEYS:
            msg = f"config: unknown key {key!r} (allowed: {', '.join(_KEYS)})"
            raise ConfigError(msg)
        _check_setting(key, value)
        settings[key] = value
    return _resolve(settings, base)


def _resolve(settings: dict[str, Any], base: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if key == "ruleset":
            out["ruleset"] = load_ruleset(base / value)
        elif key == "jwks":
            out["jwks"] = read_jwks(base / value)
        elif key == "store":
            out["store"] = base / value
        elif key == "jku":
            out["jku_allow"] = tuple(value)
        elif key == "session_codes":
            out["session_codes"] = tuple(parse_code(v) for v in value)
        elif key in ("issuers", "cors_origins"):
            out[key] = tuple(value)
        else:
            out[key] = value
    return out
