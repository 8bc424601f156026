"""``import ketamine_guidance`` loads the rules, sessions and plans; the rest on first use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import ketamine_guidance as kg

CORE = {
    "ketamine_guidance._engine.plan",
    "ketamine_guidance._engine.session",
    "ketamine_guidance._rules.model",
    "ketamine_guidance._rules.ruleset",
}
LATER = {
    "ketamine_guidance._engine.batch",
    "ketamine_guidance._engine.course",
    "ketamine_guidance._engine.diff",
    "ketamine_guidance._formats.exports",
    "ketamine_guidance._formats.sheet",
    "ketamine_guidance._rules.loader",
    "zoneinfo",
}


def loaded_after(code: str) -> set[str]:
    """The modules loaded in a fresh interpreter after running ``code``."""
    probe = f"import sys\n{code}\nimport json\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(done.stdout))


def test_the_import_loads_the_core_and_nothing_heavier() -> None:
    loaded = loaded_after("import ketamine_guidance")
    assert loaded >= CORE
    assert not loaded & LATER


def test_a_lazy_name_loads_its_module_and_works() -> None:
    loaded = loaded_after(
        "import datetime as dt, ketamine_guidance as kg\n"
        "s = kg.Session(dt.datetime(2026, 3, 7, 23, 30, tzinfo=dt.timezone.utc), 'Asia/Tokyo')\n"
        "assert kg.lift_times([s]).column('driving')[0].isoformat() == '2026-03-08T21:00:00+00:00'"
    )
    assert "ketamine_guidance._engine.batch" in loaded
    assert "ketamine_guidance._formats.sheet" not in loaded


@pytest.mark.parametrize("name", kg.__all__)
def test_every_public_name_resolves_and_is_listed(name: str) -> None:
    assert getattr(kg, name) is getattr(kg, name)
    assert name in dir(kg)


def test_an_unknown_name_is_an_attribute_error_that_names_it() -> None:
    with pytest.raises(AttributeError, match="module 'ketamine_guidance' has no attribute 'plan'"):
        kg.plan  # type: ignore[attr-defined]  # noqa: B018
    assert not hasattr(kg, "_LAZY_NOT_A_NAME")


def test_a_fixed_offset_zone_needs_no_tz_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before zoneinfo is loaded, no zone can be a ZoneInfo: the check does not load it."""
    import datetime as dt

    monkeypatch.delitem(sys.modules, "zoneinfo")
    plus_three = dt.timezone(dt.timedelta(hours=3), "Plus three")
    ended = dt.datetime(2026, 3, 7, 23, 30, tzinfo=dt.timezone.utc)
    assert kg.Session(ended, plus_three).timezone is plus_three
    assert "zoneinfo" not in sys.modules
