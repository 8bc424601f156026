"""iCalendar reminders, read back by three independent parsers.

icalendar (which resolves a TZID itself), vobject (Radicale's parser, which reads the
VTIMEZONE) and ical.js under Node (Thunderbird's parser; run where npm is present) must
each put every event at the instant its restrictions lift, and every VTIMEZONE must
agree with the tz database over the events' span.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
import subprocess
import sys
import zlib
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import icalendar
import pytest
import recurring_ical_events  # type: ignore[import-untyped]
import vobject  # type: ignore[import-untyped]

from ketamine_guidance import (
    AftercarePlan,
    CoursePlan,
    ExportError,
    MissingExtraError,
    Ruleset,
    Session,
    Status,
    plan_for,
    plan_for_course,
    to_ical,
)
from ketamine_guidance._engine.windows import wall_instants
from ketamine_guidance._formats.ical import SCAN_STEP, transitions, vtimezone_lines
from tests.interop_fixtures import CLINIC_DATA, FOLD_DATA, UTC, clinic_plan, clinic_ruleset

NODE_DIR = Path(__file__).parent / "node"
STAMP = dt.datetime(2026, 12, 1, 9, tzinfo=UTC)


def _ceil(instant: dt.datetime) -> dt.datetime:
    return (
        instant.replace(microsecond=0) + dt.timedelta(seconds=1) if instant.microsecond else instant
    )


def _expected(plan: AftercarePlan | CoursePlan) -> set[dt.datetime]:
    """The distinct lift instants of the restrictions, rounded up to a whole second."""
    return {
        _ceil(e.permitted_from_utc)
        for e in plan.timeline()
        if e.status_until_lift is not Status.PERMITTED and e.permitted_from_utc is not None
    }


def _confirmed(calendar: icalendar.Calendar) -> list[Any]:
    return [e for e in calendar.walk("VEVENT") if str(e["status"]) == "CONFIRMED"]


# The named cases: DST changes, half-hour and 45-minute offsets, a skipped day


CASES: dict[str, tuple[dt.datetime, dt.tzinfo | str]] = {
    "new-york-spring": (dt.datetime(2026, 3, 7, 23, 0, tzinfo=UTC), "America/New_York"),
    "new-york-fall": (dt.datetime(2026, 10, 31, 20, 0, tzinfo=UTC), "America/New_York"),
    "lord-howe": (dt.datetime(2026, 4, 4, 10, 0, tzinfo=UTC), "Australia/Lord_Howe"),
    "apia-2011": (dt.datetime(2011, 12, 29, 5, 0, tzinfo=UTC), "Pacific/Apia"),
    "kathmandu": (dt.datetime(2026, 11, 25, 12, 15, tzinfo=UTC), "Asia/Kathmandu"),
    "santiago": (dt.datetime(2026, 4, 4, 23, 0, tzinfo=UTC), "America/Santiago"),
    "fixed-offset": (
        dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC),
        dt.timezone(dt.timedelta(hours=-5)),
    ),
    "sub-second": (dt.datetime(2026, 11, 25, 23, 30, 0, 250000, tzinfo=UTC), "America/New_York"),
}


def _case_plans() -> dict[str, AftercarePlan | CoursePlan]:
    plans: dict[str, AftercarePlan | CoursePlan] = {
        name: plan_for(Session(ended, zone), clinic_ruleset())
        for name, (ended, zone) in CASES.items()
    }
    plans["course"] = plan_for_course(
        [
            Session(dt.datetime(2026, 3, 5, 23, 0, tzinfo=UTC), "America/New_York"),
            Session(dt.datetime(2026, 3, 7, 23, 0, tzinfo=UTC), "America/New_York"),
        ],
        clinic_ruleset(),
    )
    plans["override"] = clinic_plan().with_override(
        "driving",
        status=Status.NOT_PERMITTED,
        effective_from=dt.datetime(2026, 11, 26, 2, tzinfo=UTC),
        clinician="Dr Rivera",
        note="still drowsy; reviewed by phone",
    )
    return plans


PLANS = _case_plans()


@pytest.fixture(scope="session")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("ical")
    files = {}
    for name, plan in PLANS.items():
        path = folder / f"{name}.ics"
        path.write_bytes(to_ical(plan, subject="Patient/123", stamp=STAMP))
        files[name] = path
    return files


def _span_samples(plan: AftercarePlan | CoursePlan, tz: dt.tzinfo) -> list[dt.datetime]:
    """UTC instants over the events' span: each transition and a second either side,
    every event's start and a second before it, and every six hours."""
    lifts = _expected(plan)
    start = min(lifts) - dt.timedelta(days=3)
    end = max(lifts) + dt.timedelta(days=3)
    samples = {
        start + dt.timedelta(hours=6 * i) for i in range(int((end - start) / dt.timedelta(hours=6)))
    }
    for instant, _, _ in transitions(tz, start, end):
        samples |= {instant - dt.timedelta(seconds=1), instant, instant + dt.timedelta(seconds=1)}
    samples |= lifts | {x - dt.timedelta(seconds=1) for x in lifts}
    return sorted(samples)


