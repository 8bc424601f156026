"""`ketamine-guidance serve` and the service's configuration (issue 15)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from ketamine_guidance import Code, MissingExtraError, UnknownTimezoneError
from ketamine_guidance._cli import main
from ketamine_guidance.service import (
    DEFAULT_SESSION_CODE,
    ConfigError,
    ServiceConfig,
    config_from_toml,
    create_app,
)
from tests.service_support import Ehr, free_socket

ROOT = Path(__file__).resolve().parent.parent


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    import uvicorn

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    return calls


def write_config(tmp_path: Path, text: str) -> Path:
    (tmp_path / "keys.json").write_text(json.dumps(Ehr().jwks()), "utf-8")
    path = tmp_path / "service.toml"
    path.write_text(text, "utf-8")
    return path


CONFIG = """
host = "127.0.0.1"
port = 9001
public_url = "https://cds.example.org/"
ruleset = "clinic.toml"
jwks = "keys.json"
jku = ["https://ehr.example.org/jwks.json"]
issuers = ["https://ehr.example.org"]
clinic_timezone = "America/Chicago"
session_codes = ["http://snomed.info/sct|123", "urn:clinic|ketamine"]
cors_origins = ["https://sandbox.cds-hooks.org"]
store = "data/store.sqlite3"
"""


def test_serve_reads_the_config_file_and_the_options_win(
    tmp_path: Path, served: list[tuple[Any, dict[str, Any]]]
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "clinic.toml").write_text(
        'extends = "default"\nid = "c"\nversion = "1"\ntitle = "C"\n'
    )
    path = write_config(tmp_path, CONFIG)
    status, out, err = run(
        "serve", "--config", str(path), "--port", "9002", "--issuer", "https://b"
    )
    assert (status, err) == (0, "")
    assert "http://127.0.0.1:9002/cds-services" in out
    assert "public URL https://cds.example.org" in out
    ((app, kwargs),) = served
    assert kwargs["host"] == "127.0.0.1"
    assert kwargs["port"] == 9002
    config: ServiceConfig = app.state.service.config
    assert config.public_url == "https://cds.example.org"
    assert config.ruleset.id == "c"
    assert config.issuers == ("https://b",)
    assert config.jku_allow == ("https://ehr.example.org/jwks.json",)
    assert config.jwks is not None
    assert config.clinic_timezone == "America/Chicago"
    assert config.session_codes == (
        Code("http://snomed.info/sct", "123"),
        Code("urn:clinic", "ketamine"),
    )
    assert config.cors_origins == ("https://sandbox.cds-hooks.org",)
    assert config.store == tmp_path / "data" / "store.sqlite3"
    assert (tmp_path / "data" / "store.sqlite3").exists()


def test_serve_options_alone(tmp_path: Path, served: list[tuple[Any, dict[str, Any]]]) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(Ehr().jwks()), "utf-8")
    ruleset = ROOT / "docs" / "examples" / "clinic-24-hours.toml"
    status, _, err = run(
        "serve",
        "--host", "127.0.0.1",
        "--ruleset", str(ruleset),
        "--jwks", str(keys),
        "--jku", "https://ehr.example.org/jwks.json",
        "--issuer", "https://a",
        "--public-url", "https://x.example.org",
        "--clinic-timezone", "Asia/Kathmandu",
        "--session-code", "urn:a|b",
        "--cors-origin", "https://o.example.org",
        "--store", str(tmp_path / "s.sqlite3"),
    )  # fmt: skip
    assert (status, err) == (0, "")
    config: ServiceConfig = served[0][0].state.service.config
    assert config.port == 8080
    assert config.session_codes == (Code("urn:a", "b"),)
    assert config.clinic_timezone == "Asia/Kathmandu"


def test_serve_warns_when_every_call_would_be_refused(
    tmp_path: Path, served: list[tuple[Any, dict[str, Any]]]
) -> None:
    status, _, err = run("serve", "--store", str(tmp_path / "s.sqlite3"))
    assert status == 0
    assert "every hook call will be refused" in err
    assert served


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 1\n", "unknown key 'colour'"),
        ("port = 'x'\n", "port must be an integer"),
        ("port = true\n", "port must be an integer"),
        ("host = 1\n", "host must be a string"),
        ("issuers = 'x'\n", "issuers must be a list of strings"),
        ("issuers = [1]\n", "issuers must be a list of strings"),
        ("session_codes = ['nobar']\n", "SYSTEM|CODE"),
        ("clinic_timezone = 'Mars/Base'\n", "unknown time zone"),
        ("public_url = 'ftp://x'\n", "public_url must be an http or https URL"),
        ("jku = ['nope']\n", "jku must be an http or https URL"),
        ("port = 70000\n", "port must be 0 to 65535"),
        ("jwks = 'missing.json'\n", "cannot read the JWKS file"),
        ("jwks = 'list.json'\n", "is not a JSON object"),
        ("jwks = 'nokeys.json'\n", "JSON Web Key Set"),
        ("ruleset = 'missing.toml'\n", "cannot read file"),
        ("not toml [", "cannot read the config file"),
    ],
)
def test_a_bad_config_is_one_line_and_exit_2(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "list.json").write_text("[]", "utf-8")
    (tmp_path / "nokeys.json").write_text("{}", "utf-8")
    path = write_config(tmp_path, text)
    status, out, err = run("serve", "--config", str(path), "--store", str(tmp_path / "s.sqlite3"))
    assert (status, out) == (2, "")
    assert message in err
    assert err.count("\n") == 1


def test_a_bad_option_is_one_line_and_exit_2(tmp_path: Path) -> None:
    status, _, err = run("serve", "--session-code", "x", "--store", str(tmp_path / "s"))
    assert status == 2
    assert "SYSTEM|CODE" in err
    status, _, err = run("serve", "--config", str(tmp_path / "none.toml"))
    assert status == 2
    assert "cannot read the config file" in err


def test_config_checks() -> None:
    with pytest.raises(ConfigError, match="at least one"):
        ServiceConfig(session_codes=())
    with pytest.raises(UnknownTimezoneError):
        ServiceConfig(clinic_timezone="Nowhere/Land")
    config = ServiceConfig(public_url="https://a.example.org/")
    assert config.base_url == "https://a.example.org"
    assert config.evolve(port=1).port == 1
    assert ServiceConfig().session_codes == (DEFAULT_SESSION_CODE,)
    with pytest.raises(TypeError, match="ServiceConfig"):
        create_app({})  # type: ignore[arg-type]


def test_config_from_toml_keeps_relative_paths_to_its_folder(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'store = "x.sqlite3"\nport = 1\n')
    assert config_from_toml(path) == {"store": tmp_path / "x.sqlite3", "port": 1}


def test_create_app_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "starlette.applications", None)
    monkeypatch.delitem(sys.modules, "ketamine_guidance.service._app", raising=False)
    with pytest.raises(MissingExtraError, match=r"ketamine-guidance\[service\]"):
        create_app(ServiceConfig())


def test_importing_the_library_or_the_config_does_not_import_the_web_packages() -> None:
    code = (
        "import sys, ketamine_guidance, ketamine_guidance.service; "
        "print(sorted(m for m in ('starlette', 'uvicorn', 'httpx', 'joserfc') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_one_command_starts_the_service(tmp_path: Path) -> None:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "ketamine_guidance", "serve",
            "--host", "127.0.0.1", "--port", str(port),
            "--store", str(tmp_path / "s.sqlite3"), "--issuer", "https://ehr.example.org",
            "--clinic-timezone", "America/New_York",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/cds-services", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        assert response.status_code == 200
        assert len(response.json()["services"]) == 3
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert b"Serving CDS Hooks" in out
    assert b"every hook call will be refused" in err
