"""The ``ketamine-guidance`` command line.

Exit codes: 0 success (for ``check``: permitted, with or without caution), 1 not
permitted, 2 bad input.  Bad input gets one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO, cast

from ketamine_guidance import __version__
from ketamine_guidance._engine.course import CoursePlan, plan_for_course
from ketamine_guidance._engine.diff import diff_rulesets
from ketamine_guidance._engine.documents import decision_dict, plan_dict
from ketamine_guidance._engine.plan import AftercarePlan, Decision, TimelineEntry, plan_for
from ketamine_guidance._engine.session import Session
from ketamine_guidance._engine.windows import BEYOND_RANGE
from ketamine_guidance._errors import GuidanceError, RulesetFileError
from ketamine_guidance._formats.sheet import render_sheet
from ketamine_guidance._formats.text import format_local
from ketamine_guidance._rules.loader import validate_ruleset
from ketamine_guidance._rules.model import Immediately, Status, describe_window
from ketamine_guidance._rules.ruleset import Ruleset, default_ruleset, load_ruleset, ruleset_dict
from ketamine_guidance._rules.schema import ruleset_schema_text
from ketamine_guidance._text import UNSAFE, visible

__all__ = ["build_parser", "main"]

PROG = "ketamine-guidance"
EXIT_OK, EXIT_NOT_PERMITTED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_DIFFERENT = EXIT_PROBLEMS = 1  # diff and validate: the answer is "no"


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and an exit code of 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:  # noqa: ARG002
        # Reached only after --help or --version has printed: error() handles the rest.
        raise _HelpShownError


class _HelpShownError(Exception):
    """--help or --version has been printed: exit 0 without exiting the process."""


def _instant(text: str) -> dt.datetime:
    """An aware datetime from strict ISO 8601 text (argparse names this type in errors)."""
    from dateutil.parser import isoparse

    try:
        value = isoparse(text)
    except (ValueError, OverflowError):
        msg = f"{text!r} is not an ISO 8601 date and time"
        raise argparse.ArgumentTypeError(msg) from None
    if value.tzinfo is None:
        msg = (
            f"{text!r} has no UTC offset; add one, "
            "for example 2026-11-25T23:30:00Z or 2026-11-25T18:30:00-05:00"
        )
        raise argparse.ArgumentTypeError(msg)
    return value


def _add_session_options(parser: argparse.ArgumentParser, *, course: bool = False) -> None:
    parser.add_argument(
        "--ended-at",
        required=True,
        type=_instant,
        action="append" if course else "store",
        metavar="ISO8601",
        help="when the session ended, with a UTC offset (2026-11-25T23:30:00Z)"
        + ("; repeat it for each session of a course" if course else ""),
    )
    parser.add_argument(
        "--timezone",
        metavar="ZONE",
        help="the patient's IANA time zone, such as America/New_York (required: the "
        "next day begins on the patient's calendar, not on that of the offset of --ended-at)",
    )


def _add_ruleset_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ruleset", metavar="FILE", help="a ruleset file, TOML or JSON (default: the built-in one)"
    )


def _add_format_option(parser: argparse.ArgumentParser, *choices: str) -> None:
    parser.add_argument(
        "--format",
        choices=choices,
        default=choices[0],
        help=f"output format (default: {choices[0]})",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (the docs' command-line reference is generated from it)."""
    parser = _Parser(
        prog=PROG,
        description="Ketamine-therapy aftercare: what a patient may do, and when.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plan = commands.add_parser(
        "plan",
        help="print when each restriction lifts for a session",
        description=(
            "Print the aftercare plan for a session: when each restriction lifts, in the "
            "patient's local time."
        ),
    )
    _add_session_options(plan, course=True)
    _add_ruleset_option(plan)
    _add_format_option(plan, "text", "json")

    check = commands.add_parser(
        "check",
        help="is an activity permitted at a given instant? (exit 0 yes, 1 no)",
        description=(
            "Say whether ACTIVITY is permitted at --at.  Exit status: 0 permitted (with or "
            "without caution), 1 not permitted, 2 bad input."
        ),
    )
    check.add_argument("activity", metavar="ACTIVITY", help="an activity id, such as driving")
    _add_session_options(check)
    check.add_argument(
        "--at",
        required=True,
        type=_instant,
        metavar="ISO8601",
        help="the instant to ask about, with a UTC offset",
    )
    _add_ruleset_option(check)
    _add_format_option(check, "text", "json")

    rules = commands.add_parser(
        "rules", help="list the rules of a ruleset", description="List the rules of a ruleset."
    )
    _add_ruleset_option(rules)
    _add_format_option(rules, "text", "json")

    sheet = commands.add_parser(
        "sheet",
        help="print the patient's aftercare sheet (text, Markdown or printable HTML)",
        description=(
            "Print the patient's aftercare sheet for a session: when each restriction lifts, "
            "in the patient's local time, and the advice.  Save the HTML and print it."
        ),
    )
    _add_session_options(sheet, course=True)
    sheet.add_argument(
        "--patient",
        metavar="TEXT",
        help="the patient's name or identifier, shown at the top of every page",
    )
    sheet.add_argument(
        "--printed-at",
        type=_instant,
        metavar="ISO8601",
        help="the printed-on time shown on every page, with a UTC offset (default: now)",
    )
    sheet.add_argument(
        "--now",
        type=_instant,
        metavar="ISO8601",
        help="also say what is limited at this instant, with a UTC offset",
    )
    _add_format_option(sheet, "text", "markdown", "html")
    _add_ruleset_option(sheet)
    sheet.add_argument(
        "--locale",
        default="en",
        metavar="LOCALE",
        help="the sheet's language and clock, such as en_US, es or de_DE "
        "(default: en; all but en and en_US need the i18n extra)",
    )

    export = commands.add_parser(
        "export",
        help="write a session's plan as JSON, FHIR R4, CDS Hooks cards or iCalendar",
        description=(
            "Write the aftercare plan for a session in another system's format: json (the "
            "plan document), fhir (a FHIR R4 CarePlan; needs --subject), fhir-bundle (a "
            "FHIR transaction Bundle: the CarePlan as a conditional update, with a Provenance "
            "per override; needs --subject), plandefinition (the ruleset as a FHIR "
            "PlanDefinition with its ActivityDefinitions), cds (a CDS Hooks response for the "
            "decisions at --at) or ical (calendar reminders; needs the 'ical' extra).  "
            "Repeat --ended-at for a course (fhir, fhir-bundle, cds, ical)."
        ),
    )
    _add_session_options(export, course=True)
    _add_ruleset_option(export)
    export.add_argument(
        "--format",
        required=True,
        choices=("json", "fhir", "fhir-bundle", "plandefinition", "cds", "ical"),
        help="output format",
    )
    export.add_argument(
        "--base-url",
        metavar="URL",
        help="FHIR: where the code system, extensions and identifier systems live "
        "(default: the docs site's)",
    )
    export.add_argument(
        "--at",
        type=_instant,
        metavar="ISO8601",
        help="the instant to describe (json: adds the decisions then; fhir: created and "
        "statuses; cds: required)",
    )
    export.add_argument(
        "--subject",
        metavar="REFERENCE",
        help="the patient: FHIR needs a reference (Patient/123); ical puts it, hashed, in UIDs",
    )
    export.add_argument(
        "--stamp",
        type=_instant,
        metavar="ISO8601",
        help="ical: every event's DTSTAMP (default: now)",
    )
    export.add_argument(
        "--sequence",
        type=int,
        metavar="N",
        help="ical: every event's SEQUENCE (default: the number of overrides)",
    )
    export.add_argument(
        "--source-label",
        metavar="TEXT",
        help="CDS Hooks: the service name shown on each card's source",
    )

    diff = commands.add_parser(
        "diff",
        help="show what changed between two rulesets (exit 0 same, 1 different)",
        description=(
            "Show the rules and advice added, removed and changed from OLD to NEW, field by "
            "field, with windows in words; each changed rule is marked tightened, loosened "
            "or changed (for patients, compared over sample sessions in several zones).  "
            "Write 'default' for the built-in ruleset.  "
            "Exit status: 0 equal, 1 different, 2 bad input."
        ),
    )
    diff.add_argument("old", metavar="OLD", help="a ruleset file, or 'default'")
    diff.add_argument("new", metavar="NEW", help="a ruleset file, or 'default'")
    _add_format_option(diff, "text", "json")

    validate = commands.add_parser(
        "validate",
        help="check ruleset files and list every problem (exit 0 clean, 1 problems)",
        description=(
            "Check each FILE and print every problem as 'FILE: path: message'.  Exit status: "
            "0 all clean, 1 problems (syntax errors and oversize files included), 2 a file "
            "that is missing or cannot be read."
        ),
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="a ruleset file, TOML or JSON")

    _add_serve(commands)

    commands.add_parser(
        "schema",
        help="print the JSON Schema for ruleset files",
        description="Print the JSON Schema (draft 2020-12) for ruleset files, for editors.",
    )
    return parser


