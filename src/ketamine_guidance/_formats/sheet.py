"""The patient's aftercare sheet: plain text, Markdown, or one printable HTML page.

The sheet is built once as a small document (:class:`_Sheet`) and then written out
by one renderer per format.  Every text that comes from a ruleset or a caller is
escaped for the output format (HTML) or kept from changing its structure (Markdown:
whitespace collapsed and markup characters backslash-escaped).
"""

from __future__ import annotations

import abc
import datetime as dt
import html
import re
import textwrap
from collections.abc import Callable
from typing import Literal

from attrs import frozen

from ketamine_guidance._engine.plan import AftercarePlan, Override, TimelineEntry
from ketamine_guidance._engine.session import ensure_aware
from ketamine_guidance._errors import BeforeSessionEndError, GuidanceError
from ketamine_guidance._formats.text import format_local
from ketamine_guidance._rules.model import Advice, AdviceCategory, Status

__all__ = ["SheetFormat", "render_sheet"]

SheetFormat = Literal["text", "markdown", "html"]
_FORMATS: tuple[SheetFormat, ...] = ("text", "markdown", "html")
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*")

# The sheet's own words (the ruleset supplies everything else).
_ENDED = "Your session ended"
_RIGHT_NOW = "Right now"
_NOT_YET = "Not allowed"
_CAREFUL = "Allowed, but take care"
_NOTHING_NOW = "Nothing on this sheet is limited right now."
_TIMELINE = "When you can do each thing again"
_ADVICE = "Advice"
_ACTIONS = "What you can do:"
_EXAMPLES = "For example:"
_CONTACT = "Questions or worries? Contact your clinic:"
_SOURCES = "Sources"
_STATUS_WORDS = {
    Status.PERMITTED: "allowed",
    Status.PERMITTED_WITH_CAUTION: "allowed with care",
    Status.NOT_PERMITTED: "not allowed",
}


# The document


@frozen
class _Moment:
    text: str  # for the reader: "Thu 26 Nov 2026, 06:00 EST"
    iso: str  # for machines (HTML <time datetime>)


@frozen
class _Item:
    """One line of a list: a bold label, what it says, then notes below it."""

    label: str
    lead: str
    moment: _Moment | None
    after: str
    notes: tuple[str, ...]


@frozen
class _RightNow:
    at: _Moment
    not_permitted: tuple[_Item, ...]
    caution: tuple[_Item, ...]


@frozen
class _Group:
    title: str
    items: tuple[Advice, ...]
    contact: str | None


@frozen
class _Sheet:
    title: str
    ended: _Moment
    zone: str | None
    right_now: _RightNow | None
    timeline: tuple[_Item, ...]
    groups: tuple[_Group, ...]
    ruleset_line: str
    sources: tuple[tuple[str, tuple[str, ...]], ...]  # (title, its sections)


def render_sheet(
    plan: AftercarePlan,
    *,
    format: SheetFormat = "text",  # noqa: A002  (the public keyword the issue names)
    now: dt.datetime | None = None,
    locale: str = "en",
) -> str:
    """The patient's aftercare sheet for ``plan``, as text, Markdown or a printable HTML page.

    In order: the title; when the session ended (local time and the zone's
    abbreviation); what is limited right now (only when ``now`` is given); when each
    restriction lifts, with its reason and any clinician's change; the advice by
    category, with the clinic's contact line under the after-effects; the sources.

    ``locale`` sets how dates and times are written.  ``"en"`` (the default) uses the
    library's own English form (``Thu 26 Nov 2026, 06:00 EST``) and needs nothing else;
    any other locale (``"de"``, ``"en_GB"``) uses Babel, from the extra
    ``ketamine-guidance[i18n]``.  The texts themselves come from the ruleset.

    >>> import datetime as dt
    >>> from ketamine_guidance import Session, plan_for, render_sheet
    >>> ended = dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.timezone.utc)
    >>> plan = plan_for(Session(ended, "America/New_York"))
    >>> print(render_sheet(plan).splitlines()[3])
    Your session ended: Wed 25 Nov 2026, 18:30 EST (America/New_York)

    .. versionadded:: 0.1.0
    """
    if not isinstance(plan, AftercarePlan):
        msg = f"plan must be an AftercarePlan, not {type(plan).__name__}"
        raise TypeError(msg)
    if format not in _FORMATS:
        msg = f"unknown sheet format {format!r} (known: {', '.join(_FORMATS)})"
        raise GuidanceError(msg)
    formatter, lang = _time_formatter(locale)
    sheet = _build(plan, now, formatter)
    writer: _Writer
    if format == "text":
        writer = _TextWriter()
    elif format == "markdown":
        writer = _MarkdownWriter()
    else:
        writer = _HtmlWriter(sheet.title, lang)
    _compose(sheet, writer)
    return writer.finish()


