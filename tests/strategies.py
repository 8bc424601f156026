"""Shared hypothesis strategies."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from hypothesis import strategies as st

UTC = dt.timezone.utc

#: Every IANA zone the machine knows (tzdata guarantees a full set).
ZONE_NAMES = sorted(zoneinfo.available_timezones() - {"Factory", "localtime"})

zone_names = st.sampled_from(ZONE_NAMES)
zones = zone_names.map(zoneinfo.ZoneInfo)

#: Instants in 1900-2100, in UTC.
instants = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)
