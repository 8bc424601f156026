"""Clinic rulesets: extending, removing, governance dates and file reading (issue 4)."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from ketamine_guidance import Ruleset, RulesetError, load_ruleset
from ketamine_guidance._loader import MAX_FILE_BYTES

SOURCE = {"title": "Example Clinic aftercare sheet", "section": "Driving"}


def minimal(**extra: object) -> dict[str, Any]:
    """The smallest valid ruleset mapping, with ``extra`` top-level keys."""
    data: dict[str, Any] = {
        "id": "clinic",
        "version": "1",
        "title": "Clinic",
        "rules": [
            {
                "activity": "driving",
                "label": "Driving",
                "until": {"hours": 24},
                "reason": "Wait a full day.",
                "source": dict(SOURCE),
            }
        ],
    }
    data.update(extra)
    return data


def paths(exc: pytest.ExceptionInfo[RulesetError]) -> list[str]:
    return [p.path for p in exc.value.problems]


# Dates and file reading


@pytest.mark.parametrize("text", ["20260115", "2026-W03-4", "2026-1-5", " 2026-01-15"])
def test_governance_dates_are_strictly_yyyy_mm_dd(text: str) -> None:
    # Python 3.11's date.fromisoformat takes the first two; 3.10 does not.  One rule for all.
    with pytest.raises(RulesetError) as exc:
        Ruleset.from_dict(minimal(reviewed_on=text))
    assert paths(exc) == ["reviewed_on"]


def test_governance_dates_load() -> None:
    ruleset = Ruleset.from_dict(
        minimal(reviewed_by="Dr A. Reviewer", reviewed_on="2026-01-15", effective_from="2026-02-01")
    )
    assert ruleset.reviewed_by == "Dr A. Reviewer"
    assert ruleset.reviewed_on == dt.date(2026, 1, 15)
    assert ruleset.effective_from == dt.date(2026, 2, 1)


def test_an_oversize_stream_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    # A FIFO reports size 0 to stat(); the reader must still stop at the limit.
    import os
    import threading

    fifo = tmp_path / "rules.toml"
    os.mkfifo(fifo)

    def feed() -> None:
        with contextlib.suppress(BrokenPipeError), fifo.open("wb") as stream:
            stream.write(b"#" * (MAX_FILE_BYTES + 10))

    writer = threading.Thread(target=feed)
    writer.start()
    with pytest.raises(RulesetError, match="limit"):
        load_ruleset(fifo)
    writer.join()