# Dates and times


def _time_formatter(locale: object) -> tuple[Callable[[dt.datetime], str], str]:
    """A function that writes a local time for ``locale``, and the HTML language tag."""
    if not isinstance(locale, str) or not _LOCALE.fullmatch(locale):
        msg = f"locale must be a locale name such as 'en' or 'de_DE', not {locale!r}"
        raise GuidanceError(msg)
    if locale == "en":
        return format_local, "en"
    try:
        import babel
        import babel.dates
    except ImportError:
        msg = (
            f"locale {locale!r} needs Babel: install 'ketamine-guidance[i18n]' "
            "(the default locale 'en' needs nothing)"
        )
        raise GuidanceError(msg) from None
    try:
        parsed = babel.Locale.parse(locale.replace("-", "_"))
    except (ValueError, babel.UnknownLocaleError):
        msg = f"unknown locale {locale!r}"
        raise GuidanceError(msg) from None

    def babel_local(moment: dt.datetime) -> str:
        # tzinfo is passed on purpose: without it Babel would convert to the
        # machine's own zone.
        tz = moment.tzinfo
        day = babel.dates.format_skeleton("yMMMEd", moment, tzinfo=tz, locale=parsed)
        time = babel.dates.format_time(moment, "short", tzinfo=tz, locale=parsed)
        return f"{day}, {time} {moment.tzname() or moment.strftime('UTC%z')}"

    return babel_local, locale.replace("_", "-")


# Building the document


def _build(
    plan: AftercarePlan, now: dt.datetime | None, fmt: Callable[[dt.datetime], str]
) -> _Sheet:
    session, ruleset = plan.session, plan.ruleset
    tz = session.timezone

    def moment(instant: dt.datetime) -> _Moment:
        local = instant.astimezone(tz)
        return _Moment(fmt(local), local.isoformat())

    right_now = None
    if now is not None:
        now = ensure_aware(now, "now")
        if now < session.ended_at_utc:
            msg = (
                f"now ({now.isoformat()}) is before the session ended "
                f"({session.ended_at_local.isoformat()})"
            )
            raise BeforeSessionEndError(msg)
        decisions = plan.decisions_at(now)
        by_status: dict[Status, list[_Item]] = {s: [] for s in Status}
        for d in decisions:
            # Under a clinician's change, the rule's own reason no longer applies.
            if d.override is None:
                notes = [ruleset.rule(d.activity).reason]
            else:
                notes = [_override_note(d.override)]
            by_status[d.status].append(_Item(d.label, "", None, "", tuple(notes)))
        right_now = _RightNow(
            moment(now),
            tuple(by_status[Status.NOT_PERMITTED]),
            tuple(by_status[Status.PERMITTED_WITH_CAUTION]),
        )

    def override_line(ov: Override) -> str:
        start = fmt(max(ov.effective_from_utc, session.ended_at_utc).astimezone(tz))
        until = "" if ov.until_utc is None else f" until {fmt(ov.until_utc.astimezone(tz))}"
        note = f" {ov.note}" if ov.note else ""
        return f"Changed by {ov.clinician}: {_STATUS_WORDS[ov.status]} from {start}{until}.{note}"

    timeline = tuple(
        _timeline_item(e, session.ended_at_utc, moment, override_line) for e in plan.timeline()
    )

    groups: list[_Group] = []
    for category in AdviceCategory:
        items = plan.advice(category)
        contact = ruleset.contact if category is AdviceCategory.AFTER_EFFECTS else None
        if items or contact:
            groups.append(_Group(category.title, items, contact))

    sources: dict[str, dict[str, None]] = {}
    for source in [r.source for r in ruleset.rules] + [a.source for a in ruleset.advice]:
        sources.setdefault(source.title, {}).setdefault(source.section)
    ruleset_line = (
        f"This sheet follows the ruleset “{ruleset.title}” "
        f"({ruleset.id}, version {ruleset.version})"
    )
    if ruleset.reviewed_by:
        reviewed_on = f" on {ruleset.reviewed_on.isoformat()}" if ruleset.reviewed_on else ""
        ruleset_line += f", reviewed by {ruleset.reviewed_by}{reviewed_on}"
    return _Sheet(
        title=ruleset.title,
        ended=moment(session.ended_at_utc),
        zone=session.zone_name,
        right_now=right_now,
        timeline=timeline,
        groups=tuple(groups),
        ruleset_line=ruleset_line + ".",
        sources=tuple((f"“{title}”", tuple(sections)) for title, sections in sources.items()),
    )