def _first_instant(wall: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The instant RFC 5545 means by a wall time in a zone: the first, in a fold."""
    return min(wall_instants(wall, tz))


def _unambiguous(wall: dt.datetime, tz: dt.tzinfo) -> bool:
    """Whether a wall time means one instant: the only ones written with a TZID (parsers
    differ on a fold's wall times, so the library writes those in UTC)."""
    return len(wall_instants(wall, tz)) == 1


@pytest.mark.parametrize("name", list(PLANS))
def test_icalendar_puts_every_event_at_its_lift_instant(
    name: str, exports: dict[str, Path]
) -> None:
    data = exports[name].read_bytes()
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only, never a bare LF or CR
    assert b"\r" not in data.replace(b"\r\n", b"")
    calendar = icalendar.Calendar.from_ical(data)
    events = _confirmed(calendar)
    starts = [e.decoded("dtstart") for e in events]
    assert sorted(starts) == sorted(_expected(PLANS[name]))  # one event per distinct instant
    assert all(len(e.walk("VALARM")) == 1 for e in events)
    assert "METHOD" not in calendar
    assert str(calendar["X-KETAMINE-GUIDANCE-RULESET-DIGEST"]) == PLANS[name].ruleset.digest


@pytest.mark.parametrize("name", list(PLANS))
def test_recurring_ical_events_finds_every_reminder(name: str, exports: dict[str, Path]) -> None:
    calendar = icalendar.Calendar.from_ical(exports[name].read_bytes())
    lifts = _expected(PLANS[name])
    found = recurring_ical_events.of(calendar).between(
        min(lifts), max(lifts) + dt.timedelta(seconds=1)
    )
    starts = {e.decoded("dtstart") for e in found if str(e["status"]) == "CONFIRMED"}
    assert starts == lifts


def test_vobject_reads_every_file_in_one_process(exports: dict[str, Path]) -> None:
    # vobject reads the VTIMEZONE and keeps it by TZID across files: each must still
    # give the right instants after the others have been read.
    for name in [*PLANS, *reversed(PLANS)]:
        calendar = vobject.readOne(exports[name].read_text(encoding="utf-8"))
        starts = {
            e.dtstart.value.astimezone(UTC)
            for e in calendar.vevent_list
            if e.status.value == "CONFIRMED"
        }
        assert starts == _expected(PLANS[name]), name


@pytest.mark.parametrize("name", [n for n in PLANS if n != "fixed-offset"])
def test_the_vtimezone_agrees_with_the_tz_database(name: str, exports: dict[str, Path]) -> None:
    plan = PLANS[name]
    calendar = icalendar.Calendar.from_ical(exports[name].read_bytes())
    (vtz,) = calendar.walk("VTIMEZONE")
    tz = zoneinfo.ZoneInfo(str(vtz["TZID"]))
    theirs = vtz.to_tz()  # type: ignore[attr-defined]  # icalendar's own reading of the observances
    for instant in _span_samples(plan, tz):
        wall = instant.astimezone(tz).replace(tzinfo=None, fold=0)
        if not _unambiguous(wall, tz):
            continue
        assert wall.replace(tzinfo=theirs).astimezone(UTC) == _first_instant(wall, tz), instant


@pytest.fixture(scope="session")
def ical_js() -> Path:
    """tests/node installed with `npm ci` (its package-lock.json), or a clear skip."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("ical.js checks need Node.js and npm on PATH (CI installs them)")
    if not (NODE_DIR / "node_modules" / "ical.js").is_dir():
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR, capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        if result.returncode != 0:
            pytest.skip(f"npm ci failed in tests/node (offline?): {result.stderr.strip()[-300:]}")
    return Path(node)


def test_ical_js_agrees_on_every_event_and_vtimezone(
    ical_js: Path, exports: dict[str, Path], tmp_path: Path
) -> None:
    names = list(PLANS)
    walls: list[str] = []
    expected_walls: list[tuple[str, dt.datetime, dt.datetime]] = []
    for name in names:
        if name == "fixed-offset":
            continue
        zone = PLANS[name].timeline()[0].permitted_from
        assert zone is not None
        assert isinstance(zone.tzinfo, zoneinfo.ZoneInfo)
        tz = zone.tzinfo
        for instant in _span_samples(PLANS[name], tz):
            wall = instant.astimezone(tz).replace(tzinfo=None, fold=0)
            if not _unambiguous(wall, tz):
                continue
            walls.append(wall.isoformat())
            expected_walls.append((name, wall, _first_instant(wall, tz)))
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"files": [str(exports[n]) for n in names], "walls": walls}))
    result = subprocess.run(
        [str(ical_js), str(NODE_DIR / "read_ical.mjs"), str(request)],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    answers = dict(zip(names, json.loads(result.stdout), strict=True))
    for name in names:
        starts = {
            dt.datetime.fromisoformat(e["start"].replace("Z", "+00:00"))
            for e in answers[name]["events"]
            if e["status"] == "CONFIRMED"
        }
        assert starts == _expected(PLANS[name]), name
        assert all(e["alarms"] == 1 for e in answers[name]["events"] if e["status"] == "CONFIRMED")
    for index, (name, wall, instant) in enumerate(expected_walls):
        (instants,) = answers[name]["instants"].values()
        assert dt.datetime.fromtimestamp(instants[index], UTC) == instant, (name, wall)


# Every zone with a transition from 1970 to 2037, against icalendar's reading


def _zones_with_transitions() -> Iterator[tuple[str, dt.datetime]]:
    """Every zone with a transition from 1970 to 2037, with one of those transitions
    (found in pytz's copy of the tz database, picked by the zone's name so that
    together the zones spread over the years)."""
    import pytz

    low, high = dt.datetime(1970, 1, 1), dt.datetime(2037, 12, 31)
    for key in sorted(zoneinfo.available_timezones()):
        try:
            times = getattr(pytz.timezone(key), "_utc_transition_times", [])
        except pytz.UnknownTimeZoneError:  # a zone newer than pytz's copy
            continue
        inside = [t for t in times if low <= t <= high]
        if inside:
            yield key, inside[zlib.crc32(key.encode()) % len(inside)].replace(tzinfo=UTC)


def test_every_zone_vtimezone_agrees_with_the_tz_database() -> None:
    checked = 0
    for key, near in _zones_with_transitions():
        tz = zoneinfo.ZoneInfo(key)
        start, end = near - dt.timedelta(days=45), near + dt.timedelta(days=45)
        changes = transitions(tz, start, end)
        text = "".join(f"{n}:{v}\r\n" for n, v in vtimezone_lines(tz, key, start, end))
        vtz = icalendar.Calendar.from_ical(f"BEGIN:VCALENDAR\r\n{text}END:VCALENDAR\r\n")
        theirs = vtz.walk("VTIMEZONE")[0].to_tz()  # type: ignore[attr-defined]
        probes = [start + dt.timedelta(days=10 * i) for i in range(10)]
        for instant, before, after in changes:
            # The observance starts at the wall time of the offset before it (RFC 5545).
            assert f"TZOFFSETFROM:{_hhmm(before[0])}\r\nTZOFFSETTO:{_hhmm(after[0])}" in text
            probes += [instant - dt.timedelta(seconds=1), instant, instant + dt.timedelta(hours=1)]
        for probe in probes:
            wall = probe.astimezone(tz).replace(tzinfo=None, fold=0)
            if not _unambiguous(wall, tz):
                continue
            got = wall.replace(tzinfo=theirs).astimezone(UTC)
            assert got == _first_instant(wall, tz), (key, probe)
        checked += 1
    assert checked > 300  # nearly every zone has a transition from 1970 to 2037


def _hhmm(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours:02d}{minutes:02d}" + (f"{secs:02d}" if secs else "")


def test_new_york_spring_forward_is_at_two_in_the_morning_standard_time() -> None:
    data = to_ical(PLANS["new-york-spring"], stamp=STAMP)
    assert (
        b"BEGIN:DAYLIGHT\r\nDTSTART:20260308T020000\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400"
        in data
    )
    assert (
        b"BEGIN:STANDARD\r\nDTSTART:20261101T020000\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500"
        in data
    )
    # The VTIMEZONE reaches a year either side of the events.
    assert b"DTSTART:20250309T020000" in data
    assert b"DTSTART:20261101T020000" in data


def test_apia_skips_the_thirtieth_of_december_2011() -> None:
    data = to_ical(PLANS["apia-2011"], stamp=STAMP)
    assert b"DTSTART:20111230T000000\r\nTZOFFSETFROM:-1000\r\nTZOFFSETTO:+1400" in data


# UID, DTSTAMP, SEQUENCE, overrides


def test_uids_differ_by_patient_and_session_and_are_stable() -> None:
    plan = clinic_plan()
    later = plan_for(
        Session(dt.datetime(2026, 11, 27, 23, 30, tzinfo=UTC), "America/New_York"), plan.ruleset
    )

    def uids(p: AftercarePlan, subject: str | None) -> set[str]:
        cal = icalendar.Calendar.from_ical(to_ical(p, subject=subject, stamp=STAMP))
        return {str(e["uid"]) for e in cal.walk("VEVENT")}

    first, second = uids(plan, "Patient/1"), uids(plan, "Patient/2")
    assert len(first) == len(_expected(plan))
    assert not first & second
    assert not first & uids(later, "Patient/1")
    assert first == uids(plan, "Patient/1")
    assert not uids(plan, None) & first
    assert all("Patient" not in uid for uid in first)  # the patient is hashed, not written


def test_stamp_defaults_to_now_and_is_whole_seconds() -> None:
    before = dt.datetime.now(UTC).replace(microsecond=0)
    (event, *_) = icalendar.Calendar.from_ical(to_ical(clinic_plan())).walk("VEVENT")
    assert before <= event.decoded("dtstamp") <= dt.datetime.now(UTC)
    data = to_ical(
        clinic_plan(),
        stamp=dt.datetime(2026, 12, 1, 4, 0, 0, 900000, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    )
    assert b"DTSTAMP:20261201T090000Z" in data
    assert to_ical(clinic_plan(), stamp=STAMP) == to_ical(clinic_plan(), stamp=STAMP)


def test_sequence_grows_with_overrides_and_a_moved_reminder_is_cancelled() -> None:
    plan = clinic_plan()
    once = PLANS["override"]
    assert isinstance(once, AftercarePlan)

    def events(p: AftercarePlan, **options: Any) -> list[Any]:
        return icalendar.Calendar.from_ical(to_ical(p, stamp=STAMP, **options)).walk("VEVENT")

    assert {int(str(e["sequence"])) for e in events(plan)} == {0}
    assert {int(str(e["sequence"])) for e in events(once)} == {1}
    assert {int(str(e["sequence"])) for e in events(once, sequence=7)} == {7}
    # Driving no longer lifts at its own instant: that reminder is cancelled, same UID.
    old = {str(e["uid"]): e.decoded("dtstart") for e in events(plan)}
    new = {str(e["uid"]): e for e in events(once)}
    cancelled = [e for e in new.values() if str(e["status"]) == "CANCELLED"]
    assert cancelled
    for event in cancelled:
        assert old[str(event["uid"])] == event.decoded("dtstart")
        assert event.walk("VALARM") == []
        assert "Dr Rivera" in str(event["description"])
    confirmed = [e for e in new.values() if str(e["status"]) == "CONFIRMED"]
    assert {e.decoded("dtstart") for e in confirmed} == _expected(once)
    assert "still drowsy; reviewed by phone" in str(cancelled[0]["description"])
    # A second override lets driving lift later: its event names both overrides.
    twice = once.with_override(
        "driving",
        status=Status.PERMITTED,
        effective_from=dt.datetime(2026, 11, 26, 18, tzinfo=UTC),
        clinician="Dr Chen",
    )
    again = events(twice)
    assert {int(str(e["sequence"])) for e in again} == {2}
    driving = next(
        e for e in again if str(e["status"]) == "CONFIRMED" and "Driving" in str(e["summary"])
    )
    assert driving.decoded("dtstart") == dt.datetime(2026, 11, 26, 18, tzinfo=UTC)
    assert "Dr Rivera" in str(driving["description"])
    assert "Dr Chen" in str(driving["description"])


def test_one_event_lists_every_activity_that_lifts_then() -> None:
    plan = plan_for(Session(dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC), "America/New_York"))
    calendar = icalendar.Calendar.from_ical(to_ical(plan, stamp=STAMP))
    events = _confirmed(calendar)
    assert len(events) == len(_expected(plan))
    for event in events:
        lifting = [
            e
            for e in plan.timeline()
            if e.permitted_from_utc is not None
            and _ceil(e.permitted_from_utc) == event.decoded("dtstart")
            and e.status_until_lift is not Status.PERMITTED
        ]
        for entry in lifting:
            assert entry.label in str(event["summary"])
            assert entry.reason in str(event["description"])


def test_a_lift_inside_a_fold_is_written_in_utc() -> None:
    plan = plan_for(
        Session(dt.datetime(2026, 10, 31, 20, 0, tzinfo=UTC), "America/New_York"),
        Ruleset.from_dict(FOLD_DATA),
    )
    data = to_ical(plan, stamp=STAMP)
    # 01:30 on 1 November happens twice in New York; the later, EST one is meant.
    assert b"DTSTART:20261101T063000Z" in data
    starts = {e.decoded("dtstart") for e in _confirmed(icalendar.Calendar.from_ical(data))}
    assert starts == _expected(plan)


def test_text_is_escaped_and_control_characters_shown() -> None:
    # Built by hand, past the loader (which refuses the control character in a file).
    rules = attrs.evolve(Ruleset.from_dict(CLINIC_DATA), title="Clinic; A, B \\ C\nD\x1b[31m")
    plan = plan_for(
        Session(dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC), "America/New_York"), rules
    )
    out = to_ical(plan, stamp=STAMP)
    assert b"X-WR-CALNAME:Clinic\\; A\\, B \\\\ C\\nD\\\\x1b[31m\r\n" in out
    assert b"NAME:Clinic\\; A\\, B \\\\ C\\nD\\\\x1b[31m\r\n" in out
    assert b"\x1b" not in out
    calendar = vobject.readOne(out.decode())
    assert calendar.contents["x-wr-calname"][0].value == "Clinic; A, B \\ C\nD\\x1b[31m"


def test_a_sub_second_end_is_rounded_up_never_early() -> None:
    plan = PLANS["sub-second"]
    assert isinstance(plan, AftercarePlan)
    lifts = {e.permitted_from_utc for e in plan.timeline()} - {None}
    assert any(x.microsecond for x in lifts if x is not None)  # the case is sub-second
    for event in _confirmed(icalendar.Calendar.from_ical(to_ical(plan, stamp=STAMP))):
        start = event.decoded("dtstart")
        assert start.microsecond == 0
        lifting = [
            e
            for e in plan.timeline()
            if e.permitted_from_utc and _ceil(e.permitted_from_utc) == start
        ]
        assert lifting
        for entry in lifting:
            assert entry.permitted_from_utc is not None
            assert (
                entry.permitted_from_utc
                <= start
                < entry.permitted_from_utc + dt.timedelta(seconds=1)
            )
            assert plan.check(entry.activity, start).status is not Status.NOT_PERMITTED


def test_only_never_lifting_restrictions_give_an_empty_calendar() -> None:
    ruleset = Ruleset.from_dict(
        {**FOLD_DATA, "rules": [{**FOLD_DATA["rules"][0], "until": "never"}]}
    )
    plan = plan_for(Session(dt.datetime(2026, 10, 31, 20, tzinfo=UTC), "America/New_York"), ruleset)
    calendar = icalendar.Calendar.from_ical(to_ical(plan, stamp=STAMP))
    assert calendar.walk("VEVENT") == []
    assert len(calendar.walk("VTIMEZONE")) == 1


def test_utc_sessions_have_no_vtimezone() -> None:
    plan = plan_for(Session(dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC), "UTC"), clinic_ruleset())
    calendar = icalendar.Calendar.from_ical(to_ical(plan, stamp=STAMP))
    assert calendar.walk("VTIMEZONE") == []
    assert {e.decoded("dtstart") for e in _confirmed(calendar)} == _expected(plan)


def test_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "icalendar", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'ketamine-guidance\[ical\]'"):
        to_ical(clinic_plan(), stamp=STAMP)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sequence": -1}, "sequence must be a whole number"),
        ({"sequence": True}, "sequence must be a whole number"),
        ({"sequence": "1"}, "sequence must be a whole number"),
        ({"subject": " "}, "subject must be a non-empty string"),
        ({"subject": 12}, "subject must be a non-empty string"),
    ],
)
def test_bad_options_are_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ExportError, match=message):
        to_ical(clinic_plan(), stamp=STAMP, **options)


def test_only_plans_are_accepted() -> None:
    with pytest.raises(TypeError, match="plan must be an AftercarePlan or a CoursePlan"):
        to_ical("plan")  # type: ignore[arg-type]


def test_a_course_with_an_override_cancels_the_reminder_it_moved() -> None:
    course = PLANS["course"]
    assert isinstance(course, CoursePlan)
    changed = course.with_override(
        "driving",
        status=Status.NOT_PERMITTED,
        effective_from=dt.datetime(2026, 3, 8, 5, tzinfo=UTC),
        clinician="Dr Rivera",
    )
    events = icalendar.Calendar.from_ical(to_ical(changed, stamp=STAMP)).walk("VEVENT")
    assert {int(str(e["sequence"])) for e in events} == {1}
    starts = {e.decoded("dtstart") for e in events if str(e["status"]) == "CONFIRMED"}
    assert starts == _expected(changed)


class _Nameless(dt.tzinfo):
    """A fixed -05:00 zone that gives no abbreviation."""

    def utcoffset(self, _d: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(hours=-5)

    def dst(self, _d: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(0)

    def tzname(self, _d: dt.datetime | None) -> None:
        return None


def test_a_zone_without_abbreviations_has_no_tzname() -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=UTC)
    lines = vtimezone_lines(_Nameless(), "X", start, start + dt.timedelta(days=2))
    assert ("TZOFFSETTO", "-0500") in lines
    assert not [n for n, _ in lines if n == "TZNAME"]


def test_no_zone_changes_twice_within_the_scan_step() -> None:
    # transitions() asks the zone every six hours and bisects where its state changed;
    # that finds every change only if no two come within six hours.  pytz's own copy of
    # the tz database (an independent reading of it) says the closest pair from 1970 to
    # 2037 is days apart.
    import pytz

    closest = dt.timedelta.max
    for name in pytz.all_timezones:
        times = [
            t
            for t in getattr(pytz.timezone(name), "_utc_transition_times", [])
            if dt.datetime(1970, 1, 1) <= t <= dt.datetime(2038, 1, 1)
        ]
        closest = min([closest, *(b - a for a, b in itertools.pairwise(times))])
    assert closest > 4 * SCAN_STEP


def test_an_override_in_a_reminder_is_in_the_patients_local_time_on_its_safe_side() -> None:
    """A permission's times shown in the patient's zone, starting no earlier and ending no
    later than true: never "UTC" text a patient has to convert (H38)."""
    plan = clinic_plan().with_override(
        "driving",
        status=Status.PERMITTED,
        effective_from=dt.datetime(2026, 11, 26, 18, 0, 30, tzinfo=UTC),
        until=dt.datetime(2026, 11, 26, 20, 0, 30, tzinfo=UTC),
        clinician="Dr Chen",
    )
    described = " ".join(
        str(e["description"])
        for e in icalendar.Calendar.from_ical(to_ical(plan, stamp=STAMP)).walk("VEVENT")
    )
    # 18:00:30 and 20:00:30 UTC are 13:00:30 and 15:00:30 EST.
    expected = "from Thu 26 Nov 2026, 13:01 EST until Thu 26 Nov 2026, 15:00 EST"
    assert f"Override: Dr Chen set driving to permitted {expected}." in described
    assert "UTC" not in described
