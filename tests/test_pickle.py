"""Model objects survive pickling, so batches can run in worker processes."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import multiprocessing
import operator
import pickle
import zoneinfo

import pytest

import ketamine_guidance as kg

UTC = dt.timezone.utc
ENDED = dt.datetime(2026, 3, 7, 23, 30, tzinfo=UTC)


def _plan() -> kg.AftercarePlan:
    plan = kg.plan_for(kg.Session(ENDED, "America/New_York"))
    return plan.with_override(
        "prescription_pain_medication",
        status=kg.Status.PERMITTED,
        effective_from=ENDED + dt.timedelta(hours=2),
        clinician="Dr A",
        note="after review",
    )


def _objects() -> list[object]:
    plan = _plan()
    at = ENDED + dt.timedelta(hours=3)
    ruleset = kg.default_ruleset()
    return [
        kg.Session(ENDED, "Australia/Lord_Howe"),
        kg.Session(ENDED.astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))),
        ruleset,
        ruleset.rules[0],
        ruleset.rules[0].source,
        plan,
        plan.overrides[0],
        plan.check("driving", at),
        plan.check("prescription_pain_medication", at),
        plan.timeline(),
        plan.decisions_at(at),
        kg.Status.PERMITTED_WITH_CAUTION,
        kg.LatestOf((kg.NextDay(), kg.Hours(24), kg.DayAt(day=2, at=dt.time(9)))),
        kg.Immediately(),
        kg.EndOfDay(),
        kg.Never(),
        kg.RulesetProblem("rules[0].until", "unknown window"),
    ]


@pytest.mark.parametrize("obj", _objects(), ids=lambda o: type(o).__name__)
@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_model_objects_pickle_and_unpickle_equal(obj: object, protocol: int) -> None:
    copy = pickle.loads(pickle.dumps(obj, protocol=protocol))
    assert copy == obj
    assert type(copy) is type(obj)


def test_an_unpickled_plan_answers_as_the_original() -> None:
    plan = _plan()
    plan.timeline()  # fill the plan's memo before pickling: the copy must still agree
    copy = pickle.loads(pickle.dumps(plan))
    for hours in (0, 1, 2, 6, 10, 11, 30, 1000):
        at = ENDED + dt.timedelta(hours=hours)
        assert copy.decisions_at(at) == plan.decisions_at(at)
    assert copy.timeline() == plan.timeline()


@pytest.mark.parametrize(
    "error",
    [
        kg.RulesetError([kg.RulesetProblem("rules", "must list at least one rule")], source="a"),
        kg.UnknownActivityError("drivng", ["driving", "alcohol"], suggestions=["driving"]),
        kg.UnknownSymptomError("dizzy", ["nausea"]),
        kg.NaiveDatetimeError("at is naive"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_pickle_with_their_fields(error: Exception) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.args == error.args
    assert vars(copy) == vars(error)


def _sessions() -> list[kg.Session]:
    zones = ["America/New_York", "Europe/London", "Pacific/Apia", "Asia/Kathmandu", "UTC"]
    start = dt.datetime(2026, 1, 1, tzinfo=UTC)
    return [
        kg.Session(start + dt.timedelta(hours=37 * i), zones[i % len(zones)]) for i in range(200)
    ]


def test_a_batch_in_a_process_pool_equals_the_single_process_result() -> None:
    sessions = _sessions()
    expected = [kg.plan_for(s).timeline() for s in sessions]
    # "spawn", as Dask and Spark workers do: nothing is inherited, everything is pickled.
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        plans = list(pool.map(kg.plan_for, sessions, chunksize=25))
        timelines = list(pool.map(operator.methodcaller("timeline"), plans, chunksize=25))
    assert timelines == expected
    assert [p.timeline() for p in plans] == expected