def _override_note(ov: Override) -> str:
    return f"Changed by {ov.clinician}." + (f" {ov.note}" if ov.note else "")


def _timeline_item(
    entry: TimelineEntry,
    ended_utc: dt.datetime,
    moment: Callable[[dt.datetime], _Moment],
    override_line: Callable[[Override], str],
) -> _Item:
    # Under a clinician's change the rule's reason is the usual advice, not the answer.
    reason = f"Usual advice: {entry.reason}" if entry.overrides else entry.reason
    notes = (reason, *(override_line(o) for o in entry.overrides))
    if entry.permitted_from is None:
        return _Item(entry.label, "No end is given.", None, "", notes)
    when = moment(entry.permitted_from)
    if entry.permitted_from_utc == ended_utc:
        return _Item(entry.label, "from ", when, ", when your session ended.", notes)
    if entry.status_until_lift is Status.PERMITTED_WITH_CAUTION:
        return _Item(entry.label, "take care until ", when, "; after that allowed.", notes)
    return _Item(entry.label, "from ", when, ". Not allowed before then.", notes)


# Writing the document out: one composer fixes the order, one writer per format


def _compose(sheet: _Sheet, w: _Writer) -> None:
    w.heading(1, sheet.title)
    w.moment_line(f"{_ENDED}: ", sheet.ended, sheet.zone)
    if sheet.right_now is not None:
        rn = sheet.right_now
        w.section("right-now")
        w.heading(2, f"{_RIGHT_NOW}: ", rn.at)
        for heading, items in ((_NOT_YET, rn.not_permitted), (_CAREFUL, rn.caution)):
            if items:
                w.heading(3, heading)
                w.items(items)
        if not (rn.not_permitted or rn.caution):
            w.paragraph(_NOTHING_NOW)
        w.end_section()
    w.section("timeline")
    w.heading(2, _TIMELINE)
    w.items(sheet.timeline)
    w.end_section()
    if sheet.groups:
        w.section("advice")
        w.heading(2, _ADVICE)
        for group in sheet.groups:
            w.section(None)
            w.heading(3, group.title)
            for advice in group.items:
                w.section(f"advice-{advice.id}", css="advice")
                w.heading(4, advice.title)
                w.paragraph(advice.text)
                for heading, entries in ((_ACTIONS, advice.actions), (_EXAMPLES, advice.examples)):
                    if entries:
                        w.paragraph(heading)
                        w.bullets(entries)
                w.end_section()
            if group.contact:
                w.contact(_CONTACT, group.contact)
            w.end_section()
        w.end_section()
    w.footer()
    w.heading(2, _SOURCES)
    w.paragraph(sheet.ruleset_line)
    w.sources(sheet.sources)


