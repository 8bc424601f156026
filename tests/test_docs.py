"""The documentation site: its examples, its generated pages, and a real browser reading it.

The Sphinx build runs once per test session, into a temporary directory, in a subprocess
(so Sphinx's own warnings and global state stay out of this process).  The nox ``docs``
session builds the site as well and runs every example with the doctest builder.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import io
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import zlib
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

import ketamine_guidance
from ketamine_guidance import default_ruleset
from ketamine_guidance._cli import build_parser, main
from ketamine_guidance._rules.model import Immediately, describe_window

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
TUTORIAL = DOCS / "tutorial" / "index.md"


# Reading Markdown fences ------------------------------------------------------------

_FENCE = re.compile(r"^(`{3,})(\S*)[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)


def _fences(text: str) -> list[tuple[str, str]]:
    """Every fenced block as (info word, body), in document order."""
    return [(m.group(2), m.group(3)) for m in _FENCE.finditer(text)]


def _readme_quick_start() -> str:
    readme = README.read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return next(body for info, body in _fences(section) if info == "python")


def _tutorial_first_example() -> tuple[str, str]:
    """The tutorial's first executed example (a testcode block) and its expected output."""
    fences = [(i, b) for i, b in _fences(TUTORIAL.read_text(encoding="utf-8")) if i != "sh"]
    (first_kind, code), (second_kind, output) = fences[0], fences[1]
    assert first_kind == "{testcode}", f"the tutorial's first example is a {first_kind} block"
    assert second_kind == "{testoutput}", "the first example must be followed by its output"
    return code, output


def test_readme_quick_start_is_the_tutorials_first_example() -> None:
    code, _ = _tutorial_first_example()
    assert _readme_quick_start() == code


def test_readme_quick_start_runs_and_prints_what_it_says() -> None:
    code = _readme_quick_start()
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        exec(compile(code, "README.md", "exec"), {})  # noqa: S102  (our own README)
    printed = stdout.getvalue().splitlines()
    # Each print line in the README ends with a comment that says what it prints.
    promised = [
        line.rsplit("#", 1)[1].strip() for line in code.splitlines() if line.startswith("print(")
    ]
    assert printed == promised
    _, output = _tutorial_first_example()
    assert printed == output.splitlines()


def test_tutorial_commands_run() -> None:
    """The command lines the tutorial shows run and succeed as written."""
    shown = [
        line
        for info, body in _fences(TUTORIAL.read_text(encoding="utf-8"))
        if info == "sh"
        for line in body.splitlines()
        if line.startswith("ketamine-guidance ")
    ]
    assert len(shown) >= 2
    for line in shown:
        out, err = io.StringIO(), io.StringIO()
        assert main(shlex.split(line)[1:], out=out, err=err) == 0, err.getvalue()
        assert out.getvalue()
        assert err.getvalue() == ""


# Building the site ------------------------------------------------------------------


