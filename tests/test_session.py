"""Sessions: aware datetimes only, zones by name or tzinfo, equality by instant."""

from __future__ import annotations

import datetime as dt
import pickle
import zoneinfo
from pathlib import Path

import pytest
import pytz
from dateutil import tz as dateutil_tz

from ketamine_guidance import GuidanceError, NaiveDatetimeError, Session, UnknownTimezoneError
from ketamine_guidance._engine.session import zone_name
from tests.tzinfos import NoOffset

UTC = dt.timezone.utc
ENDED = dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
NY = zoneinfo.ZoneInfo("America/New_York")


def test_naive_ended_at_is_refused_with_a_clear_message():
    with pytest.raises(NaiveDatetimeError, match=r"ended_at is naive \(2026-11-25T23:30:00\)"):
        Session(dt.datetime(2026, 11, 25, 23, 30))


def test_naive_error_is_a_value_error_and_a_guidance_error():
    assert issubclass(NaiveDatetimeError, ValueError)
    assert issubclass(NaiveDatetimeError, GuidanceError)


def test_ended_at_must_be_a_datetime():
    with pytest.raises(TypeError, match="ended_at must be a timezone-aware datetime, not str"):
        Session("2026-11-25T23:30:00Z")  # type: ignore[arg-type]


def test_a_tzinfo_that_gives_no_offset_counts_as_naive():
    with pytest.raises(NaiveDatetimeError):
        Session(dt.datetime(2026, 1, 1, tzinfo=NoOffset()))


def test_a_zone_name_is_resolved_with_zoneinfo():
    session = Session(ENDED, "America/New_York")
    assert session.timezone is NY
    assert session.zone_name == "America/New_York"
    assert session.ended_at_local.isoformat() == "2026-11-25T18:30:00-05:00"


def test_no_zone_means_the_ended_at_zone():
    session = Session(ENDED.astimezone(NY))
    assert session.timezone is NY


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "../etc/passwd", "America/New York"])
def test_unknown_zone_names_are_refused(name):
    with pytest.raises(UnknownTimezoneError, match="unknown time zone"):
        Session(ENDED, name)


def test_a_timezone_of_the_wrong_type_is_refused():
    with pytest.raises(TypeError, match="timezone must be an IANA name or a tzinfo, not int"):
        Session(ENDED, 5)  # type: ignore[arg-type]


def test_a_tzinfo_giving_no_offset_is_refused_as_a_zone():
    with pytest.raises(UnknownTimezoneError, match="gives no UTC offset"):
        Session(ENDED, NoOffset())


def test_sessions_are_equal_when_they_end_at_the_same_instant_in_the_same_zone():
    assert Session(ENDED, NY) == Session(ENDED.astimezone(NY))
    assert Session(ENDED, NY) != Session(ENDED, "UTC")
    assert hash(Session(ENDED, NY)) == hash(Session(ENDED.astimezone(NY)))


def test_sessions_pickle():
    session = Session(ENDED, "Asia/Kathmandu")
    assert pickle.loads(pickle.dumps(session)) == session


@pytest.mark.parametrize(
    ("tz", "name"),
    [
        (UTC, "UTC"),
        (NY, "America/New_York"),
        (pytz.timezone("Europe/London"), "Europe/London"),
        (dateutil_tz.gettz("Asia/Kathmandu"), "Asia/Kathmandu"),
        (dt.timezone(dt.timedelta(hours=5, minutes=45)), None),
        (dateutil_tz.tzoffset(None, 3600), None),
    ],
)
def test_zone_names_of_every_flavour(tz, name):
    assert zone_name(tz) == name


def test_zone_name_of_a_dateutil_tzfile_read_from_a_path():
    path = Path(zoneinfo.TZPATH[0]) / "Asia" / "Kathmandu"
    if not path.exists():
        pytest.skip(f"no system tz database at {path}")
    with path.open("rb") as handle:
        assert zone_name(dateutil_tz.tzfile(handle, filename=str(path))) == "Asia/Kathmandu"
    with path.open("rb") as handle:
        assert zone_name(dateutil_tz.tzfile(handle, filename="relative/not-a-zone")) is None