def _add_serve(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the CDS Hooks service an EHR calls (needs the 'service' extra)",
        description=(
            "Run the CDS Hooks 2.0 service (discovery, patient-view, order-select, "
            "order-sign, feedback, /openapi.json) with uvicorn.  Each option can also be "
            "set in the TOML file given to --config; an option on the command line wins.  "
            "Without --jwks or --jku, or without --issuer, every hook call is refused."
        ),
    )
    serve.add_argument("--host", metavar="HOST", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, metavar="PORT", help="port to listen on (default 8080)")
    serve.add_argument(
        "--ruleset", metavar="FILE", help="a ruleset file (TOML or JSON; default: built-in)"
    )
    serve.add_argument(
        "--jwks", metavar="FILE", help="the EHR's public keys, a JSON Web Key Set file"
    )
    serve.add_argument(
        "--jku",
        action="append",
        metavar="URL",
        help="a jku key set URL the EHR's tokens may name (repeatable)",
    )
    serve.add_argument(
        "--issuer",
        action="append",
        metavar="ISS",
        help="an EHR token issuer (iss) to accept (repeatable)",
    )
    serve.add_argument(
        "--public-url",
        metavar="URL",
        help="the base URL the EHR calls, checked against each token's aud "
        "(default: http, --host and --port)",
    )
    serve.add_argument(
        "--clinic-timezone",
        metavar="ZONE",
        help="IANA zone used (and stated on the cards) when the Patient record has none; "
        "without it such patients get a card saying the time rules cannot be told",
    )
    serve.add_argument(
        "--session-code",
        action="append",
        metavar="SYSTEM|CODE",
        help="a Procedure code that marks a ketamine session (repeatable; default: the "
        "code ketamine-session in the library's own procedure code system)",
    )
    serve.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help="a browser origin allowed to call the service, such as the CDS Hooks "
        "sandbox's (repeatable)",
    )
    serve.add_argument(
        "--store",
        metavar="PATH",
        help="the SQLite file for feedback and used token ids "
        "(default ketamine-guidance-service.sqlite3)",
    )
    serve.add_argument("--config", metavar="FILE", help="a TOML file with any of these settings")