@pytest.fixture(scope="session")
def site() -> Iterator[Path]:
    """The HTML site, built with warnings as errors into a temporary directory."""
    pytest.importorskip("sphinx", reason="the docs extra (Sphinx) is not installed")
    with tempfile.TemporaryDirectory(prefix="kg-docs-") as tmp:
        out = Path(tmp) / "html"
        command = [
            sys.executable, "-m", "sphinx", "-q", "-n", "-W", "--keep-going",
            "-b", "html", "-d", str(Path(tmp) / "doctrees"), str(DOCS), str(out),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
        assert result.returncode == 0, f"sphinx-build failed:\n{result.stderr}"
        yield out


def _inventory(site: Path) -> list[tuple[str, str, str]]:
    """(name, domain:role, uri) for every object in ``objects.inv`` (format version 2)."""
    data = (site / "objects.inv").read_bytes()
    header, _, compressed = data.partition(b"compressed using zlib.\n")
    assert header.startswith(b"# Sphinx inventory version 2")
    entries = []
    for line in zlib.decompress(compressed).decode("utf-8").splitlines():
        match = re.match(r"(.+?)\s+(\S+:\S+)\s+(-?\d+)\s+(\S+)\s+(.*)", line)
        assert match is not None, line
        entries.append((match.group(1), match.group(2), match.group(4)))
    return entries


def test_every_public_name_is_in_the_inventory(site: Path) -> None:
    documented = {name for name, role, _ in _inventory(site) if role.startswith("py:")}
    missing = [
        name for name in ketamine_guidance.__all__ if f"ketamine_guidance.{name}" not in documented
    ]
    assert missing == []


def test_public_names_are_documented_on_the_api_page(site: Path) -> None:
    uris = {name: uri for name, role, uri in _inventory(site) if role.startswith("py:")}
    pages = {uris[f"ketamine_guidance.{n}"].split("#")[0] for n in ketamine_guidance.__all__}
    assert pages == {"reference/api.html"}


# The generated pages match the code and the data ------------------------------------


class _Tables(HTMLParser):
    """The text of every table cell in a page, as tables of rows of cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        del attrs
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in {"td", "th"}:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in {"td", "th"} and self._cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _tables(page: Path) -> list[list[list[str]]]:
    parser = _Tables()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.tables


def _traceability_tables(site: Path) -> dict[str, list[list[str]]]:
    tables = _tables(site / "explanation" / "traceability.html")
    return {" | ".join(t[0]): t[1:] for t in tables}


def test_traceability_sections_match_the_default_ruleset(site: Path) -> None:
    ruleset = default_ruleset()
    rows = _traceability_tables(site)["Section | Rules | Advice"]
    table = {section: (rules, advice) for section, rules, advice in rows}
    sections = {r.source.section for r in ruleset.rules} | {
        a.source.section for a in ruleset.advice
    }
    assert set(table) == sections
    for section, (rules, advice) in table.items():
        expected_rules = [r.activity for r in ruleset.rules if r.source.section == section]
        expected_advice = [a.id for a in ruleset.advice if a.source.section == section]
        assert rules == (", ".join(expected_rules) or "\u2014")
        assert advice == (", ".join(expected_advice) or "\u2014")


def test_traceability_rules_show_what_the_patient_is_told(site: Path) -> None:
    ruleset = default_ruleset()
    rows = _traceability_tables(site)[
        "Activity | Label | Until | Text shown to the patient | Section"
    ]
    assert [row[0] for row in rows] == list(ruleset.activities)
    for row, rule in zip(rows, ruleset.rules, strict=True):
        activity, label, until, text, section = row
        assert (activity, label, text, section) == (
            rule.activity,
            rule.label,
            rule.reason,
            rule.source.section,
        )
        if isinstance(rule.until, Immediately):
            assert until.startswith("permitted from the end of the session")
        else:
            assert until.startswith(
                f"{rule.while_restricted.text} until: "
                f"{describe_window(rule.until, ruleset.next_day_begins)}"
            )
        assert until.endswith("(a clinician may adjust it)") == rule.clinician_adjustable


def test_traceability_advice_shows_what_the_patient_is_told(site: Path) -> None:
    ruleset = default_ruleset()
    tables = _traceability_tables(site)
    header = "Id | Category | Title | Text shown to the patient | Section"
    if not ruleset.advice:
        assert header not in tables
        return
    expected = [
        [
            a.id,
            a.category.title,
            " ".join(a.title.split()),
            " ".join(a.text.split()),
            a.source.section,
        ]
        for a in ruleset.advice
    ]
    assert tables[header] == expected


def _parser_options(parser: argparse.ArgumentParser) -> set[tuple[str, str]]:
    """(program, option) for the program and every subcommand, walked from the parser."""
    found = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _parser_options(sub)
        elif action.option_strings:
            found |= {(parser.prog, option) for option in action.option_strings}
        else:
            found.add((parser.prog, str(action.metavar or action.dest)))
    return found


def test_cli_reference_documents_every_command_and_option(site: Path) -> None:
    documented = {
        tuple(name.split(".", 1))
        for name, role, uri in _inventory(site)
        if role == "std:cmdoption" and uri.startswith("reference/cli.html")
    }
    expected = {
        (prog.replace(" ", "-"), option) for prog, option in _parser_options(build_parser())
    }
    assert documented == expected


def test_cli_reference_shows_each_commands_help(site: Path) -> None:
    page = (site / "reference" / "cli.html").read_text(encoding="utf-8")
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    parser = build_parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for sub in subcommands.choices.values():
        assert sub.description is not None
        assert " ".join(sub.description.split()) in text
        for action in sub._actions:
            if action.help and "%(" not in action.help:
                assert " ".join(action.help.split()) in text


# A real browser ---------------------------------------------------------------------


@functools.cache
def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found is not None:
            return found
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  (the base's name)
        del format, args


@contextlib.contextmanager
def _serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1 at an ephemeral port; yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _dump_dom(url: str) -> str:
    chromium = _chromium()
    assert chromium is not None
    with tempfile.TemporaryDirectory(prefix="kg-chromium-") as profile:
        command = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}", "--dump-dom", url,
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


class _Headings(HTMLParser):
    """The document's <title> (in <head>, not an SVG icon's) and the text of its <h1>s."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.h1: list[str] = []
        self._in: str | None = None
        self._in_head = False
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        del attrs
        if tag == "head":
            self._in_head = True
        elif (tag == "title" and self._in_head) or tag == "h1":
            self._in, self._text = tag, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self._in_head = False
        elif tag == self._in:
            text = " ".join("".join(self._text).split())
            if tag == "title":
                self.title = text
            else:
                self.h1.append(text)
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self._text.append(data)


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (.ci/apt-packages)")
@pytest.mark.parametrize(
    ("path", "title", "heading"),
    [
        ("index.html", "ketamine_guidance", "ketamine_guidance"),
        ("reference/api.html", "API reference - ketamine_guidance", "API reference"),
    ],
)
def test_a_browser_renders_the_site(site: Path, path: str, title: str, heading: str) -> None:
    with _serve(site) as base:
        dom = _dump_dom(base + path)
    page = _Headings()
    page.feed(dom)
    assert page.title == title
    assert heading in [h.rstrip("#¶ ") for h in page.h1]


