"""Versioned JSON documents of plans, decisions and timeline entries.

Every document is a plain ``dict`` that ``json.dumps`` writes as is, tagged with
``"schema": "ketamine-guidance/<kind>/v1"`` and described by a JSON Schema (draft
2020-12) file in ``ketamine_guidance/schemas/``.

Plans, decisions and timeline entries are *views*: each instant is written twice (in
the patient's zone and in UTC), with the zone's IANA name and the tz database version
stated once per document.  Those are assembled here by hand.  The documents of the rule
model (rules, advice, rulesets) live with their classes in ``_rules``.

This module sits in the engine layer beside ``plan.py``: the plan classes' ``to_dict``
methods import it on first use, and it names those classes only for type checking, so
no import runs in a circle.
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
import zoneinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ketamine_guidance._engine.session import Session, zone_name
from ketamine_guidance._engine.windows import UTC
from ketamine_guidance._rules.model import advice_data, schema_id, source_data
from ketamine_guidance._rules.ruleset import ruleset_summary_dict

if TYPE_CHECKING:
    from ketamine_guidance._engine.plan import AftercarePlan, Decision, Override, TimelineEntry

__all__ = [
    "decision_dict",
    "iso",
    "plan_dict",
    "timeline_entry_dict",
    "tzdb_info",
    "zoneinfo_source",
]


# Instants and the tz database


def iso(moment: dt.datetime) -> str:
    """An aware datetime as RFC 3339 text (ISO 8601 with its UTC offset).

    RFC 3339, FHIR and iCalendar offsets are whole minutes.  A local mean time offset
    such as +05:53:28 (zones before about 1900) cannot be written that way, so such an
    instant is written in UTC instead: the instant is kept, the wall reading is not.

    >>> iso(dt.datetime(2026, 11, 26, 6, tzinfo=dt.timezone(dt.timedelta(hours=-5))))
    '2026-11-26T06:00:00-05:00'
    >>> iso(dt.datetime(1890, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, seconds=28))))
    '1889-12-31T18:59:32+00:00'
    """
    offset = moment.utcoffset()
    if offset is not None and offset % dt.timedelta(minutes=1):
        moment = moment.astimezone(UTC)
    return moment.isoformat()


def _version_in(directory: str) -> str | None:
    """The tz database version of a system zoneinfo folder, if it says."""
    folder = Path(directory)
    try:
        version = (folder / "+VERSION").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        version = ""
    if version:
        return version
    try:
        with (folder / "tzdata.zi").open(encoding="ascii") as zi:
            first = zi.readline().split()
    except (OSError, UnicodeDecodeError):
        return None
    return first[2] if first[:2] == ["#", "version"] and len(first) == 3 else None


@functools.cache
def _system_version(directory: str) -> str | None:
    return _version_in(directory)


@functools.cache
def zoneinfo_source(key: str) -> tuple[str, str | None]:
    """Where ``zoneinfo.ZoneInfo(key)`` reads its data: the first TZPATH folder that has
    the zone (the system database), else the ``tzdata`` package, as zoneinfo itself does."""
    for directory in zoneinfo.TZPATH:
        if (Path(directory) / key).is_file():
            return "system", _system_version(directory)
    import importlib

    tzdata = importlib.import_module("tzdata")  # a dependency; untyped, hence by name
    return "tzdata", str(tzdata.IANA_VERSION)


def tzdb_info(tz: dt.tzinfo) -> dict[str, str | None]:
    """Which tz database answered for ``tz``: ``{"source": ..., "version": ...}``.

    ``source`` is ``system`` (the operating system's zoneinfo, version from its
    ``+VERSION`` or ``tzdata.zi`` file), ``tzdata`` (the ``tzdata`` package,
    ``tzdata.IANA_VERSION``), ``pytz`` (``pytz.OLSON_VERSION``), ``none`` (UTC or a fixed
    offset: no database is involved) or ``unknown``; ``version`` is None where it cannot
    be told.  zoneinfo prefers the system database to the ``tzdata`` package, so the
    package's version alone would often name a database that was not used.
    """
    if isinstance(tz, zoneinfo.ZoneInfo):
        # ZoneInfo.from_file gives no key (typeshed says str): no way to tell.
        if tz.key is None:  # pyright: ignore[reportUnnecessaryComparison]
            return {"source": "unknown", "version": None}
        source, version = zoneinfo_source(tz.key)
        return {"source": source, "version": version}
    if isinstance(tz, dt.timezone):
        return {"source": "none", "version": None}
    pytz = sys.modules.get("pytz")
    if pytz is not None and type(tz).__module__.startswith("pytz"):
        return {"source": "pytz", "version": str(pytz.OLSON_VERSION)}
    filename = getattr(tz, "_filename", None)  # dateutil.tz.tzfile, read from a folder
    if isinstance(filename, str):
        for directory in zoneinfo.TZPATH:
            if filename.startswith(directory.rstrip("/") + "/"):
                return {"source": "system", "version": _system_version(directory)}
    return {"source": "unknown", "version": None}


def _zone_header(tz: dt.tzinfo) -> dict[str, Any]:
    return {"timezone": zone_name(tz), "tzdb": tzdb_info(tz)}


def _pair(name: str, moment: dt.datetime | None, tz: dt.tzinfo) -> dict[str, str | None]:
    """An instant written twice: in the patient's zone and in UTC."""
    if moment is None:
        return {name: None, f"{name}_utc": None}
    return {name: iso(moment.astimezone(tz)), f"{name}_utc": iso(moment.astimezone(UTC))}


