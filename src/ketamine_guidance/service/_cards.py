"""The service's CDS Hooks cards, worded for the prescriber who reads them in the EHR.

Every card has a ``uuid`` that is the same for the same ruleset, sessions, decision and
instant (so feedback about a card can be matched to it), a ``source`` naming the ruleset
by id and version, the ruleset's digest in the card's ``extension``, and a link to the
documentation page that traces each rule to its source.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from attrs import frozen

from ketamine_guidance._engine.plan import Decision
from ketamine_guidance._engine.windows import BEYOND_RANGE
from ketamine_guidance._formats.codes import ACTIVITY_SYSTEM
from ketamine_guidance._formats.escape import markdown as _markdown
from ketamine_guidance._formats.text import format_local
from ketamine_guidance._rules.model import Code, Rule, Status
from ketamine_guidance._rules.ruleset import Ruleset
from ketamine_guidance._text import visible
from ketamine_guidance.service._fhir import TIMEZONE_EXTENSION, Order

__all__ = [
    "MAX_SUMMARY",
    "OVERRIDE_REASONS",
    "OVERRIDE_SYSTEM",
    "RULESET_EXTENSION",
    "Cards",
    "ZoneSource",
]

#: CDS Hooks: a summary "SHOULD be less than 140 characters".
MAX_SUMMARY = 139
#: The card ``extension`` key that carries the ruleset's id, version and digest.
RULESET_EXTENSION = "ketamine-guidance-ruleset"
#: The code system of the override reasons the order cards offer.
OVERRIDE_SYSTEM = "https://ketamine-guidance.readthedocs.io/fhir/CodeSystem/override-reason"
OVERRIDE_REASONS: tuple[tuple[str, str], ...] = (
    ("agreed-with-ketamine-clinician", "Agreed with the patient's ketamine clinician"),
    ("session-record-wrong", "The ketamine session on record does not apply"),
    ("benefit-outweighs-risk", "Benefit outweighs the risk for this patient"),
)
_NAMESPACE = uuid.UUID("2f0c6f52-5a8e-4e0c-9a53-6b1f3e0c4d21")
_INDICATORS = {Status.NOT_PERMITTED: "warning", Status.PERMITTED_WITH_CAUTION: "info"}
_FAR = dt.datetime.max.replace(tzinfo=dt.timezone.utc)


_markdown_cached = functools.lru_cache(maxsize=4096)(_markdown)


def markdown(text: str) -> str:
    """Escaped Markdown; short texts (ruleset words, local times) from a bounded cache."""
    return _markdown_cached(text) if len(text) <= 300 else _markdown(text)


@frozen
class ZoneSource:
    """Which zone the times on the cards are in, and where it came from."""

    name: str
    from_patient: bool

    def sentence(self) -> str:
        if self.from_patient:
            return f"Times are in the patient's time zone, {self.name}, from the Patient record."
        return (
            f"Times are in the clinic's time zone, {self.name}, as configured in this service: "
            "the Patient record gives no time zone. Check it if the patient lives elsewhere."
        )


def _fit(text: str, tail: str) -> str:
    """``text + tail`` cut (at ``text``) to the summary limit."""
    text = " ".join(visible(text, keep_newlines=False).split())
    if len(text) + len(tail) <= MAX_SUMMARY:
        return text + tail
    return text[: MAX_SUMMARY - len(tail) - 1] + "…" + tail


def _until(decision: Decision) -> str:
    """The summary's end of the restriction, in the words of the library's own cards."""
    if decision.permitted_from is not None:
        return f" until {format_local(decision.permitted_from)}"
    if decision.lifts_beyond_range:
        return f"; the end is {BEYOND_RANGE}"
    return "; no end is given"


def _lift_line(decision: Decision, subject: str) -> str:
    """The detail's sentence on when the restriction lifts (``subject`` starts it)."""
    if decision.permitted_from is not None:
        return f"{subject} lifts at **{markdown(format_local(decision.permitted_from))}**."
    if decision.lifts_beyond_range:
        return markdown(f"The end is {BEYOND_RANGE}: treat it as in force.")
    return "No end is given: treat it as in force."


def rank(decisions: Iterable[Decision]) -> list[Decision]:
    """Most restrictive first; then the one that lifts last first."""
    return sorted(
        decisions,
        key=lambda d: (
            -d.status.restrictiveness,
            -(d.permitted_from_utc or _FAR).timestamp(),
            d.activity,
        ),
    )


