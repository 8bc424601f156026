"""tzinfo classes that misbehave, shared by the tests that check they are refused."""

from __future__ import annotations

import datetime as dt


class NoOffset(dt.tzinfo):
    """A tzinfo that knows no offset: an aware-looking datetime that is really naive."""

    def utcoffset(self, _: dt.datetime | None) -> None:
        return None

    def tzname(self, _: dt.datetime | None) -> None:
        return None

    def dst(self, _: dt.datetime | None) -> None:
        return None

    def fromutc(self, moment: dt.datetime) -> dt.datetime:
        return moment
