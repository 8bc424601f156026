"""The plan's fast paths (gates, memoised decisions, shared timeline entries) agree with a
reference model written out plainly here.

The reference: an activity's status at instant ``t`` is set by the override added last
among those in force at ``t`` (from ``max(effective_from, session end)`` until
``until``); otherwise it is PERMITTED from the lift instant on (from the session's end when
the window lifts immediately) and the rule's ``while_restricted`` status before.
``permitted_from`` is the earliest instant from which it stays PERMITTED.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from hypothesis import given
from hypothesis import strategies as st

import ketamine_guidance as kg
from ketamine_guidance._engine.windows import lift_instant
from ketamine_guidance._formats.text import format_local

from .strategies import instants

UTC = dt.timezone.utc
ZONES = ["America/New_York", "Europe/London", "Pacific/Apia", "Australia/Lord_Howe", "UTC"]
_SOURCE = {"title": "t", "section": "s"}


def _rule(activity: str, until: object, restricted: str) -> dict[str, object]:
    reason = f"The rule for {activity} says to wait."
    return {"activity": activity, "label": activity.title(), "until": until, "reason": reason} | {
        "source": _SOURCE,
        "while_restricted": restricted,
    }


RULESETS = [
    kg.default_ruleset(),
    kg.Ruleset.from_dict(
        {
            "id": "mixed",
            "version": "1",
            "title": "Mixed",
            "next_day_begins": "01:30",
            "rules": [
                _rule("a", "next_day", "not_permitted"),
                _rule("b", "immediately", "not_permitted"),
                _rule("c", "never", "not_permitted"),
                _rule("d", {"hours": 24}, "permitted_with_caution"),
                _rule("e", {"day": 2, "at": "02:30"}, "not_permitted"),
                _rule("f", "end_of_day", "permitted_with_caution"),
                _rule("g", {"latest_of": ["next_day", {"hours": 30}]}, "not_permitted"),
                _rule("h", "never", "permitted_with_caution"),
            ],
        }
    ),
]


def _reference_override(
    plan: kg.AftercarePlan, rule: kg.Rule, t: dt.datetime
) -> kg.Override | None:
    ended = plan.session.ended_at_utc
    in_force = [
        o
        for o in plan.overrides
        if o.activity == rule.activity
        and max(o.effective_from_utc, ended) <= t
        and (o.until_utc is None or t < o.until_utc)
    ]
    # The override added last wins, whatever the effective times.
    return in_force[-1] if in_force else None


def _reference_status(
    plan: kg.AftercarePlan, rule: kg.Rule, lift: dt.datetime | None, t: dt.datetime
) -> kg.Status:
    override = _reference_override(plan, rule, t)
    if override is not None:
        return override.status
    if lift is not None and t >= lift:
        return kg.Status.PERMITTED
    return rule.while_restricted


def _reference_permitted_from(
    plan: kg.AftercarePlan, rule: kg.Rule, lift: dt.datetime | None
) -> dt.datetime | None:
    ended = plan.session.ended_at_utc
    edges = {ended} | ({lift} if lift is not None else set())
    edges |= {max(o.effective_from_utc, ended) for o in plan.overrides}
    edges |= {
        o.until_utc for o in plan.overrides if o.until_utc is not None and o.until_utc > ended
    }
    since = None
    for edge in sorted(edges, reverse=True):
        if _reference_status(plan, rule, lift, edge) is not kg.Status.PERMITTED:
            break
        since = edge
    return since


@st.composite
def plans(draw: st.DrawFn) -> kg.AftercarePlan:
    ruleset = draw(st.sampled_from(RULESETS))
    zone = zoneinfo.ZoneInfo(draw(st.sampled_from(ZONES)))
    ended = draw(instants)
    plan = kg.plan_for(kg.Session(ended, zone), ruleset)
    for _ in range(draw(st.integers(0, 3))):
        start = ended + dt.timedelta(minutes=draw(st.integers(-600, 4000)))
        length = draw(st.none() | st.integers(1, 3000))
        try:
            plan = plan.with_override(
                draw(st.sampled_from(ruleset.activities)),
                status=draw(st.sampled_from(kg.Status)),
                effective_from=start,
                clinician="Dr A",
                note=draw(st.sampled_from(["", "after review"])),
                until=None if length is None else start + dt.timedelta(minutes=length),
            )
        except kg.OverrideError:  # widening a fixed rule without a note: refused
            continue
    return plan


def _lift(plan: kg.AftercarePlan, rule: kg.Rule) -> dt.datetime | None:
    s = plan.session
    day = s.ended_at_local.date()
    nd = plan.ruleset.next_day_begins
    return lift_instant(rule.until, s.ended_at_utc, day, s.timezone, nd)


@given(plans(), st.lists(st.integers(0, 5000), min_size=1, max_size=6), st.booleans())
def test_questions_agree_with_the_reference_model(
    plan: kg.AftercarePlan, minutes: list[int], zoned: bool
) -> None:
    ended = plan.session.ended_at_utc
    for m in minutes:
        t = ended + dt.timedelta(minutes=m)
        at = t.astimezone(plan.session.timezone) if zoned else t
        decisions = {d.activity: d for d in plan.decisions_at(at)}
        assert tuple(decisions) == plan.ruleset.activities
        for rule in plan.ruleset.rules:
            lift = _lift(plan, rule)
            status = _reference_status(plan, rule, lift, t)
            since = _reference_permitted_from(plan, rule, lift)
            override = _reference_override(plan, rule, t)
            for decision in (decisions[rule.activity], plan.check(rule.activity, at)):
                assert decision.status is status
                assert decision.override is override
                assert (decision.activity, decision.label) == (rule.activity, rule.label)
                assert decision.source == rule.source
                assert decision.session is plan.session
                # main's Decision records the instant asked about: a memoised decision
                # must still carry this question's instant, not an earlier one's.
                assert getattr(decision, "at", at) == at
                if override is None:
                    assert decision.reason == rule.reason
                else:
                    tz = plan.session.timezone
                    when = max(override.effective_from_utc, ended).astimezone(tz)
                    until = override.until_utc
                    # Rounded on the safe side: a ban from its minute until the next.
                    ban = override.status is kg.Status.NOT_PERMITTED
                    start = format_local(when, down=ban)
                    end = (
                        ""
                        if until is None
                        else f" until {format_local(until.astimezone(tz), down=not ban)}"
                    )
                    note = f" {override.note}" if override.note else ""
                    assert decision.reason == (
                        f"Dr A changed this to {override.status.text} from {start}{end}.{note}"
                    )
                    assert rule.reason not in decision.reason
                assert decision.permitted_from_utc == since
                if since is not None:
                    assert decision.permitted_from is not None
                    assert decision.permitted_from.tzinfo is plan.session.timezone
                    # (astimezone: PEP 495 makes a time in a fold unequal across zones)
                    assert decision.permitted_from.astimezone(UTC) == since
            assert plan.is_permitted(rule.activity, at) is (status is not kg.Status.NOT_PERMITTED)


@given(st.lists(plans(), min_size=1, max_size=4))
def test_timelines_agree_with_the_reference_model_and_are_in_lift_order(
    batch: list[kg.AftercarePlan],
) -> None:
    for plan in batch:  # several plans in one process: shared entries must not leak
        entries = plan.timeline()
        assert sorted(e.activity for e in entries) == sorted(plan.ruleset.activities)
        lifts = [e.permitted_from_utc for e in entries]
        known = [x for x in lifts if x is not None]
        assert known == sorted(known)
        assert lifts == known + [None] * (len(lifts) - len(known))
        ended = plan.session.ended_at_utc
        for entry in entries:
            rule = plan.ruleset.rule(entry.activity)
            lift = _lift(plan, rule)
            assert entry.permitted_from_utc == _reference_permitted_from(plan, rule, lift)
            # The rule's own status before its lift, whatever a clinician overrode.
            before = kg.Status.PERMITTED if lift == ended else rule.while_restricted
            assert entry.status_until_lift is before
            assert entry.overrides == tuple(
                o for o in plan.overrides if o.activity == entry.activity
            )
            assert (entry.label, entry.reason, entry.source) == (
                rule.label,
                rule.reason,
                rule.source,
            )
            assert entry.clinician_adjustable is rule.clinician_adjustable
            if entry.permitted_from_utc is None:
                assert entry.permitted_from is None
            else:
                assert entry.permitted_from is not None
                assert entry.permitted_from.tzinfo is plan.session.timezone
                assert entry.permitted_from.astimezone(UTC) == entry.permitted_from_utc
        assert plan.timeline() is entries  # built once per plan


def test_two_sessions_in_one_zone_on_different_days_do_not_share_lifts() -> None:
    first = kg.plan_for(kg.Session(dt.datetime(2026, 3, 7, 23, 30, tzinfo=UTC), "Europe/Paris"))
    later = kg.plan_for(kg.Session(dt.datetime(2026, 3, 9, 23, 30, tzinfo=UTC), "Europe/Paris"))
    driving = [
        next(e for e in p.timeline() if e.activity == "driving").permitted_from_utc
        for p in (first, later)
    ]
    assert driving == [
        dt.datetime(2026, 3, 9, 5, 0, tzinfo=UTC),
        dt.datetime(2026, 3, 11, 5, 0, tzinfo=UTC),
    ]
