"""The patient's aftercare sheet: plain text, Markdown, or one printable HTML page.

The sheet is read by a patient the evening after a session, so it is ordered by what
matters most: whom to call first, then what is not allowed yet (in the order it
lifts), what needs care, what is fine already, the advice, and the sources.  One
composer fixes that order; one writer per format writes it out, escaping every text
that comes from a ruleset or a caller for its medium (``escape.py``).

The sheet's own words are gettext messages (``catalog.py``); the ruleset's texts come
from the ruleset, or from its clinician-reviewed translation into the patient's
language where it has one.
"""

from __future__ import annotations

import abc
import datetime as dt
import functools
import re
import string
import textwrap
import warnings
from collections.abc import Callable, Iterable
from typing import Literal, TypeAlias

from attrs import frozen

from ketamine_guidance._engine.course import CoursePlan
from ketamine_guidance._engine.plan import AftercarePlan, Decision, Override, TimelineEntry
from ketamine_guidance._engine.session import Session, ensure_aware
from ketamine_guidance._errors import BeforeSessionEndError, GuidanceError, SheetWarning
from ketamine_guidance._formats.catalog import LANGUAGES, N_, catalogue
from ketamine_guidance._formats.escape import html_text, markdown
from ketamine_guidance._formats.text import (
    format_date,
    format_local,
    format_offset,
    round_up_to_minute,
)
from ketamine_guidance._rules.model import Advice, AdviceCategory, Rule, Status, Translation
from ketamine_guidance._rules.ruleset import Ruleset
from ketamine_guidance._text import shorten, visible

__all__ = ["SheetFormat", "render_sheet"]

SheetFormat = Literal["text", "markdown", "html"]
_FORMATS: tuple[SheetFormat, ...] = ("text", "markdown", "html")
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*")
_UTC = dt.timezone.utc

# The sheet's own words: each is a gettext message (catalog.py).

_PATIENT = N_("Patient: {patient}")
_PRINTED = N_("Printed on {time}")
_ENDED = N_("Your session ended: {time}")
_COURSE = N_("This sheet is for session {number} of {count} in your course.")
_COURSE_TIMES = N_("The times below count every session so far.")
_ZONE_PLACE = N_("All times on this sheet are {place} time.")
_ZONE_OFFSET = N_("All times on this sheet are in {offset}.")
_CLOCKS = N_("The clocks change on {date}. The times on this sheet already allow for it.")
_UNTRANSLATED = N_(
    "Some texts on this sheet are in {language}. No translation of them has been "
    "checked by a clinician yet."
)
_HELP = N_("When to get help")
_CLINIC = N_("Your clinic:")
_CLINIC_BLANK = N_("Your clinic's phone number:")
_EMERGENCY = N_("In an emergency:")
_EMERGENCY_GENERIC = N_("If you feel very unwell or unsafe, call your local emergency number now.")
_RIGHT_NOW = N_("Right now: {time}")
_NOW_NOT_UNTIL = N_("Not allowed until {time}.")
_NOW_NOT_EVER = N_("Not allowed. There is no end date.")
_NOW_CARE_UNTIL = N_("Take care until {time}.")
_NOW_CARE_EVER = N_("Take care. There is no end date.")
_NOTHING_NOW = N_("Nothing on this sheet is limited right now.")
_NOT_YET = N_("Not allowed yet")
_NOT_BEFORE = N_("Not before {time}.")
_NO_END = N_("No end is given.")
_BEYOND = N_(
    "Not allowed for as long as this sheet can tell: "
    "the end is beyond the dates this library can represent."
)
_CAREFUL = N_("Take care with")
_CARE_UNTIL = N_("Take care until {time}; after that it is allowed.")
_CARE_NO_END = N_("Take care. There is no end date.")
_FINE = N_("Fine already")
_CHANGED = N_("Changed by {clinician}: {status} from {time}.")
_CHANGED_UNTIL = N_("Changed by {clinician}: {status} from {time} until {until}.")
_USUAL = N_("Usual advice: {reason}")
_ADVICE = N_("Advice")
_ACTIONS = N_("What you can do:")
_EXAMPLES = N_("For example:")
_SOURCES = N_("Sources")
_RULESET = N_("This sheet follows “{title}” ({id}, version {version}).")
_REVIEWED = N_("Reviewed by {name} on {date}.")
_REVIEWED_BY = N_("Reviewed by {name}.")
_CITED = N_("{title}: {sections}.")
_PAGE = N_("Page {page} of {pages}")
_STATUS_WORDS = {
    Status.PERMITTED: N_("allowed"),
    Status.PERMITTED_WITH_CAUTION: N_("allowed with care"),
    Status.NOT_PERMITTED: N_("not allowed"),
}
_CATEGORY_TITLES = {
    AdviceCategory.AFTER_EFFECTS: N_("After-effects"),
    AdviceCategory.INTEGRATION: N_("Integration"),
    AdviceCategory.INTERPRETATION: N_("Interpreting your experience"),
    AdviceCategory.CONTINUING_CARE: N_("Continuing care"),
    AdviceCategory.LIFESTYLE: N_("Lifestyle"),
    AdviceCategory.EXPECTATIONS: N_("What to expect"),
}
_BLANK = "_" * 28