def _serve_config(args: argparse.Namespace) -> Any:
    """The ServiceConfig from --config and the options (which win)."""
    from pathlib import Path

    from ketamine_guidance.service._config import (
        ServiceConfig,
        config_from_toml,
        parse_code,
        read_jwks,
    )

    settings: dict[str, Any] = {} if args.config is None else config_from_toml(args.config)
    simple = {"host": args.host, "port": args.port, "public_url": args.public_url}
    simple["clinic_timezone"] = args.clinic_timezone
    settings.update({k: v for k, v in simple.items() if v is not None})
    if args.ruleset is not None:
        settings["ruleset"] = load_ruleset(args.ruleset)
    if args.jwks is not None:
        settings["jwks"] = read_jwks(args.jwks)
    if args.store is not None:
        settings["store"] = Path(args.store)
    lists = {"jku_allow": args.jku, "issuers": args.issuer, "cors_origins": args.cors_origin}
    settings.update({k: tuple(v) for k, v in lists.items() if v is not None})
    if args.session_code is not None:
        settings["session_codes"] = tuple(parse_code(c) for c in args.session_code)
    return ServiceConfig(**settings)


def _cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    from ketamine_guidance.service import create_app

    config = _serve_config(args)
    app = create_app(config)  # MissingExtraError without the 'service' extra
    import uvicorn

    if not config.issuers or (config.jwks is None and not config.jku_allow):
        args.err.write(
            f"{PROG}: warning: no --issuer, or no --jwks/--jku: every hook call will be "
            "refused with 401\n"
        )
    out.write(
        f"Serving CDS Hooks on http://{config.host}:{config.port}/cds-services "
        f"(public URL {config.base_url})\n"
    )
    out.flush()
    import logging

    # The service's own line per request (method, route, status, time: no patient data)
    # replaces uvicorn's access log, which would print client addresses.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    uvicorn.run(app, host=config.host, port=config.port, access_log=False, ws="none")
    return EXIT_OK