# Views: decisions, timeline entries, plans


def _override(ov: Override, tz: dt.tzinfo) -> dict[str, Any]:
    return {
        "activity": ov.activity,
        "status": ov.status.value,
        **_pair("effective_from", ov.effective_from_utc, tz),
        **_pair("until", ov.until_utc, tz),
        "clinician": ov.clinician,
        "clinician_id": ov.clinician_id,
        "note": ov.note,
    }


def _session(session: Session) -> dict[str, Any]:
    return _pair("ended_at", session.ended_at_utc, session.timezone)


def _decision(decision: Decision) -> dict[str, Any]:
    tz = decision.session.timezone
    return {
        "activity": decision.activity,
        "label": decision.label,
        **_pair("at", decision.at, tz),
        "status": decision.status.value,
        "permitted": decision.permitted,
        **_pair("permitted_from", decision.permitted_from_utc, tz),
        "reason": decision.reason,
        "source": source_data(decision.source),
        "override": None if decision.override is None else _override(decision.override, tz),
    }


def decision_dict(decision: Decision, at: dt.datetime | None = None) -> dict[str, Any]:
    """A decision as a ``ketamine-guidance/decision/v1`` document.

    ``at`` is the instant the decision answers; by default the decision's own ``at``.
    """
    if at is not None:
        import attrs

        decision = attrs.evolve(decision, at=at)
    session = decision.session
    return {
        "schema": schema_id("decision"),
        **_zone_header(session.timezone),
        "session": _session(session),
        **_decision(decision),
    }


def _entry(entry: TimelineEntry, tz: dt.tzinfo) -> dict[str, Any]:
    return {
        "activity": entry.activity,
        "label": entry.label,
        "status_until_lift": entry.status_until_lift.value,
        **_pair("permitted_from", entry.permitted_from_utc, tz),
        "reason": entry.reason,
        "source": source_data(entry.source),
        "clinician_adjustable": entry.clinician_adjustable,
        "overrides": [_override(o, tz) for o in entry.overrides],
    }


def timeline_entry_dict(entry: TimelineEntry) -> dict[str, Any]:
    """A timeline entry as a ``ketamine-guidance/timeline-entry/v1`` document.

    An entry does not know its session, so its instants are written in the zone of
    ``permitted_from`` (the session's zone); a never-lifting entry uses UTC.
    """
    tz = UTC if entry.permitted_from is None else entry.permitted_from.tzinfo
    assert tz is not None  # noqa: S101  (permitted_from is aware by construction)
    return {"schema": schema_id("timeline-entry"), **_zone_header(tz), **_entry(entry, tz)}


def plan_dict(plan: AftercarePlan, at: dt.datetime | None = None) -> dict[str, Any]:
    """A plan as a ``ketamine-guidance/plan/v1`` document.

    With ``at``, the document also lists every activity's decision at that instant.
    """
    tz = plan.session.timezone
    document: dict[str, Any] = {
        "schema": schema_id("plan"),
        **_zone_header(tz),
        "ruleset": ruleset_summary_dict(plan.ruleset),
        "session": _session(plan.session),
        "timeline": [_entry(e, tz) for e in plan.timeline()],
        "advice": [advice_data(a) for a in plan.ruleset.advice],
    }
    if at is not None:
        document["decisions"] = [_decision(d) for d in plan.decisions_at(at)]
    return document