def test_each_rule_has_the_anchor_the_cds_service_cards_link_to(site: Path) -> None:
    import datetime as dt

    from ketamine_guidance import Session, default_ruleset, plan_for
    from ketamine_guidance.service._cards import Cards, ZoneSource

    page = (site / "explanation" / "traceability.html").read_text(encoding="utf-8")
    ruleset = default_ruleset()
    cards = Cards(ruleset, "https://docs.example.org")
    ended = dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.timezone.utc)
    plan = plan_for(Session(ended, "America/New_York"), ruleset)
    zone = ZoneSource("America/New_York", from_patient=True)
    linked = [
        card["links"][0]["url"]
        for d in plan.decisions_at(ended)
        if (card := cards.restriction(d, zone, 1, ["k"])) is not None
    ]
    assert linked
    for url in linked:
        anchor = url.split("#", 1)[1]
        assert f'id="{anchor}"' in page, anchor


# The hazard log (issue 11): every test it names exists, so it cannot go stale.


def _test_functions(path: Path) -> set[str]:
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def test_every_test_in_the_hazard_log_exists() -> None:
    log = (DOCS / "explanation" / "hazards.md").read_text(encoding="utf-8")
    named = re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)`", log)
    assert len(named) >= 30
    missing = [
        f"{file}::{name}"
        for file, name in named
        if not (ROOT / file).is_file() or name not in _test_functions(ROOT / file)
    ]
    assert not missing, f"the hazard log names tests that do not exist: {missing}"
    rows = [line for line in log.splitlines() if re.match(r"\| H\d+\. ", line)]
    assert len(rows) >= 19
    for row in rows:
        assert "`tests/" in row, f"a hazard without a test: {row[:60]}"
    assert "hazards.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_hazard_log_check_finds_a_missing_test(tmp_path: Path) -> None:
    sample = tmp_path / "test_x.py"
    sample.write_text("def test_here():\n    assert True\n\nasync def test_async(): ...\n")
    assert _test_functions(sample) == {"test_here", "test_async"}