def _ruleset(args: argparse.Namespace) -> Ruleset:
    return default_ruleset() if args.ruleset is None else load_ruleset(args.ruleset)


def _timezone(args: argparse.Namespace) -> str:
    """The patient's zone: required, never guessed from the session's UTC offset."""
    if args.timezone is None:
        msg = (
            f"{args.command} needs --timezone, the patient's IANA time zone "
            "(such as America/New_York)"
        )
        raise UsageError(msg)
    zone: str = args.timezone
    return zone


def _plan(args: argparse.Namespace) -> AftercarePlan:
    session = Session(args.ended_at, _timezone(args))
    return plan_for(session, _ruleset(args))


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _emit_json(document: dict[str, Any], out: TextIO) -> None:
    # json escapes the C0 controls; DEL, the C1 controls, bidi and zero-width
    # characters it writes as they are: write those as \u escapes, which mean the same.
    text = json.dumps(document, indent=2, ensure_ascii=False)
    out.write(UNSAFE.sub(_json_escape, text))
    out.write("\n")


class _Visible(io.TextIOBase):
    """Writes text to ``target`` with every unsafe character shown as an escape.

    Every command writes through one, so nothing in a ruleset or an argument can send a
    terminal control sequence, a bidi override or a hidden character to the screen
    (iCalendar's CRLF line ends are kept).
    """

    def __init__(self, target: TextIO) -> None:
        super().__init__()
        self.target = target

    def write(self, text: str) -> int:
        self.target.write("\r\n".join(visible(part) for part in text.split("\r\n")))
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    @property
    def buffer(self) -> Any:
        """The target's binary stream: iCalendar bytes, escaped by the library, go there
        as they are (a text stream on Windows would turn each CR LF into CR CR LF)."""
        return getattr(self.target, "buffer", None)


def _one_line(text: str) -> str:
    """An error message on one line, with control characters shown as escapes."""
    return visible(text, keep_newlines=False)


def _describe_lift(entry: TimelineEntry, ended_utc: dt.datetime) -> str:
    caution = entry.status_until_lift is Status.PERMITTED_WITH_CAUTION
    if entry.permitted_from is None:
        status = "take care" if caution else "not permitted"
        if entry.lifts_beyond_range:
            return f"{status}; the end is {BEYOND_RANGE}"
        return f"{status}; no end is given"
    lift = entry.permitted_from_utc
    if lift is not None and lift <= ended_utc:  # in a course, an earlier session's end
        return "permitted from the end of the session"
    when = format_local(entry.permitted_from)
    if caution:  # never "permitted with caution until", which reads as forbidden after
        return f"take care until {when}; after that permitted"
    return f"not permitted until {when}"