class _Writer(abc.ABC):
    """Collects one format's lines.  Every method escapes the text it is given."""

    def __init__(self) -> None:
        self.out: list[str] = []

    @abc.abstractmethod
    def heading(self, level: int, text: str, moment: _Moment | None = None) -> None:
        """A heading of ``level`` 1 to 4, optionally ending with a time."""

    @abc.abstractmethod
    def moment_line(self, lead: str, moment: _Moment, zone: str | None) -> None:
        """The line that says when the session ended (it closes the header)."""

    @abc.abstractmethod
    def paragraph(self, text: str) -> None:
        """A paragraph."""

    @abc.abstractmethod
    def items(self, items: tuple[_Item, ...]) -> None:
        """A list of labelled items, each with its notes."""

    @abc.abstractmethod
    def bullets(self, texts: tuple[str, ...]) -> None:
        """A plain bulleted list."""

    @abc.abstractmethod
    def contact(self, lead: str, text: str) -> None:
        """The clinic's contact line, set apart."""

    @abc.abstractmethod
    def sources(self, sources: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
        """The documents cited, each with its sections."""

    def section(self, ident: str | None, css: str | None = None) -> None:  # noqa: B027 (a hook)
        """Start a section (only HTML marks sections)."""

    def end_section(self) -> None:  # noqa: B027 (a hook: only HTML marks sections)
        """End the section last started."""

    def footer(self) -> None:  # noqa: B027 (a hook: only HTML marks the footer)
        """Start the closing part of the sheet."""

    def finish(self) -> str:
        return "\n".join(self.out) + "\n"


def _clean(text: str) -> str:
    """Whitespace collapsed: a ruleset's line breaks never change the sheet's layout."""
    return " ".join(text.split())


# Plain text

_WIDTH = 78
_UNDERLINES = {1: "=", 2: "-", 3: "~"}


class _TextWriter(_Writer):
    def __init__(self) -> None:
        super().__init__()
        self.indent = ""

    def wrap(self, text: str, first: str = "", rest: str = "") -> None:
        self.out += textwrap.wrap(
            _clean(text),
            _WIDTH,
            initial_indent=self.indent + first,
            subsequent_indent=self.indent + rest,
            break_long_words=False,
            break_on_hyphens=False,
        )

    def heading(self, level: int, text: str, moment: _Moment | None = None) -> None:
        line = _clean(text + ("" if moment is None else moment.text))
        if self.out:
            self.out.append("")
        self.indent = "  " if level == 4 else ""
        if level == 4:
            self.out.append(line)
        else:
            self.out += [line, _UNDERLINES[level] * len(line)]

    def moment_line(self, lead: str, moment: _Moment, zone: str | None) -> None:
        self.out.append("")
        self.wrap(lead + moment.text + (f" ({zone})" if zone else ""))

    def paragraph(self, text: str) -> None:
        self.wrap(text)

    def items(self, items: tuple[_Item, ...]) -> None:
        for item in items:
            when = "" if item.moment is None else item.moment.text
            head = f"{item.label}: {item.lead}{when}{item.after}" if item.lead else item.label
            self.wrap(head, "  - ", "    ")
            for note in item.notes:
                self.wrap(note, "    ", "    ")

    def bullets(self, texts: tuple[str, ...]) -> None:
        for text in texts:
            self.wrap(text, "  - ", "    ")

    def contact(self, lead: str, text: str) -> None:
        self.indent = ""
        self.out.append("")
        self.wrap(f"{lead} {text}")

    def sources(self, sources: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
        for title, sections in sources:
            self.wrap(f"{title}, sections:", "  - ", "    ")
            for section in sections:
                self.wrap(section, "      - ", "        ")


# Markdown

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~!&])")


def _md(text: str) -> str:
    """Ruleset or caller text, safe to place in Markdown: no markup, no raw HTML."""
    return _MD_SPECIAL.sub(r"\\\1", _clean(text))


