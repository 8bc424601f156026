"""A CDS Hooks 2.0 service an EHR can call: ``ketamine-guidance serve``, or embed it.

Needs the ``service`` extra (``pip install 'ketamine-guidance[service]'``: Starlette,
uvicorn, httpx and joserfc).  ``import ketamine_guidance`` never imports this package.

>>> from ketamine_guidance.service import ServiceConfig
>>> config = ServiceConfig(port=8080, issuers=("https://ehr.example.org",))
>>> config.base_url
'http://127.0.0.1:8080'

.. versionadded:: 0.2.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ketamine_guidance._errors import MissingExtraError
from ketamine_guidance.service._config import (
    DEFAULT_SESSION_CODE,
    ConfigError,
    ServiceConfig,
    config_from_toml,
)
from ketamine_guidance.service._fhir import TIMEZONE_EXTENSION

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = [
    "DEFAULT_SESSION_CODE",
    "TIMEZONE_EXTENSION",
    "ConfigError",
    "ServiceConfig",
    "config_from_toml",
    "create_app",
]


def create_app(config: ServiceConfig) -> Starlette:
    """The service as an ASGI application (Starlette), for uvicorn or any ASGI server.

    Opens (or creates) the SQLite store named by ``config.store``.  Raises
    :class:`~ketamine_guidance.MissingExtraError` when the ``service`` extra is missing.

    .. versionadded:: 0.2.0
    """
    if not isinstance(config, ServiceConfig):
        msg = f"config must be a ServiceConfig, not {type(config).__name__}"
        raise TypeError(msg)
    try:
        from ketamine_guidance.service._app import build_app
    except ImportError as exc:
        msg = (
            f"the CDS Hooks service needs the optional {exc.name or 'web'} package: "
            "pip install 'ketamine-guidance[service]'"
        )
        raise MissingExtraError(msg) from None
    return build_app(config)