def _cmd_plan(args: argparse.Namespace, out: TextIO) -> int:
    zone_name = _timezone(args)
    sessions = [Session(ended, zone_name) for ended in args.ended_at]
    ruleset = _ruleset(args)
    if len(sessions) > 1 and args.format == "json":
        msg = "plan --format json takes one --ended-at (for a course, use the text format)"
        raise UsageError(msg)
    plan: AftercarePlan | CoursePlan
    if len(sessions) == 1:
        plan = plan_for(sessions[0], ruleset)
        if args.format == "json":
            _emit_json(plan_dict(plan), out)
            return EXIT_OK
    else:
        plan = plan_for_course(sessions, ruleset)
    latest = plan.sessions[-1] if isinstance(plan, CoursePlan) else plan.session
    zone = f" ({latest.zone_name})" if latest.zone_name else ""
    out.write(f"{ruleset.title} (ruleset {ruleset.id} {ruleset.version})\n")
    if len(sessions) > 1:
        out.write(f"A course of {len(sessions)} sessions; the times count every one.\n")
        out.write(f"Latest session ended: {format_local(latest.ended_at_local)}{zone}\n\n")
    else:
        out.write(f"Session ended: {format_local(latest.ended_at_local)}{zone}\n\n")
    entries = plan.timeline()
    width = max(len(e.label) for e in entries)
    for e in entries:
        out.write(f"  {e.label:<{width}}  {_describe_lift(e, latest.ended_at_utc)}\n")
    return EXIT_OK


def _decision_text(decision: Decision) -> str:
    lift = decision.permitted_from
    if lift is None:
        end = f"the end is {BEYOND_RANGE}" if decision.lifts_beyond_range else "no end is given"
        when = f"take care; {end}" if decision.status is Status.PERMITTED_WITH_CAUTION else end
    elif decision.status is Status.PERMITTED_WITH_CAUTION:
        when = f"take care until {format_local(lift)}; after that permitted"
    else:
        when = f"permitted from {format_local(lift)}"
    return f"{decision.label}: {decision.status.text} ({when}). {decision.reason}\n"


def _cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    plan = _plan(args)
    decision = plan.check(args.activity, args.at)
    if args.format == "json":
        _emit_json(decision_dict(decision, args.at), out)
    else:
        out.write(_decision_text(decision))
    return EXIT_OK if decision.permitted else EXIT_NOT_PERMITTED


def _cmd_rules(args: argparse.Namespace, out: TextIO) -> int:
    ruleset = _ruleset(args)
    nd = ruleset.next_day_begins
    if args.format == "json":
        document = ruleset_dict(ruleset)
        _emit_json(document, out)
        return EXIT_OK
    out.write(f"{ruleset.title} (ruleset {ruleset.id} {ruleset.version})\n")
    for line in _governance_lines(ruleset):
        out.write(f"{line}\n")
    out.write(f"The next day begins at {nd:%H:%M} local time.\n\n")
    width = max(len(r.activity) for r in ruleset.rules)
    for r in ruleset.rules:
        adjustable = " (clinician may adjust)" if r.clinician_adjustable else ""
        if isinstance(r.until, Immediately):
            when = "permitted from the end of the session"
        elif r.while_restricted is Status.PERMITTED_WITH_CAUTION:
            when = f"take care until: {describe_window(r.until, nd)}; after that permitted"
        else:
            when = f"{r.while_restricted.text} until: {describe_window(r.until, nd)}"
        out.write(f"  {r.activity:<{width}}  {when}{adjustable}\n")
    return EXIT_OK


def _cmd_sheet(args: argparse.Namespace, out: TextIO) -> int:
    import warnings

    from ketamine_guidance._errors import SheetWarning

    zone = _timezone(args)
    ruleset = _ruleset(args)
    sessions = [Session(ended, zone) for ended in args.ended_at]
    plan: AftercarePlan | CoursePlan = (
        plan_for(sessions[0], ruleset) if len(sessions) == 1 else plan_for_course(sessions, ruleset)
    )
    printed_at = dt.datetime.now(dt.timezone.utc) if args.printed_at is None else args.printed_at
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SheetWarning)
        text = render_sheet(
            plan,
            format=args.format,
            now=args.now,
            locale=args.locale,
            patient=args.patient,
            printed_at=printed_at,
        )
    out.write(text)
    for warning in caught:
        args.err.write(f"{PROG}: warning: {warning.message}\n")
    return EXIT_OK