class _MarkdownWriter(_Writer):
    def block(self, *lines: str) -> None:
        if self.out:
            self.out.append("")
        self.out += lines

    def heading(self, level: int, text: str, moment: _Moment | None = None) -> None:
        when = "" if moment is None else _md(moment.text)
        self.block(f"{'#' * level} {_md(text)}{' ' if moment else ''}{when}")

    def moment_line(self, lead: str, moment: _Moment, zone: str | None) -> None:
        self.block(f"{_md(lead)} **{_md(moment.text)}**" + (f" ({_md(zone)})" if zone else ""))

    def paragraph(self, text: str) -> None:
        self.block(_md(text))

    def items(self, items: tuple[_Item, ...]) -> None:
        entries: list[str] = []
        for item in items:
            when = "" if item.moment is None else _md(item.moment.text)
            # lead and after are the sheet's own words, free of Markdown characters
            rest = f": {item.lead}{when}{item.after}" if item.lead else ""
            lines = [f"- **{_md(item.label)}**{rest}", *(f"  {_md(n)}" for n in item.notes)]
            entries.append("\\\n".join(lines))  # a backslash keeps each note on its own line
        self.block(*entries)

    def bullets(self, texts: tuple[str, ...]) -> None:
        self.block(*(f"- {_md(t)}" for t in texts))

    def contact(self, lead: str, text: str) -> None:
        self.block(f"**{_md(lead)}** {_md(text)}")

    def sources(self, sources: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
        lines: list[str] = []
        for title, sections in sources:
            lines += [f"- {_md(title)}, sections:", *(f"  - {_md(s)}" for s in sections)]
        self.block(*lines)


# HTML


def _e(text: str) -> str:
    return html.escape(_clean(text), quote=True)


def _time(m: _Moment) -> str:
    return f'<time datetime="{_e(m.iso)}">{_e(m.text)}</time>'


_STYLE = """
:root { color-scheme: light; }
body { font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       color: #111; background: #fff; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.7rem; margin: 0 0 0.5rem; }
h2 { font-size: 1.3rem; margin: 2rem 0 0.5rem; border-bottom: 2px solid #444; }
h3 { font-size: 1.15rem; margin: 1.5rem 0 0.25rem; }
h4 { font-size: 1rem; margin: 1rem 0 0.25rem; }
ul { padding-left: 1.25rem; margin: 0.25rem 0; }
li { margin: 0.35rem 0; }
p { margin: 0.25rem 0; }
li p { margin: 0.1rem 0; }
.note { color: #333; }
.contact { font-weight: bold; border: 2px solid #444; padding: 0.5rem 0.75rem; margin-top: 1rem; }
footer { font-size: 0.9rem; color: #333; }
@media print {
  @page { margin: 16mm 15mm; }
  body { font-size: 11pt; max-width: none; margin: 0; padding: 0; }
  h2, h3, h4 { break-after: avoid; page-break-after: avoid; }
  li { margin: 0.2rem 0; }
  li, .advice, .contact, footer { break-inside: avoid; page-break-inside: avoid; }
}
""".strip()


class _HtmlWriter(_Writer):
    def __init__(self, title: str, lang: str) -> None:
        super().__init__()
        self.out += [
            "<!DOCTYPE html>",
            f'<html lang="{_e(lang)}">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            f"<style>\n{_STYLE}\n</style>",
            "</head>",
            "<body>",
            "<header>",
        ]

    def heading(self, level: int, text: str, moment: _Moment | None = None) -> None:
        when = "" if moment is None else _time(moment)
        self.out.append(f"<h{level}>{_e(text)}{' ' if moment else ''}{when}</h{level}>")

    def moment_line(self, lead: str, moment: _Moment, zone: str | None) -> None:
        zone_text = f" ({_e(zone)})" if zone else ""
        self.out += [
            f"<p>{_e(lead)} <strong>{_time(moment)}</strong>{zone_text}</p>",
            "</header>",
            "<main>",
        ]

    def paragraph(self, text: str) -> None:
        self.out.append(f"<p>{_e(text)}</p>")

    def items(self, items: tuple[_Item, ...]) -> None:
        self.out.append("<ul>")
        for item in items:
            when = "" if item.moment is None else _time(item.moment)
            # lead and after are the sheet's own words
            rest = f": {item.lead}{when}{item.after}" if item.lead else ""
            notes = "".join(f'<p class="note">{_e(n)}</p>' for n in item.notes)
            self.out.append(f"<li><p><strong>{_e(item.label)}</strong>{rest}</p>{notes}</li>")
        self.out.append("</ul>")

    def bullets(self, texts: tuple[str, ...]) -> None:
        self.out += ["<ul>", *(f"<li>{_e(t)}</li>" for t in texts), "</ul>"]

    def contact(self, lead: str, text: str) -> None:
        self.out.append(f'<p class="contact">{_e(lead)} {_e(text)}</p>')

    def sources(self, sources: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
        self.out.append("<ul>")
        for title, sections in sources:
            inner = "".join(f"<li>{_e(s)}</li>" for s in sections)
            self.out.append(f"<li>{_e(title)}, sections:<ul>{inner}</ul></li>")
        self.out.append("</ul>")

    def section(self, ident: str | None, css: str | None = None) -> None:
        attrs = (f' id="{_e(ident)}"' if ident else "") + (f' class="{_e(css)}"' if css else "")
        self.out.append(f"<section{attrs}>")

    def end_section(self) -> None:
        self.out.append("</section>")

    def footer(self) -> None:
        self.out += ["</main>", "<footer>"]

    def finish(self) -> str:
        self.out += ["</footer>", "</body>", "</html>"]
        return super().finish()