# The document's pieces


@frozen
class _Moment:
    text: str  # for the reader: "Thu 26 Nov 2026, 06:00 EST"
    iso: str  # for machines (HTML <time datetime>): the exact instant


Part: TypeAlias = "str | _Moment"
Rich: TypeAlias = "tuple[Part, ...]"


@frozen
class _Item:
    """One entry of a list: a bold label, what it says, then notes below it."""

    label: str
    head: Rich
    notes: tuple[Rich, ...]


def render_sheet(  # noqa: PLR0913  (the options after * are keyword-only, each named at the call)
    plan: AftercarePlan | CoursePlan,
    *,
    format: SheetFormat = "text",  # noqa: A002  (the public keyword the issue names)
    now: dt.datetime | None = None,
    locale: str | None = None,
    patient: str | None = None,
    printed_at: dt.datetime | None = None,
) -> str:
    """The patient's aftercare sheet for ``plan``, as text, Markdown or a printable HTML page.

    ``plan`` is an :class:`~ketamine_guidance.AftercarePlan`, or a
    :class:`~ketamine_guidance.CoursePlan`: then the sheet is for the course's latest
    session, says which session of the course it is, and its times are the course's
    (the most restrictive answer of every session).

    In order: the title, ``patient`` and ``printed_at`` (when given), when the session
    ended and the zone in words; **when to get help** (the clinic's ``contact``, or a
    labelled blank line to write its number on, and the emergency line); what is
    limited **right now** (only with ``now``); what is **not allowed yet**, in the order
    it lifts; what to **take care with**; what is **fine already**; the **advice** by
    category; the **sources**.  Each reason appears once.

    ``locale`` (None: ``"en"``) sets the language of the sheet's own words, the clock and
    the HTML ``lang``.  ``"en"`` writes ``Thu 26 Nov 2026, 06:00 EST`` and ``"en_US"``
    ``Thu Nov 26, 2026, 6:00 AM EST``, both with nothing else installed; other locales
    (``"en_GB"``, ``"es"``, ``"de_DE"``, ``"fr"``) need Babel, the extra
    ``ketamine-guidance[i18n]``.  The ruleset's texts are shown in the patient's
    language only from a translation a clinician has reviewed; otherwise they stay in
    the ruleset's language, and the sheet says so.

    Issues :class:`~ketamine_guidance.SheetWarning` when the ruleset has no contact line.

    >>> import datetime as dt, attrs
    >>> from ketamine_guidance import Session, default_ruleset, plan_for, render_sheet
    >>> ruleset = attrs.evolve(default_ruleset(), contact="Call 555-0100.")
    >>> ended = dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.timezone.utc)
    >>> plan = plan_for(Session(ended, "America/New_York"), ruleset)
    >>> print(render_sheet(plan, locale="en_US").splitlines()[3])
    Your session ended: Wed Nov 25, 2026, 6:30 PM EST

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Help first and restrictions before what is allowed; course plans; ``patient``,
       ``printed_at``; the sheet's own words in German, French and Spanish; reviewed
       ruleset translations; the clock follows the locale (``locale`` defaults to None).
    """
    if isinstance(plan, CoursePlan):
        session, number, count = plan.sessions[-1], len(plan.sessions), len(plan.sessions)
    elif isinstance(plan, AftercarePlan):
        session, number, count = plan.session, 0, 1
    else:
        msg = f"plan must be an AftercarePlan or a CoursePlan, not {type(plan).__name__}"
        raise TypeError(msg)
    now, printed_at = _checked_options(format, patient, now, printed_at, session)
    clock = _Clock.for_locale("en" if locale is None else locale, session.timezone)
    sheet = _Sheet(plan, session, clock, number, count)
    if plan.ruleset.contact is None:
        warnings.warn(
            SheetWarning(
                f"ruleset {plan.ruleset.id!r} has no contact line: the sheet leaves a blank "
                "line to write the clinic's phone number on"
            ),
            stacklevel=2,
        )
    writer: _Writer
    if format == "text":
        writer = _TextWriter()
    elif format == "markdown":
        writer = _MarkdownWriter()
    else:
        page = clock.say(_PAGE, page="\0page", pages="\0pages")
        running = (
            clock.say(_PATIENT, patient=patient) if patient else "",
            clock.say(_PRINTED, time=clock.when(printed_at).text) if printed_at else "",
        )
        writer = _HtmlWriter(sheet.title, clock.lang, page, running)
    sheet.compose(writer, now=now, patient=patient, printed_at=printed_at)
    return writer.finish()