class Cards:
    """Builds the cards for one ruleset and one documentation site."""

    def __init__(self, ruleset: Ruleset, docs_url: str) -> None:
        self.ruleset = ruleset
        self.digest = ruleset.digest
        self._docs = docs_url.rstrip("/")
        self._label = f"Ketamine aftercare guidance (ruleset {ruleset.id} {ruleset.version})"

    # The common parts

    def _uuid(self, *parts: object) -> str:
        key = json.dumps([self.digest, *parts], default=str, separators=(",", ":"))
        return str(uuid.uuid5(_NAMESPACE, key))

    def _card(
        self,
        *,
        key: Sequence[object],
        summary: str,
        indicator: str,
        detail: str,
        rule: Rule | None = None,
    ) -> dict[str, Any]:
        page = f"{self._docs}/explanation/traceability.html"
        if rule is not None:  # the rule's row on that page (ids as docutils writes them)
            page += f"#rule-{rule.activity.replace('_', '-')}"
        source: dict[str, Any] = {"label": self._label, "url": page}
        if rule is not None:
            source["topic"] = {
                "system": ACTIVITY_SYSTEM,
                "code": rule.activity,
                "display": rule.label,
            }
        return {
            "uuid": self._uuid(*key),
            "summary": summary,
            "indicator": indicator,
            "detail": detail,
            "source": source,
            "links": [
                {
                    "label": "This rule and where it comes from"
                    if rule is not None
                    else "Where each aftercare rule comes from",
                    "url": page,
                    "type": "absolute",
                },
                {
                    "label": "How the service reads sessions and time zones",
                    "url": f"{self._docs}/how-to/cds-service.html",
                    "type": "absolute",
                },
            ],
            "extension": {
                RULESET_EXTENSION: {
                    "id": self.ruleset.id,
                    "version": self.ruleset.version,
                    "digest": self.digest,
                }
            },
        }

    def _facts(self, decision: Decision, zone: ZoneSource, sessions: int) -> list[str]:
        rule = self.ruleset.rule(decision.activity)
        ended = format_local(decision.session.ended_at_local)
        course = (
            f" This patient has {sessions} ketamine sessions on record; the answer is the "
            "most restrictive of them."
            if sessions > 1
            else ""
        )
        lines = [
            f"Ketamine session ended {markdown(ended)}.{markdown(course)}",
            "",
            markdown(zone.sentence()),
            "",
            f"What the patient was told: “{markdown(decision.reason)}”",
        ]
        if rule.clinician_adjustable:
            lines += ["", "The ruleset lets a clinician adjust this restriction for a patient."]
        src = decision.source
        lines += [
            "",
            (
                f"Rule source: *{markdown(src.title)}*, section “{markdown(src.section)}”; "
                f"ruleset {markdown(self.ruleset.id)} {markdown(self.ruleset.version)} "
                f"({self.digest[:19]}…)."
            ),
        ]
        return lines

    # Cards for each situation

    def restriction(
        self, decision: Decision, zone: ZoneSource, sessions: int, key: Sequence[object]
    ) -> dict[str, Any] | None:
        """patient-view: a card for a restriction in force (None for PERMITTED)."""
        indicator = _INDICATORS.get(decision.status)
        if indicator is None:
            return None
        rule = self.ruleset.rule(decision.activity)
        lift = _lift_line(decision, "It")
        detail = "\n".join(
            [
                (
                    f"After ketamine, **{markdown(rule.label)}** is **{decision.status.text}** for "
                    f"this patient. {lift}"
                ),
                "",
                *self._facts(decision, zone, sessions),
            ]
        )
        return self._card(
            key=("restriction", *key, decision.activity),
            summary=_fit(
                f"After ketamine: {rule.label}", f" {decision.status.text}{_until(decision)}"
            ),
            indicator=indicator,
            detail=detail,
            rule=rule,
        )

    def order(  # noqa: PLR0913  (keyword-only, each named at the call)
        self,
        *,
        order: Order,
        code: Code,
        decision: Decision,
        zone: ZoneSource,
        sessions: int,
        key: Sequence[object],
    ) -> dict[str, Any] | None:
        """order-select / order-sign: a draft order that a restriction in force covers."""
        indicator = _INDICATORS.get(decision.status)
        if indicator is None:
            return None
        rule = self.ruleset.rule(decision.activity)
        lift = _lift_line(decision, "The restriction")
        detail = "\n".join(
            [
                (
                    f"**{markdown(order.name)}** falls under the ketamine aftercare rule "
                    f"**{markdown(rule.label)}** (code {markdown(code.code)} in "
                    f"{markdown(code.system)}), which is **{decision.status.text}** for this "
                    f"patient now. {lift}"
                ),
                "",
                (
                    "Consider removing the order or starting it after the restriction lifts. "
                    "To go ahead, give an override reason."
                ),
                "",
                *self._facts(decision, zone, sessions),
            ]
        )
        card = self._card(
            key=("order", *key, order.ident, order.name, decision.activity),
            summary=_fit(order.name, f": {decision.status.text} after ketamine{_until(decision)}"),
            indicator=indicator,
            detail=detail,
            rule=rule,
        )
        card["overrideReasons"] = [
            {"system": OVERRIDE_SYSTEM, "code": c, "display": d} for c, d in OVERRIDE_REASONS
        ]
        if order.ident is not None:
            card["selectionBehavior"] = "at-most-one"
            card["suggestions"] = [
                {
                    "label": _fit(f"Remove the draft order for {order.name}", ""),
                    "uuid": self._uuid("suggestion", *key, order.ident, decision.activity),
                    "isRecommended": True,
                    "actions": [
                        {
                            "type": "delete",
                            "description": "Remove this draft order.",
                            "resourceId": [f"MedicationRequest/{order.ident}"],
                        }
                    ],
                }
            ]
        return card

    def uncoded_order(self, order: Order, key: Sequence[object]) -> dict[str, Any]:
        """A draft order with no code to match while a medication restriction is in force."""
        detail = (
            f"**{markdown(order.name)}** carries no medication code in a code system the "
            "ruleset's medication codes use, so the service cannot tell whether a ketamine "
            "aftercare restriction in force for this patient covers it. Check the patient's "
            "aftercare plan before signing; a clinic can add its formulary's codes (such as "
            "RxNorm) to its ruleset."
        )
        return self._card(
            key=("uncoded", *key, order.ident, order.name),
            summary=_fit(order.name, ": not checked against ketamine aftercare (no usable code)"),
            indicator="info",
            detail=detail,
        )

    def cannot_tell(self, why: str, key: Sequence[object]) -> dict[str, Any]:
        """The service cannot tell the time rules: it never guesses a zone or an end."""
        reasons = {
            "no-zone": (
                "no time zone for this patient",
                (
                    "The patient has a ketamine session on record, but neither the Patient "
                    f"record (extension {TIMEZONE_EXTENSION}) nor this service's configuration "
                    "gives a time zone, so the service cannot tell when the aftercare "
                    "restrictions lift. It does not guess one."
                ),
            ),
            "bad-zone": (
                "the patient's time zone is not recognised",
                (
                    "The Patient record's time zone extension does not hold an IANA time zone "
                    "name the service knows, so it cannot tell when the aftercare restrictions "
                    "lift. It does not guess one."
                ),
            ),
            "no-end": (
                "a ketamine session has no end time",
                (
                    "A completed ketamine session on record gives no end time with a UTC "
                    "offset, so the service cannot tell when its restrictions lift."
                ),
            ),
            "in-progress": (
                "a ketamine session is in progress",
                (
                    "The EHR records a ketamine session for this patient as in progress. Its "
                    "aftercare restrictions start when it ends, and the service cannot tell "
                    "when that will be."
                ),
            ),
            "paged": (
                "not every session was read",
                (
                    "The EHR sent the patient's ketamine sessions in several pages and the "
                    "service read only the first, so restrictions from a later session may be "
                    "missing from these cards. Ask for all sessions in one page (a larger "
                    "_count in the prefetch template)."
                ),
            ),
            "not-read": (
                "the patient's sessions could not be read",
                (
                    "The service could not read the patient's ketamine sessions or Patient "
                    "record from the EHR's FHIR server, so it cannot tell whether aftercare "
                    "restrictions are in force."
                ),
            ),
            "ruleset": (
                "the ruleset does not cover this session",
                (
                    "The configured ruleset is not in effect for the date of the patient's "
                    "ketamine session, so the service cannot tell the restrictions."
                ),
            ),
        }
        short, text = reasons[why]
        return self._card(
            key=("cannot-tell", why, *key),
            summary=_fit(f"Ketamine aftercare: cannot tell the time rules ({short})", ""),
            indicator="warning",
            detail=markdown(text)
            + "\n\nCheck the patient's aftercare plan before ordering sedatives or opioids.",
        )
