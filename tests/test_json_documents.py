"""The versioned JSON documents: contents, schemas, the tz database, round trips."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import subprocess
import sys
import zoneinfo
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given

from ketamine_guidance import (
    Decision,
    Ruleset,
    RulesetError,
    Session,
    Source,
    Status,
    default_ruleset,
    load_ruleset,
    plan_for,
)
from ketamine_guidance._cli import main
from ketamine_guidance._engine.documents import iso, tzdb_info, zoneinfo_source
from tests import strategies
from tests.interop_fixtures import CLINIC_DATA, UTC, clinic_plan, clinic_ruleset
from tests.schema_check import validate

AT = dt.datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 21:00 EST, the evening of the session


def _overridden() -> Any:
    return clinic_plan().with_override(
        "flying",
        status=Status.PERMITTED,
        effective_from=dt.datetime(2026, 11, 26, 15, 0, tzinfo=UTC),
        clinician="Dr Rivera",
        note="short flight, travelling with a carer",
    )


# Contents


def test_decision_document_states_instants_in_both_zones() -> None:
    doc = validate(clinic_plan().check("driving", AT).to_dict())
    assert doc["schema"] == "ketamine-guidance/decision/v1"
    assert doc["timezone"] == "America/New_York"
    assert doc["at"] == "2026-11-25T21:00:00-05:00"
    assert doc["at_utc"] == "2026-11-26T02:00:00+00:00"
    assert doc["session"] == {
        "ended_at": "2026-11-25T18:30:00-05:00",
        "ended_at_utc": "2026-11-25T23:30:00+00:00",
    }
    # The clinic's next day begins at 07:00 local time.
    assert doc["permitted_from"] == "2026-11-26T07:00:00-05:00"
    assert doc["permitted_from_utc"] == "2026-11-26T12:00:00+00:00"
    assert (doc["status"], doc["permitted"], doc["override"]) == ("not_permitted", False, None)


def test_never_lifting_decision_has_null_instants() -> None:
    doc = validate(clinic_plan().check("recreational_drugs", AT).to_dict())
    assert doc["permitted_from"] is None
    assert doc["permitted_from_utc"] is None


def test_decision_built_by_hand_has_no_instant() -> None:
    session = Session(dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC), "Europe/Paris")
    decision = Decision(
        activity="driving",
        label="Driving",
        status=Status.PERMITTED,
        permitted_from=None,
        permitted_from_utc=None,
        reason="Fine.",
        source=Source("A sheet", "A section"),
        session=session,
    )
    doc = validate(decision.to_dict())
    assert (doc["at"], doc["at_utc"], doc["timezone"]) == (None, None, "Europe/Paris")


def test_override_is_written_with_who_when_and_note() -> None:
    plan = _overridden()
    doc = validate(plan.check("flying", dt.datetime(2026, 11, 26, 16, tzinfo=UTC)).to_dict())
    assert doc["status"] == "permitted"
    assert doc["override"] == {
        "activity": "flying",
        "status": "permitted",
        "effective_from": "2026-11-26T10:00:00-05:00",
        "effective_from_utc": "2026-11-26T15:00:00+00:00",
        "until": None,
        "until_utc": None,
        "clinician": "Dr Rivera",
        "clinician_id": None,
        "note": "short flight, travelling with a carer",
    }
    entry = next(e for e in plan.timeline() if e.activity == "flying")
    entry_doc = validate(entry.to_dict())
    assert entry_doc["overrides"] == [doc["override"]]
    assert entry_doc["permitted_from_utc"] == "2026-11-26T15:00:00+00:00"


def test_override_until_and_clinician_id_are_carried_into_documents() -> None:
    plan = clinic_plan().with_override(
        "flying",
        status="permitted",
        effective_from=dt.datetime(2026, 11, 26, 15, 0, tzinfo=UTC),
        until=dt.datetime(2026, 11, 26, 21, 0, tzinfo=UTC),
        clinician="Dr Rivera",
        clinician_id="Practitioner/rivera-1",
        note="short flight, travelling with a carer",
    )
    doc = validate(plan.check("flying", dt.datetime(2026, 11, 26, 16, tzinfo=UTC)).to_dict())
    override = doc["override"]
    assert (override["until"], override["until_utc"]) == (
        "2026-11-26T16:00:00-05:00",
        "2026-11-26T21:00:00+00:00",
    )
    assert override["clinician_id"] == "Practitioner/rivera-1"
    after = validate(plan.check("flying", dt.datetime(2026, 11, 26, 21, tzinfo=UTC)).to_dict())
    assert after["override"] is None
    entry = next(e for e in plan.timeline() if e.activity == "flying")
    assert validate(entry.to_dict())["overrides"] == [override]


def test_plan_document_lists_timeline_advice_and_decisions() -> None:
    plan = _overridden()
    doc = validate(plan.to_dict())
    assert "decisions" not in doc
    assert [e["activity"] for e in doc["timeline"]] == [e.activity for e in plan.timeline()]
    assert [a["id"] for a in doc["advice"]] == ["nausea", "journal"]
    assert doc["advice"][0]["actions"] == ["Sip water", "Lie down"]
    assert doc["ruleset"] == {"id": "clinic", "version": "3", "title": "Clinic aftercare"}
    with_at = validate(plan.to_dict(AT))
    assert [d["activity"] for d in with_at["decisions"]] == list(plan.ruleset.activities)
    assert {d["at_utc"] for d in with_at["decisions"]} == {"2026-11-26T02:00:00+00:00"}
    assert {k: v for k, v in with_at.items() if k != "decisions"} == doc


def test_timeline_entry_of_a_never_lifting_rule_uses_utc() -> None:
    entry = next(e for e in clinic_plan().timeline() if e.activity == "recreational_drugs")
    doc = validate(entry.to_dict())
    assert (doc["timezone"], doc["tzdb"]) == ("UTC", {"source": "none", "version": None})
    assert doc["permitted_from"] is None


def test_advice_document() -> None:
    advice = clinic_ruleset().advice[0]
    doc = validate(advice.to_dict())
    assert doc == {
        "schema": "ketamine-guidance/advice/v1",
        **{k: v for k, v in CLINIC_DATA["advice"][0].items() if k != "examples"},
        "examples": [],
    }


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"])
def test_every_document_of_the_default_plan_validates(zone: str) -> None:
    plan = plan_for(Session(dt.datetime(2026, 3, 8, 6, 30, tzinfo=UTC), zone))
    at = dt.datetime(2026, 3, 8, 12, tzinfo=UTC)
    validate(plan.to_dict())
    validate(plan.to_dict(at))
    for decision in plan.decisions_at(at):
        validate(decision.to_dict())
    for entry in plan.timeline():
        validate(entry.to_dict())
    for advice in plan.ruleset.advice:
        validate(advice.to_dict())
    validate(plan.ruleset.to_dict())


def test_a_fixed_offset_session_has_no_zone_name() -> None:
    tz = dt.timezone(dt.timedelta(hours=-3))
    plan = plan_for(Session(dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC), tz))
    doc = validate(plan.to_dict())
    assert (doc["timezone"], doc["tzdb"]) == (None, {"source": "none", "version": None})
    assert doc["session"]["ended_at"] == "2026-11-25T20:30:00-03:00"


def test_an_offset_in_seconds_is_written_in_utc() -> None:
    lmt = dt.timezone(dt.timedelta(hours=-4, minutes=-56, seconds=-2))
    moment = dt.datetime(1880, 6, 1, 12, tzinfo=lmt)
    assert iso(moment) == "1880-06-01T16:56:02+00:00"
    plan = plan_for(Session(dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC), lmt))
    assert validate(plan.to_dict())["session"]["ended_at"] == "2026-11-25T23:30:00+00:00"


# The tz database in use


@pytest.fixture
def tzpath() -> Iterator[None]:
    """Lets a test point zoneinfo at its own folders; restores the default after."""
    zoneinfo_source.cache_clear()
    yield
    zoneinfo.reset_tzpath()
    zoneinfo_source.cache_clear()


def _fake_system(folder: Path, **files: str) -> str:
    zone = resources.files("tzdata").joinpath("zoneinfo/America/New_York")
    (folder / "America").mkdir(parents=True)
    (folder / "America" / "New_York").write_bytes(zone.read_bytes())
    for name, text in files.items():
        (folder / name).write_text(text, encoding="ascii")
    return str(folder)


@pytest.mark.usefixtures("tzpath")
@pytest.mark.parametrize(
    ("files", "version"),
    [
        ({"+VERSION": "2099z\n"}, "2099z"),
        ({"tzdata.zi": "# version 2098a\nR x 1 2 - 3 4 5 6\n"}, "2098a"),
        ({"+VERSION": "\n", "tzdata.zi": "# version 2097b\n"}, "2097b"),
        ({"tzdata.zi": "# something else\n"}, None),
        ({}, None),
    ],
)
def test_system_database_version(tmp_path: Path, files: dict[str, str], version: str) -> None:
    zoneinfo.reset_tzpath([_fake_system(tmp_path, **files)])
    tz = zoneinfo.ZoneInfo("America/New_York")
    assert tzdb_info(tz) == {"source": "system", "version": version}


@pytest.mark.usefixtures("tzpath")
def test_tzdata_package_when_the_system_has_no_zone(tmp_path: Path) -> None:
    import tzdata  # type: ignore[import-untyped]

    zoneinfo.reset_tzpath([str(tmp_path)])
    info = tzdb_info(zoneinfo.ZoneInfo("America/New_York"))
    assert info == {"source": "tzdata", "version": tzdata.IANA_VERSION}


def test_other_tzinfo_flavours() -> None:
    import dateutil.tz
    import pytz

    assert tzdb_info(pytz.timezone("Europe/Paris")) == {
        "source": "pytz",
        "version": pytz.OLSON_VERSION,  # type: ignore[attr-defined]
    }
    assert tzdb_info(UTC) == {"source": "none", "version": None}
    assert tzdb_info(dateutil.tz.tzlocal())["source"] == "unknown"
    tzdata_file = resources.files("tzdata").joinpath("zoneinfo/Europe/Paris")
    with tzdata_file.open("rb") as raw:
        assert tzdb_info(zoneinfo.ZoneInfo.from_file(raw)) == {
            "source": "unknown",
            "version": None,
        }
    system = Path(zoneinfo.TZPATH[0]) / "Europe" / "Paris" if zoneinfo.TZPATH else None
    if system is None or not system.is_file():
        pytest.skip("no system tz database on this machine")
    tz = dateutil.tz.tzfile(str(system))
    assert tzdb_info(tz)["source"] == "system"
    outside = dateutil.tz.tzfile(io.BytesIO(system.read_bytes()), filename="/elsewhere/Paris")
    assert tzdb_info(outside)["source"] == "unknown"


# Rulesets: documents that load back


@given(strategies.valid_rulesets)
def test_ruleset_round_trip(ruleset: Ruleset) -> None:
    document = validate(ruleset.to_dict())
    assert Ruleset.from_dict(json.loads(json.dumps(document))) == ruleset


@pytest.mark.parametrize("make", [default_ruleset, clinic_ruleset])
def test_ruleset_document_loads_back_from_a_json_file(make: Any, tmp_path: Path) -> None:
    ruleset = make()
    path = tmp_path / "ruleset.json"
    path.write_text(json.dumps(validate(ruleset.to_dict())), encoding="utf-8")
    assert load_ruleset(path) == ruleset


def test_ruleset_document_writes_optional_fields_only_when_set() -> None:
    doc = clinic_ruleset().to_dict()
    assert doc["reviewed_on"] == "2026-01-15"
    assert doc["next_day_begins"] == "07:00"
    assert doc["rules"][1]["until"] == {"latest_of": ["next_day", {"hours": 24}]}
    assert doc["rules"][3]["until"] == {"day": 2, "at": "09:30"}
    bare = attrs.evolve(clinic_ruleset(), contact=None, reviewed_by=None, reviewed_on=None)
    assert not {"contact", "reviewed_by", "reviewed_on", "effective_from"} & set(bare.to_dict())


@pytest.mark.parametrize("tag", ["ketamine-guidance/ruleset/v2", "ketamine-guidance/plan/v1", 1])
def test_loader_refuses_another_schema_tag(tag: object) -> None:
    data = {**CLINIC_DATA, "schema": tag}
    with pytest.raises(RulesetError, match=r"schema: must be 'ketamine-guidance/ruleset/v1'"):
        Ruleset.from_dict(data)


# The command line prints the same documents


def _run(*argv: str) -> dict[str, Any]:
    out = io.StringIO()
    assert main(list(argv), out=out) in (0, 1)
    document: dict[str, Any] = json.loads(out.getvalue())
    return validate(document)


SESSION = ("--ended-at", "2026-11-25T23:30:00Z", "--timezone", "America/New_York")


@pytest.mark.parametrize("ruleset", [None, "clinic"])
def test_cli_json_outputs_validate(ruleset: str | None, tmp_path: Path) -> None:
    extra: tuple[str, ...] = ()
    if ruleset is not None:
        path = tmp_path / "clinic.json"
        path.write_text(json.dumps(CLINIC_DATA), encoding="utf-8")
        extra = ("--ruleset", str(path))
    plan = _run("plan", *SESSION, *extra, "--format", "json")
    rules = _run("rules", *extra, "--format", "json")
    check = _run(
        "check", "driving", *SESSION, "--at", "2026-11-26T02:00Z", *extra, "--format", "json"
    )
    export = _run("export", *SESSION, *extra, "--format", "json")
    export_at = _run("export", *SESSION, *extra, "--format", "json", "--at", "2026-11-26T02:00Z")
    expected = clinic_plan() if ruleset else plan_for(Session(AT, "America/New_York"))
    assert plan == export
    assert rules == expected.ruleset.to_dict()
    assert check["at_utc"] == "2026-11-26T02:00:00+00:00"
    assert export_at["decisions"][0] == {
        k: v for k, v in check.items() if k in export_at["decisions"][0]
    }


def test_import_loads_no_optional_dependency() -> None:
    code = (
        "import sys, ketamine_guidance; "
        "print(sorted(m for m in ('cattrs', 'jsonschema', 'icalendar') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_shipped_schemas_are_valid_draft_2020_12() -> None:
    import jsonschema

    folder = resources.files("ketamine_guidance").joinpath("schemas")
    names = sorted(item.name for item in folder.iterdir() if item.name.endswith(".json"))
    assert len(names) >= 6
    for name in names:
        schema = json.loads(folder.joinpath(name).read_text("utf-8"))
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        jsonschema.Draft202012Validator.check_schema(schema)


# The ruleset digest: which rules produced a document


_TINY = {
    "id": "tiny",
    "version": "1",
    "title": "Tiny",
    "rules": [
        {
            "activity": "driving",
            "label": "Driving",
            "until": {"hours": 24},
            "reason": "Wait a day.",
            "source": {"title": "T", "section": "S"},
        }
    ],
}


def test_the_digest_is_pinned_for_a_small_ruleset_on_every_python():
    # Pinned: a change here means every stored digest changes; say so in the changelog.
    assert Ruleset.from_dict(_TINY).digest == (
        "sha256:2757a1136a3a1fe463b0a19dac4f0b566e347ffc588013b3651a722510a595e0"
    )


def test_the_digest_is_the_sha256_of_the_sorted_compact_document():
    document = Ruleset.from_dict(_TINY).to_dict()
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert '"until":{"hours":24}' in canonical
    expected = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert Ruleset.from_dict(_TINY).digest == f"sha256:{expected}"


def test_the_digest_ignores_layout_and_order_but_not_content(tmp_path: Path):
    reordered = dict(reversed(list(_TINY.items())))
    as_toml = tmp_path / "tiny.toml"
    as_toml.write_text(
        '# a comment\ntitle = "Tiny"\nversion = "1"\nid = "tiny"\n\n[[rules]]\n'
        'reason = "Wait a day."\nlabel = "Driving"\nactivity = "driving"\n'
        'until = { hours = 24 }\nsource = { section = "S", title = "T" }\n',
        encoding="utf-8",
    )
    digests = {
        Ruleset.from_dict(_TINY).digest,
        Ruleset.from_dict(reordered).digest,
        load_ruleset(as_toml).digest,
    }
    assert len(digests) == 1
    changed = {**_TINY, "rules": [{**_TINY["rules"][0], "reason": "Wait a day!"}]}  # type: ignore[dict-item]
    assert Ruleset.from_dict(changed).digest not in digests
    assert default_ruleset().digest.startswith("sha256:")
    assert len(default_ruleset().digest) == len("sha256:") + 64