def _checked_options(
    format: object,  # noqa: A002  (render_sheet's own name for it)
    patient: object,
    now: dt.datetime | None,
    printed_at: dt.datetime | None,
    session: Session,
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``render_sheet``'s options checked, with ``now`` and ``printed_at`` aware."""
    if not isinstance(format, str):
        msg = f"format must be a string (one of {', '.join(_FORMATS)}), not {type(format).__name__}"
        raise TypeError(msg)
    if format not in _FORMATS:
        msg = f"unknown sheet format {format!r} (known: {', '.join(_FORMATS)})"
        raise GuidanceError(msg)
    if patient is not None and (not isinstance(patient, str) or not patient.strip()):
        msg = f"patient must be a name or identifier line, not {shorten(repr(patient))}"
        raise GuidanceError(msg)
    if printed_at is not None:
        printed_at = ensure_aware(printed_at, "printed_at")
    if now is not None:
        now = ensure_aware(now, "now")
        if now < session.ended_at_utc:
            msg = (
                f"now ({now.isoformat()}) is before the session ended "
                f"({session.ended_at_local.isoformat()})"
            )
            raise BeforeSessionEndError(msg)
    return now, printed_at


# Dates, times and the sheet's own words in the patient's locale


def _babel_locale(locale: str) -> object:
    try:
        import babel
    except ImportError:
        msg = (
            f"locale {locale!r} needs Babel: install 'ketamine-guidance[i18n]' "
            "(the locales 'en' and 'en_US' need nothing)"
        )
        raise GuidanceError(msg) from None
    try:
        return babel.Locale.parse(locale.replace("-", "_"))
    except (ValueError, babel.UnknownLocaleError):
        msg = f"unknown locale {locale!r}"
        raise GuidanceError(msg) from None


@functools.cache
def _abbreviation_offsets() -> dict[str, frozenset[dt.timedelta]]:
    """Every zone abbreviation in the tz database, with the UTC offsets it stands for.

    Sampled in January and July of two years, which is enough to find the names that
    several zones use for different offsets (IST: India, Ireland, Israel; CST: ...).
    """
    import zoneinfo

    found: dict[str, set[dt.timedelta]] = {}
    for name in zoneinfo.available_timezones():
        zone = zoneinfo.ZoneInfo(name)
        for year in (2000, 2026):
            for month in (1, 7):
                moment = dt.datetime(year, month, 15, 12, tzinfo=zone)
                offset = moment.utcoffset() or dt.timedelta(0)
                found.setdefault(str(moment.tzname()), set()).add(offset)
    return {abbr: frozenset(offsets) for abbr, offsets in found.items()}


_NUMERIC = re.compile(r"[+-]\d{2,4}|UTC[+-].*|GMT[+-].*")


def _needs_offset(abbr: str | None) -> bool:
    """Whether an abbreviation alone could be misread: numeric ("-03"), or one that
    the tz database uses for more than one UTC offset ("IST", "CST")."""
    if abbr is None or _NUMERIC.fullmatch(abbr):
        return True
    return len(_abbreviation_offsets().get(abbr, ())) > 1


@frozen
class _Clock:
    """How the patient's locale writes times, and the sheet's own words in its language."""

    lang: str  # the HTML lang tag: "en", "de-DE"
    language: str  # the language alone: "en", "de"
    tz: dt.tzinfo
    words: dict[str, str]  # message id -> text (empty: English)
    babel_locale: object | None  # None: the library's own English forms
    us: bool

    @classmethod
    def for_locale(cls, locale: object, tz: dt.tzinfo) -> _Clock:
        if not isinstance(locale, str) or not _LOCALE.fullmatch(locale):
            msg = f"locale must be a locale name such as 'en' or 'de_DE', not {locale!r}"
            raise GuidanceError(msg)
        lang = locale.replace("_", "-")
        if locale in ("en", "en_US", "en-US"):
            return cls(lang, "en", tz, {}, None, us=locale != "en")
        parsed = _babel_locale(locale)
        language = str(getattr(parsed, "language", "en"))
        if language == "en":
            return cls(lang, "en", tz, {}, parsed, us=False)
        if language not in LANGUAGES:
            msg = (
                f"the sheet has no {language!r} translation of its own words "
                f"(it has: en, {', '.join(LANGUAGES)})"
            )
            raise GuidanceError(msg)
        return cls(lang, language, tz, dict(catalogue(language)), parsed, us=False)

    def say(self, message: str, **values: object) -> str:
        """``message`` in the patient's language, with ``values`` filled in."""
        return self.words.get(message, message).format(**values)

    def rich(self, message: str, **values: str | _Moment) -> Rich:
        """``message`` in the patient's language, split around its values (times stay
        times, for HTML's ``<time>``)."""
        parts: list[Part] = []
        for literal, field, _spec, _conv in string.Formatter().parse(
            self.words.get(message, message)
        ):
            parts.append(literal)
            if field is not None:
                parts.append(values[field])
        return tuple(parts)

    def when(self, instant: dt.datetime) -> _Moment:
        """An instant as the patient reads it: local date, time, abbreviation, and the
        UTC offset where the abbreviation alone could be misread.  Never earlier than
        the instant (a time part-way through a minute shows the next minute)."""
        local = round_up_to_minute(instant.astimezone(self.tz))
        offset = local.utcoffset() or dt.timedelta(0)
        abbr = local.tzname()
        if self.babel_locale is None:
            text = format_local(local, us=self.us)
        else:
            import babel.dates

            day = babel.dates.format_skeleton(
                "yMMMEd",
                local,
                tzinfo=self.tz,
                locale=self.babel_locale,  # type: ignore[arg-type]
            )
            time = babel.dates.format_time(
                local,
                "short",
                tzinfo=self.tz,
                locale=self.babel_locale,  # type: ignore[arg-type]
            )
            text = f"{day}, {time} {abbr or format_offset(offset)}"
        if abbr is not None and abbr != format_offset(offset) and _needs_offset(abbr):
            text += f" ({format_offset(offset)})"
        return _Moment(text, instant.astimezone(self.tz).isoformat())

    def day(self, instant: dt.datetime) -> str:
        local = instant.astimezone(self.tz)
        if self.babel_locale is None:
            return format_date(local, us=self.us)
        import babel.dates

        return babel.dates.format_skeleton(
            "yMMMEd",
            local,
            tzinfo=self.tz,
            locale=self.babel_locale,  # type: ignore[arg-type]
        )

    def place(self, zone: str | None) -> str | None:
        """The zone in words ("New York"), never its raw id; None for UTC and fixed offsets."""
        if zone is None or zone in ("UTC", "GMT") or zone.startswith(("Etc/", "UTC", "GMT")):
            return None
        if self.babel_locale is not None:
            import zoneinfo

            import babel.dates

            city = babel.dates.get_timezone_location(
                zoneinfo.ZoneInfo(zone),
                locale=self.babel_locale,  # type: ignore[arg-type]
                return_city=True,
            )
            return str(city)
        return zone.rsplit("/", 1)[-1].replace("_", " ")

    def language_name(self, code: str) -> str:
        """A language's name in the patient's language ("inglés"), or its code."""
        if self.babel_locale is None:
            names = {"en": "English", "es": "Spanish", "de": "German", "fr": "French"}
            return names.get(code.split("_", maxsplit=1)[0], code)
        import babel

        try:
            name = babel.Locale.parse(code).get_display_name(self.babel_locale)  # type: ignore[arg-type]
        except (ValueError, babel.UnknownLocaleError):
            name = None
        return name or code


# The ruleset's texts, from a reviewed translation where there is one


class _Texts:
    """The ruleset's texts for the patient: the reviewed translation into their
    language where it gives one, the ruleset's own otherwise (and then ``fallback``)."""

    def __init__(self, ruleset: Ruleset, language: str, lang_tag: str) -> None:
        self.differs = language != ruleset.language.split("_")[0]
        self.tr: Translation | None = None
        self.fallback = False
        if self.differs:
            # Only one reviewed against the current texts: never a stale translation.
            self.tr = ruleset.reviewed_translation(
                lang_tag.replace("-", "_")
            ) or ruleset.reviewed_translation(language)

    def pick(self, translated: str | None, own: str) -> str:
        if translated:
            return translated
        if self.differs:
            self.fallback = True
        return own

    def ruleset_text(self, name: str, own: str) -> str:
        return self.pick(getattr(self.tr, name, None) if self.tr else None, own)

    def rule(self, rule: Rule, name: str) -> str:
        found = None
        if self.tr is not None:
            found = next((r for r in self.tr.rules if r.activity == rule.activity), None)
        return self.pick(getattr(found, name, None) if found else None, getattr(rule, name))

    def advice(self, advice: Advice, name: str) -> str:
        return self.pick(getattr(self._advice(advice), name, None), getattr(advice, name))

    def advice_list(self, advice: Advice, name: str) -> tuple[str, ...]:
        own: tuple[str, ...] = getattr(advice, name)
        found = self._advice(advice)
        given: tuple[str, ...] = getattr(found, name) if found is not None else ()
        if len(given) == len(own) and given:
            return given
        return tuple(self.pick(None, text) for text in own)

    def _advice(self, advice: Advice) -> object | None:
        if self.tr is None:
            return None
        return next((a for a in self.tr.advice if a.id == advice.id), None)


# Building the sheet


def _clock_change(
    tz: dt.tzinfo, start: dt.datetime, instants: Iterable[dt.datetime]
) -> dt.datetime | None:
    """The first instant after ``start`` at which the zone's UTC offset changes, if that
    happens before the last of ``instants``; found by halving, to the second."""
    before = start.astimezone(tz).utcoffset()
    changed = [i for i in instants if i.astimezone(tz).utcoffset() != before]
    if not changed:
        return None
    low, high = start, min(changed)
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high


def _restricts(entry: TimelineEntry) -> bool:
    """Whether the activity is ever NOT_PERMITTED before it is permitted for good."""
    return entry.status_until_lift is Status.NOT_PERMITTED or any(
        o.status is Status.NOT_PERMITTED for o in entry.overrides
    )


class _Sheet:
    def __init__(
        self,
        plan: AftercarePlan | CoursePlan,
        session: Session,
        clock: _Clock,
        number: int,
        count: int,
    ) -> None:
        self.plan, self.session, self.clock = plan, session, clock
        self.ruleset = plan.ruleset
        self.number, self.count = number, count
        self.texts = _Texts(self.ruleset, clock.language, clock.lang)
        self.title = self.texts.ruleset_text("title", self.ruleset.title)
        self.timeline = plan.timeline()

    # The parts, in order

    def compose(
        self,
        w: _Writer,
        *,
        now: dt.datetime | None,
        patient: str | None,
        printed_at: dt.datetime | None,
    ) -> None:
        c, ended = self.clock, self.session.ended_at_utc
        # Collect the body first: the note on untranslated texts belongs in the header.
        body = _Recorder()
        self.help(body)
        if now is not None:
            self.right_now(body, now)
        self.lists(body)
        self.advice(body)
        footer = _Recorder()
        self.sources(footer)

        w.heading(1, (self.title,))
        if patient is not None:
            w.paragraph(c.rich(_PATIENT, patient=patient), css="running")
        if printed_at is not None:
            w.paragraph(c.rich(_PRINTED, time=c.when(printed_at)), css="running")
        w.paragraph(c.rich(_ENDED, time=c.when(ended)))
        if self.number:
            course = c.rich(_COURSE, number=str(self.number), count=str(self.count))
            w.paragraph((*course, " ", *c.rich(_COURSE_TIMES)))
        place = c.place(self.session.zone_name)
        if place is not None:
            w.paragraph(c.rich(_ZONE_PLACE, place=place))
        else:
            offset = ended.astimezone(self.session.timezone).utcoffset() or dt.timedelta(0)
            w.paragraph(c.rich(_ZONE_OFFSET, offset=format_offset(offset)))
        lifts = [e.permitted_from_utc for e in self.timeline if e.permitted_from_utc is not None]
        change = _clock_change(self.session.timezone, ended, lifts)
        if change is not None:
            w.paragraph(c.rich(_CLOCKS, date=c.day(change)))
        if self.texts.fallback:
            language = c.language_name(self.ruleset.language)
            w.paragraph(c.rich(_UNTRANSLATED, language=language), css="note")
        w.start_main()
        body.replay(w)
        w.start_footer()
        footer.replay(w)

    def help(self, w: _Writer) -> None:
        c, t, rs = self.clock, self.texts, self.ruleset
        w.section("help", css="help")
        w.heading(2, c.rich(_HELP))
        if rs.contact is not None:
            w.labelled(c.say(_CLINIC), t.ruleset_text("contact", rs.contact))
        else:
            w.write_in(c.say(_CLINIC_BLANK))
        # The generic line (the default ruleset's) is the sheet's own words too, so it is
        # shown in the patient's language even where the ruleset has no translation of it.
        translated = t.tr.emergency if t.tr is not None else None
        if rs.emergency is None or (rs.emergency == _EMERGENCY_GENERIC and not translated):
            w.labelled(c.say(_EMERGENCY), c.say(_EMERGENCY_GENERIC))
        else:
            w.labelled(c.say(_EMERGENCY), t.ruleset_text("emergency", rs.emergency))
        w.end_section()

    def right_now(self, w: _Writer, now: dt.datetime) -> None:
        c = self.clock
        decisions = self.plan.decisions_at(now)
        not_yet: list[_Item] = []
        careful: list[_Item] = []
        for d in sorted(decisions, key=_decision_order):
            label = self.label(d.activity)
            lift = d.permitted_from_utc
            if d.status is Status.NOT_PERMITTED:
                if lift is not None:
                    head = c.rich(_NOW_NOT_UNTIL, time=c.when(lift))
                else:
                    head = c.rich(_BEYOND if d.lifts_beyond_range else _NOW_NOT_EVER)
                not_yet.append(_Item(label, head, ()))
            elif d.status is Status.PERMITTED_WITH_CAUTION:
                head = (
                    c.rich(_NOW_CARE_EVER)
                    if lift is None
                    else c.rich(_NOW_CARE_UNTIL, time=c.when(lift))
                )
                careful.append(_Item(label, head, ()))
        w.section("right-now")
        w.heading(2, c.rich(_RIGHT_NOW, time=c.when(now)))
        if not_yet or careful:
            w.items((*not_yet, *careful))
        else:
            w.paragraph(c.rich(_NOTHING_NOW))
        w.end_section()

    def lists(self, w: _Writer) -> None:
        c, ended = self.clock, self.session.ended_at_utc
        not_yet: list[_Item] = []
        careful: list[_Item] = []
        fine: list[_Item] = []
        for entry in self.timeline:  # already in lift order, never-lifting last
            lift = entry.permitted_from_utc
            # Under a clinician's change the rule's own reason is the usual advice, not
            # the answer: it is labelled so, below the change that now applies.
            reason = self.reason(entry.activity)
            if entry.overrides:
                reason = c.rich(_USUAL, reason="".join(p for p in reason if isinstance(p, str)))
            notes = (reason, *self.override_lines(entry.overrides))
            label = self.label(entry.activity)
            if lift is not None and lift <= ended:  # a course's can be an earlier session's end
                fine.append(_Item(label, (), notes))
            elif _restricts(entry):
                if lift is not None:
                    head = c.rich(_NOT_BEFORE, time=c.when(lift))
                else:
                    head = c.rich(_BEYOND if entry.lifts_beyond_range else _NO_END)
                not_yet.append(_Item(label, head, notes))
            else:
                head = (
                    c.rich(_CARE_NO_END) if lift is None else c.rich(_CARE_UNTIL, time=c.when(lift))
                )
                careful.append(_Item(label, head, notes))
        for ident, title, items in (
            ("not-allowed", _NOT_YET, not_yet),
            ("take-care", _CAREFUL, careful),
            ("fine", _FINE, fine),
        ):
            if items:
                w.section(ident, css="keep")
                w.heading(2, c.rich(title))
                w.items(tuple(items))
                w.end_section()

    def advice(self, w: _Writer) -> None:
        c, t = self.clock, self.texts
        groups = [(cat, self.plan_advice(cat)) for cat in AdviceCategory]
        groups = [(cat, items) for cat, items in groups if items]
        if not groups:
            return
        w.section("advice")
        w.heading(2, c.rich(_ADVICE))
        for category, items in groups:
            w.section(None)
            w.heading(3, c.rich(_CATEGORY_TITLES[category]))
            for advice in items:
                w.section(f"advice-{advice.id}", css="advice")
                w.heading(4, (t.advice(advice, "title"),))
                w.paragraph((t.advice(advice, "text"),))
                for heading, name in ((_ACTIONS, "actions"), (_EXAMPLES, "examples")):
                    entries = t.advice_list(advice, name)
                    if entries:
                        w.paragraph(c.rich(heading))
                        w.bullets(entries)
                w.end_section()
            w.end_section()
        w.end_section()

    def sources(self, w: _Writer) -> None:
        c, rs = self.clock, self.ruleset
        w.heading(2, c.rich(_SOURCES))
        line = c.rich(_RULESET, title=rs.title, id=rs.id, version=rs.version)
        if rs.reviewed_by and rs.reviewed_on:
            line += (" ", *c.rich(_REVIEWED, name=rs.reviewed_by, date=rs.reviewed_on.isoformat()))
        elif rs.reviewed_by:
            line += (" ", *c.rich(_REVIEWED_BY, name=rs.reviewed_by))
        w.paragraph(line)
        cited: dict[str, dict[str, None]] = {}
        for source in [r.source for r in rs.rules] + [a.source for a in rs.advice]:
            cited.setdefault(source.title, {}).setdefault(source.section)
        w.bullets(
            tuple(
                c.say(_CITED, title=f"“{title}”", sections="; ".join(sections))
                for title, sections in cited.items()
            )
        )

    # Helpers

    def plan_advice(self, category: AdviceCategory) -> tuple[Advice, ...]:
        return tuple(a for a in self.ruleset.advice if a.category is category)

    def label(self, activity: str) -> str:
        return self.texts.rule(self.ruleset.rule(activity), "label")

    def reason(self, activity: str) -> Rich:
        return (self.texts.rule(self.ruleset.rule(activity), "reason"),)

    def override_lines(self, overrides: tuple[Override, ...]) -> tuple[Rich, ...]:
        c, ended = self.clock, self.session.ended_at_utc
        lines: list[Rich] = []
        for ov in overrides:
            start = c.when(max(ov.effective_from_utc, ended))
            status = c.say(_STATUS_WORDS[ov.status])
            if ov.until_utc is None:
                line = c.rich(_CHANGED, clinician=ov.clinician, status=status, time=start)
            else:
                until = c.when(ov.until_utc)
                line = c.rich(
                    _CHANGED_UNTIL, clinician=ov.clinician, status=status, time=start, until=until
                )
            lines.append(line + ((" ", ov.note) if ov.note else ()))
        return tuple(lines)


def _decision_order(d: Decision) -> tuple[bool, dt.datetime]:
    lift = d.permitted_from_utc
    return (lift is None, lift or dt.datetime.max.replace(tzinfo=_UTC))


# Writing the document out: one writer per format


class _Writer(abc.ABC):
    """Collects one format's lines.  Every method escapes the text it is given."""

    def __init__(self) -> None:
        self.out: list[str] = []

    @abc.abstractmethod
    def heading(self, level: int, text: Rich) -> None:
        """A heading of ``level`` 1 to 4."""

    @abc.abstractmethod
    def paragraph(self, text: Rich, css: str | None = None) -> None:
        """A paragraph."""

    @abc.abstractmethod
    def labelled(self, label: str, text: str) -> None:
        """A line set apart: a bold label and its text (the clinic, the emergency line)."""

    @abc.abstractmethod
    def write_in(self, label: str) -> None:
        """A labelled blank line to write on (HTML: a ruled line)."""

    @abc.abstractmethod
    def items(self, items: tuple[_Item, ...]) -> None:
        """A list of labelled items, each with its notes."""

    @abc.abstractmethod
    def bullets(self, texts: tuple[str, ...]) -> None:
        """A plain bulleted list."""

    def section(self, ident: str | None, css: str | None = None) -> None:  # noqa: B027 (a hook)
        """Start a section (only HTML marks sections)."""

    def end_section(self) -> None:  # noqa: B027 (a hook: only HTML marks sections)
        """End the section last started."""

    def start_main(self) -> None:  # noqa: B027 (a hook: only HTML marks the main part)
        """End the header and start the main part."""

    def start_footer(self) -> None:  # noqa: B027 (a hook: only HTML marks the footer)
        """Start the closing part of the sheet."""

    def finish(self) -> str:
        return "\n".join(self.out) + "\n"


class _Recorder(_Writer):
    """Records writer calls, to be replayed into the real writer later."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Callable[[_Writer], None]] = []

    def heading(self, level: int, text: Rich) -> None:
        self.calls.append(lambda w: w.heading(level, text))

    def paragraph(self, text: Rich, css: str | None = None) -> None:
        self.calls.append(lambda w: w.paragraph(text, css))

    def labelled(self, label: str, text: str) -> None:
        self.calls.append(lambda w: w.labelled(label, text))

    def write_in(self, label: str) -> None:
        self.calls.append(lambda w: w.write_in(label))

    def items(self, items: tuple[_Item, ...]) -> None:
        self.calls.append(lambda w: w.items(items))

    def bullets(self, texts: tuple[str, ...]) -> None:
        self.calls.append(lambda w: w.bullets(texts))

    def section(self, ident: str | None, css: str | None = None) -> None:
        self.calls.append(lambda w: w.section(ident, css))

    def end_section(self) -> None:
        self.calls.append(lambda w: w.end_section())

    def replay(self, writer: _Writer) -> None:
        for call in self.calls:
            call(writer)


def _clean(text: str) -> str:
    """Unsafe characters shown as escapes (:func:`~ketamine_guidance._text.visible`),
    then whitespace collapsed: a ruleset's line breaks never change the sheet's layout."""
    return " ".join(visible(text).split())


def _plain(text: Rich) -> str:
    return _clean("".join(p if isinstance(p, str) else p.text for p in text))


# Plain text

_WIDTH = 78
_KEEP = "\ue000"  # a private-use character: neither textwrap nor _clean splits at it
_UNDERLINES = {1: "=", 2: "-", 3: "~"}


class _TextWriter(_Writer):
    def __init__(self) -> None:
        super().__init__()
        self.indent = ""

    def wrap(self, text: str, first: str = "", rest: str = "") -> None:
        lines = textwrap.wrap(
            visible(_clean(text)),
            _WIDTH,
            initial_indent=self.indent + first,
            subsequent_indent=self.indent + rest,
            break_long_words=False,
            break_on_hyphens=False,
        )
        self.out += [line.replace(_KEEP, " ") for line in lines]

    def rich(self, text: Rich) -> str:
        """A time's words held together on one line (wrap never breaks at _KEEP)."""
        return "".join(p if isinstance(p, str) else p.text.replace(" ", _KEEP) for p in text)

    def heading(self, level: int, text: Rich) -> None:
        line = visible(_plain(text))
        if self.out and self.out[-1]:
            self.out.append("")
        self.indent = "  " if level == 4 else ""
        if level == 4:
            self.out.append(line)
        else:
            self.out += [line, _UNDERLINES[level] * len(line)]
            if level < 3:
                self.out.append("")

    def paragraph(self, text: Rich, css: str | None = None) -> None:  # noqa: ARG002
        self.wrap(self.rich(text))

    def labelled(self, label: str, text: str) -> None:
        self.wrap(f"{label} {text}")

    def write_in(self, label: str) -> None:
        self.wrap(f"{label} {_BLANK}")

    def items(self, items: tuple[_Item, ...]) -> None:
        for item in items:
            head = f"{item.label}: {self.rich(item.head)}" if item.head else item.label
            self.wrap(head, "- ", "  ")
            for note in item.notes:
                self.wrap(self.rich(note), "  ", "  ")

    def bullets(self, texts: tuple[str, ...]) -> None:
        for text in texts:
            self.wrap(text, "- ", "  ")

    def start_footer(self) -> None:
        self.indent = ""


# Markdown


def _md(text: Rich | str) -> str:
    return markdown(_clean(text if isinstance(text, str) else _plain(text)))


class _MarkdownWriter(_Writer):
    def block(self, *lines: str) -> None:
        if self.out:
            self.out.append("")
        self.out += lines

    def heading(self, level: int, text: Rich) -> None:
        self.block(f"{'#' * level} {_md(text)}")

    def paragraph(self, text: Rich, css: str | None = None) -> None:  # noqa: ARG002
        self.block(_md(text))

    def labelled(self, label: str, text: str) -> None:
        self.block(f"**{_md(label)}** {_md(text)}")

    def write_in(self, label: str) -> None:
        self.block(f"**{_md(label)}** {_md(_BLANK)}")

    def items(self, items: tuple[_Item, ...]) -> None:
        entries: list[str] = []
        for item in items:
            rest = f": {_md(item.head)}" if item.head else ""
            lines = [f"- **{_md(item.label)}**{rest}", *(f"  {_md(n)}" for n in item.notes)]
            entries.append("\\\n".join(lines))  # a backslash keeps each note on its own line
        self.block(*entries)

    def bullets(self, texts: tuple[str, ...]) -> None:
        self.block(*(f"- {_md(t)}" for t in texts))


# HTML


_SPACES = re.compile(r"\s+")


def _e(text: str) -> str:
    return html_text(_clean(text))


def _h(text: Rich) -> str:
    """Rich text as HTML: each time a ``<time>`` element with the exact instant."""
    parts = [
        html_text(_SPACES.sub(" ", p))
        if isinstance(p, str)
        else f'<time datetime="{_e(p.iso)}">{_e(p.text)}</time>'
        for p in text
    ]
    return "".join(parts).strip()


def _css_string(text: str) -> str:
    """A CSS string that shows ``text``: everything but ASCII letters and digits as a
    six-digit escape, so no text can end the string or the style sheet.  Spaces are
    escaped too: CSS takes one space after an escape as part of the escape."""
    shown = visible(_SPACES.sub(" ", text))
    return (
        '"'
        + "".join(ch if ch.isascii() and ch.isalnum() else f"\\{ord(ch):06x}" for ch in shown)
        + '"'
    )


def _page_content(message: str) -> str:
    """``Page {page} of {pages}`` (translated) as CSS ``content`` with the page counters."""
    pieces: list[str] = []
    for chunk in re.split(r"(\0pages|\0page)", message):
        if chunk == "\0page":
            pieces.append("counter(page)")
        elif chunk == "\0pages":
            pieces.append("counter(pages)")
        elif chunk:
            pieces.append(_css_string(chunk))
    return " ".join(pieces)


_STYLE = """
:root { color-scheme: light; }
body { font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       color: #111; background: #fff; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.7rem; margin: 0 0 0.5rem; }
h2 { font-size: 1.3rem; margin: 1.5rem 0 0.5rem; border-bottom: 2px solid #444; }
h3 { font-size: 1.15rem; margin: 1.25rem 0 0.25rem; }
h4 { font-size: 1rem; margin: 1rem 0 0.25rem; }
ul { padding-left: 1.25rem; margin: 0.25rem 0; }
li { margin: 0.35rem 0; }
p { margin: 0.25rem 0; }
li p { margin: 0.1rem 0; }
.note { color: #333; }
.help { border: 3px solid #111; padding: 0.25rem 0.75rem 0.5rem; }
.help h2 { margin-top: 0.5rem; }
.blank { display: inline-block; min-width: 16em; border-bottom: 1px solid #111; }
footer { font-size: 0.9rem; color: #333; }
@media print {
  body { font-size: 11pt; max-width: none; margin: 0; padding: 0; }
  .running { display: none; }
  .blank { min-width: 22em; height: 1.4em; vertical-align: bottom; }
  h2, h3, h4 { break-after: avoid; page-break-after: avoid; }
  li { margin: 0.2rem 0; }
  .keep, .help, li, .advice { break-inside: avoid; page-break-inside: avoid; }
}
""".strip()


class _HtmlWriter(_Writer):
    def __init__(self, title: str, lang: str, page: str, running: tuple[str, str]) -> None:
        super().__init__()
        patient, printed = running
        margins = [f"@bottom-center {{ content: {_page_content(page)}; }}"]
        if patient:
            margins.append(f"@top-left {{ content: {_css_string(patient)}; }}")
        if printed:
            margins.append(f"@top-right {{ content: {_css_string(printed)}; }}")
        small = "{ font: 9pt sans-serif; }"
        page_rule = (
            "@page { margin: 18mm 15mm;\n  "
            + "\n  ".join(margins)
            + f"\n}}\n@page {{ @top-left {small} @top-right {small} @bottom-center {small} }}"
        )
        self.out += [
            "<!DOCTYPE html>",
            f'<html lang="{_e(lang)}">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            f"<style>\n{_STYLE}\n{page_rule}\n</style>",
            "</head>",
            "<body>",
            "<header>",
        ]

    def heading(self, level: int, text: Rich) -> None:
        self.out.append(f"<h{level}>{_h(text)}</h{level}>")

    def paragraph(self, text: Rich, css: str | None = None) -> None:
        attrs = f' class="{_e(css)}"' if css else ""
        self.out.append(f"<p{attrs}>{_h(text)}</p>")

    def labelled(self, label: str, text: str) -> None:
        self.out.append(f"<p><strong>{_e(label)}</strong> {_e(text)}</p>")

    def write_in(self, label: str) -> None:
        self.out.append(f'<p><strong>{_e(label)}</strong> <span class="blank"></span></p>')

    def items(self, items: tuple[_Item, ...]) -> None:
        self.out.append("<ul>")
        for item in items:
            rest = f": {_h(item.head)}" if item.head else ""
            notes = "".join(f'<p class="note">{_h(n)}</p>' for n in item.notes)
            self.out.append(f"<li><p><strong>{_e(item.label)}</strong>{rest}</p>{notes}</li>")
        self.out.append("</ul>")

    def bullets(self, texts: tuple[str, ...]) -> None:
        self.out += ["<ul>", *(f"<li>{_e(t)}</li>" for t in texts), "</ul>"]

    def section(self, ident: str | None, css: str | None = None) -> None:
        attrs = (f' id="{_e(ident)}"' if ident else "") + (f' class="{_e(css)}"' if css else "")
        self.out.append(f"<section{attrs}>")

    def end_section(self) -> None:
        self.out.append("</section>")

    def start_main(self) -> None:
        self.out += ["</header>", "<main>"]

    def start_footer(self) -> None:
        self.out += ["</main>", "<footer>"]

    def finish(self) -> str:
        self.out += ["</footer>", "</body>", "</html>"]
        return super().finish()