def _export_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the export options, if anything (each format's own needs)."""
    if args.format in {"fhir", "fhir-bundle"} and args.subject is None:
        return f"export --format {args.format} needs --subject (a reference, as Patient/123)"
    if args.base_url is not None and args.format not in _FHIR_FORMATS:
        return "--base-url applies only to --format fhir, fhir-bundle and plandefinition"
    if args.at is not None and args.format == "plandefinition":
        return "--at does not apply to --format plandefinition (the rules, not a session)"
    if args.format == "cds" and args.at is None:
        return "export --format cds needs --at (the instant of the order)"
    if args.subject is not None and args.format not in {"fhir", "fhir-bundle", "ical"}:
        return "--subject applies only to --format fhir, fhir-bundle and ical"
    for option in ("stamp", "sequence"):
        if getattr(args, option) is not None and args.format != "ical":
            return f"--{option} applies only to --format ical"
    if args.source_label is not None and args.format != "cds":
        return "--source-label applies only to --format cds"
    if args.at is not None and args.format == "ical":
        return "--at does not apply to --format ical (the reminders do not change)"
    return None


#: The export formats that take a course (--ended-at repeated).
_COURSE_FORMATS = frozenset({"cds", "fhir", "fhir-bundle", "ical"})
_FHIR_FORMATS = frozenset({"fhir", "fhir-bundle", "plandefinition"})


def _cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    from ketamine_guidance._formats import exports

    problem = _export_problem(args)
    if problem is not None:
        raise UsageError(problem)
    ruleset = _ruleset(args)
    fhir: dict[str, Any] = {} if args.base_url is None else {"base_url": args.base_url}
    if args.format == "plandefinition":
        _emit_json(exports.to_fhir_plandefinition(ruleset, **fhir), out)
        return EXIT_OK
    zone = _timezone(args)
    sessions = [Session(ended, zone) for ended in args.ended_at]
    plan: AftercarePlan | CoursePlan
    if len(sessions) == 1:
        plan = plan_for(sessions[0], ruleset)
    elif args.format in _COURSE_FORMATS:
        plan = plan_for_course(sessions, ruleset)
    else:
        courses = ", ".join(sorted(_COURSE_FORMATS))
        msg = f"--format {args.format} takes one --ended-at (a course: {courses})"
        raise UsageError(msg)
    if args.format == "json":
        assert isinstance(plan, AftercarePlan)  # noqa: S101  (one session, checked above)
        _emit_json(plan_dict(plan, args.at), out)
    elif args.format == "fhir":
        _emit_json(exports.to_fhir_careplan(plan, subject=args.subject, at=args.at, **fhir), out)
    elif args.format == "fhir-bundle":
        _emit_json(exports.to_fhir_bundle(plan, subject=args.subject, at=args.at, **fhir), out)
    elif args.format == "cds":
        label = args.source_label or exports.DEFAULT_SOURCE_LABEL
        decisions = plan.decisions_at(args.at)
        _emit_json(exports.cds_response(decisions, source_label=label), out)
    else:
        data = exports.to_ical(plan, subject=args.subject, stamp=args.stamp, sequence=args.sequence)
        _emit_bytes(data, out)
    return EXIT_OK


def _emit_bytes(data: bytes, out: TextIO) -> None:
    """Bytes as they are (iCalendar's CRLF): to the stream's buffer where it has one, so
    a text stream on Windows does not turn each CR LF into CR CR LF."""
    buffer = getattr(out, "buffer", None)
    if buffer is None:
        out.write(data.decode("utf-8"))
        return
    out.flush()
    buffer.write(data)
    buffer.flush()


def _governance_lines(ruleset: Ruleset) -> list[str]:
    """Who reviewed the ruleset and when it takes effect, where the file says."""
    lines: list[str] = []
    if ruleset.reviewed_by or ruleset.reviewed_on:
        by = f" by {ruleset.reviewed_by}" if ruleset.reviewed_by else ""
        on = f" on {ruleset.reviewed_on.isoformat()}" if ruleset.reviewed_on else ""
        lines.append(f"Reviewed{by}{on}.")
    else:
        lines.append("Not marked as reviewed.")
    if ruleset.effective_from:
        lines.append(f"In effect for sessions from {ruleset.effective_from.isoformat()}.")
    return lines


def _named_ruleset(name: str) -> Ruleset:
    """A ruleset file, or the built-in one for 'default' (as in ``extends``)."""
    return default_ruleset() if name == "default" else load_ruleset(name)


def _cmd_diff(args: argparse.Namespace, out: TextIO) -> int:
    diff = diff_rulesets(_named_ruleset(args.old), _named_ruleset(args.new))
    if args.format == "json":
        _emit_json(diff.to_dict(), out)
        return EXIT_OK if diff.is_empty else EXIT_DIFFERENT
    for line in diff.lines():
        out.write(f"{line}\n")
    return EXIT_OK if diff.is_empty else EXIT_DIFFERENT


def _cmd_validate(args: argparse.Namespace, out: TextIO) -> int:
    status = EXIT_OK
    for name in args.files:
        try:
            problems = validate_ruleset(name)
        except RulesetFileError as exc:
            (problem,) = exc.problems
            args.err.write(_one_line(f"{PROG}: error: {name}: {problem.message}") + "\n")
            status = EXIT_BAD_INPUT
            continue
        for problem in problems:
            out.write(_one_line(f"{name}: {problem}") + "\n")
        if not problems:
            out.write(_one_line(f"ok: {name}") + "\n")
            for line in _translation_states(load_ruleset(name)):
                out.write(_one_line(f"{name}: {line}") + "\n")
        elif status == EXIT_OK:
            status = EXIT_PROBLEMS
    return status


def _translation_states(ruleset: Ruleset) -> list[str]:
    """Whether the sheet will use each translation, and the digest a review records."""
    if not ruleset.translations:
        return []
    digest = ruleset.texts_digest
    lines = [f"texts digest (a reviewed translation's source_digest): {digest}"]
    for tr in ruleset.translations:
        if ruleset.reviewed_translation(tr.language) is not None:
            state = "reviewed against these texts: used on the sheet"
        elif not tr.reviewed:
            state = "not reviewed (no reviewed_by and reviewed_on): not used on the sheet"
        elif tr.source_digest is None:
            state = "reviewed, but names no source_digest: not used on the sheet"
        else:
            state = "reviewed against other texts: not used on the sheet until reviewed again"
        lines.append(f"translation {tr.language}: {state}")
    return lines


def _cmd_schema(_args: argparse.Namespace, out: TextIO) -> int:
    out.write(ruleset_schema_text())
    return EXIT_OK


_COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO], int]] = {
    "plan": _cmd_plan,
    "check": _cmd_check,
    "rules": _cmd_rules,
    "sheet": _cmd_sheet,
    "export": _cmd_export,
    "diff": _cmd_diff,
    "validate": _cmd_validate,
    "schema": _cmd_schema,
    "serve": _cmd_serve,
}


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the command line; return the exit status instead of exiting."""
    stdout = cast("TextIO", _Visible(sys.stdout if out is None else out))
    stderr: TextIO = sys.stderr if err is None else err
    try:
        # --help and --version print to sys.stdout and then exit: send them to ``out``
        # and turn the exit into a return.
        with contextlib.redirect_stdout(stdout):
            args = build_parser().parse_args(argv)
        args.err = stderr  # for commands that report some inputs as bad and go on (validate)
        return _COMMANDS[args.command](args, stdout)
    except _HelpShownError:
        return EXIT_OK
    except (UsageError, GuidanceError, ValueError, TypeError, OverflowError) as exc:
        stderr.write(_one_line(f"{PROG}: error: {exc}") + "\n")
    return EXIT_BAD_INPUT


def main_entry() -> None:  # pragma: no cover (the console script; tests call main())
    """The console script: run :func:`main` and exit with its status."""
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``ketamine-guidance rules | head``): exit quietly, as
        # the Python docs recommend, instead of printing a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = EXIT_NOT_PERMITTED
    sys.exit(status)
