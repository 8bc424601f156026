"""Local Sphinx directives that generate reference pages from the code and the data.

Each page they write is rebuilt from its source on every build, so it cannot drift:

``public-api``
    Every name in ``ketamine_guidance.__all__``, grouped under the comment headings of
    ``__all__`` in ``__init__.py`` ("# Sessions and plans", ...), each documented by autodoc.
``cli-reference``
    The command line, walked from ``ketamine_guidance._cli.build_parser()``.
``ruleset-traceability``
    For a ruleset (the default one unless ``:ruleset: FILE`` is given), which section of
    its source each rule and advice item cites, and what each tells the patient.

Use them from an ``{eval-rst}`` block in a MyST page: ``public-api`` and ``cli-reference``
generate reStructuredText (with section titles); ``ruleset-traceability`` builds its tables
as nodes, so data text is shown exactly as written and never read as markup.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

import ketamine_guidance
from ketamine_guidance import Advice, Rule, Ruleset, Source, default_ruleset, load_ruleset
from ketamine_guidance._rules.model import Immediately, describe_window

__all__ = [
    "api_groups",
    "cli_commands",
    "setup",
    "traceability_nodes",
    "traceability_sections",
]


# Public API -------------------------------------------------------------------------


def api_groups() -> list[tuple[str, list[str]]]:
    """``__all__`` of the package as (comment heading, names) pairs, in source order."""
    init = Path(inspect.getfile(ketamine_guidance))
    source = init.read_text(encoding="utf-8")
    tree = ast.parse(source)
    node = next(
        n
        for n in tree.body
        if isinstance(n, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets)
    )
    lines = source.splitlines()
    groups: list[tuple[str, list[str]]] = []
    if not isinstance(node.value, ast.List | ast.Tuple):
        msg = f"{init}: __all__ must be a literal list of names"
        raise TypeError(msg)
    previous_line = node.lineno
    for element in node.value.elts:
        if not (isinstance(element, ast.Constant) and isinstance(element.value, str)):
            msg = f"{init}:{element.lineno}: __all__ must hold literal names"
            raise TypeError(msg)
        # The nearest "# Heading" comment between the previous name and this one.
        heading = None
        for line in lines[previous_line : element.lineno - 1]:
            stripped = line.strip()
            if stripped.startswith("#"):
                heading = stripped.lstrip("#").strip()
        if heading is not None or not groups:
            groups.append((heading or "Public names", []))
        groups[-1][1].append(element.value)
        previous_line = element.lineno
    return groups


def _autodoc_directive(name: str) -> str:
    obj = getattr(ketamine_guidance, name)
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return "autoexception"
    if inspect.isclass(obj):
        return "autoclass"
    if inspect.isfunction(obj):
        return "autofunction"
    return "autodata"


def _public_api_rst() -> Iterator[str]:
    for heading, names in api_groups():
        yield heading
        yield "-" * len(heading)
        yield ""
        for name in names:
            yield f".. {_autodoc_directive(name)}:: ketamine_guidance.{name}"
            if name == "Window":
                yield ""
                yield "   The type of a rule's ``until``: any one of the window classes."
            yield ""


# Command line -----------------------------------------------------------------------


def cli_commands(
    parser: argparse.ArgumentParser,
) -> list[tuple[str, argparse.ArgumentParser]]:
    """The program and each subcommand, as (full command, parser) pairs."""
    found = [(parser.prog, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found.extend(cli_commands(sub))
    return found


def _escape(text: str) -> str:
    """Plain text for reStructuredText: one line, every markup character escaped."""
    return re.sub(r"([\\`*_|\[\]<>])", r"\\\1", " ".join(text.split()))


def _option_rst(action: argparse.Action) -> Iterator[str]:
    if isinstance(action, argparse._SubParsersAction):
        return
    if action.option_strings:
        metavar = ""
        if action.nargs != 0:
            if action.metavar is not None:
                metavar = f" {action.metavar}"
            elif action.choices is not None:  # as argparse shows it: {text,json}
                metavar = " {" + ",".join(str(c) for c in action.choices) + "}"
            else:
                metavar = f" {action.dest.upper()}"
        signature = ", ".join(f"{opt}{metavar}" for opt in action.option_strings)
    else:
        signature = str(action.metavar or action.dest)
    yield f".. option:: {signature}"
    yield ""
    help_text = _escape((action.help or "").replace("%(prog)s", "ketamine-guidance"))
    if action.choices is not None:
        help_text += " (one of: " + ", ".join(f"``{c}``" for c in action.choices) + ")"
    if action.option_strings and action.required:
        help_text += " (required)"
    yield "   " + (help_text or "(no help text)")
    yield ""


def _cli_rst(parser: argparse.ArgumentParser) -> Iterator[str]:
    for command, sub in cli_commands(parser):
        title = f"``{command}``"
        yield title
        yield "-" * len(title)
        yield ""
        yield ".. code-block:: text"
        yield ""
        for line in sub.format_usage().strip().splitlines():
            yield "   " + line
        yield ""
        if sub.description:
            yield _escape(sub.description)
            yield ""
        yield f".. program:: {command}"
        yield ""
        for action in sub._actions:
            yield from _option_rst(action)


# Traceability -----------------------------------------------------------------------


def traceability_sections(
    ruleset: Ruleset,
) -> list[tuple[Source, list[Rule], list[Advice]]]:
    """Each cited source section with the rules and advice that cite it.

    Sections come in the order the ruleset first cites them (rules first, then advice).
    """
    order: dict[Source, tuple[list[Rule], list[Advice]]] = {}
    for rule in ruleset.rules:
        order.setdefault(rule.source, ([], []))[0].append(rule)
    for advice in ruleset.advice:
        order.setdefault(advice.source, ([], []))[1].append(advice)
    return [(source, rules, advice) for source, (rules, advice) in order.items()]


# Data text (labels, reasons, advice) goes into docutils nodes as plain text, never through
# a markup parser, so it appears exactly as patients see it and cannot break the build.

_DASH = "\u2014"


def _plain(text: str) -> str:
    return " ".join(text.split()) or _DASH


def _ids(ids: Iterable[str]) -> list[nodes.Node]:
    """Ids as literals separated by commas, or a dash when there are none."""
    out: list[nodes.Node] = []
    for index, ident in enumerate(ids):
        if index:
            out.append(nodes.Text(", "))
        out.append(nodes.literal(text=ident))
    return out or [nodes.Text(_DASH)]


Cell = str | list[nodes.Node]


def _entry(cell: Cell) -> nodes.entry:
    paragraph = nodes.paragraph()
    if isinstance(cell, str):
        paragraph += nodes.Text(_plain(cell))
    else:
        paragraph.extend(cell)
    entry = nodes.entry()
    entry += paragraph
    return entry


def _table(
    header: list[str],
    rows: Iterable[list[Cell]],
    widths: list[int],
    ids: Iterable[str] | None = None,
) -> nodes.table:
    table = nodes.table(classes=["kg-traceability"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head, body = nodes.thead(), nodes.tbody()
    head += nodes.row("", *(_entry(h) for h in header))
    row_ids = iter(ids) if ids is not None else None
    for cells in rows:
        row = nodes.row("", *(_entry(c) for c in cells))
        if row_ids is not None:  # an anchor per row: the CDS Hooks cards link to their rule
            row["ids"].append(next(row_ids))
        body += row
    group += head
    group += body
    return table


def _rule_when(rule: Rule, ruleset: Ruleset) -> str:
    if isinstance(rule.until, Immediately):
        when = "permitted from the end of the session"
    else:
        until = describe_window(rule.until, ruleset.next_day_begins)
        when = f"{rule.while_restricted.text} until: {until}"
    return when + (" (a clinician may adjust it)" if rule.clinician_adjustable else "")


def traceability_nodes(ruleset: Ruleset) -> list[nodes.Node]:
    """The summary, then tables of sections, rules and advice, as docutils nodes."""
    sections = traceability_sections(ruleset)
    titles = sorted({source.title for source, _, _ in sections})
    summary = nodes.paragraph()
    summary += nodes.Text("Ruleset ")
    summary += nodes.literal(text=ruleset.id)
    summary += nodes.Text(" version ")
    summary += nodes.literal(text=ruleset.version)
    summary += nodes.Text(
        f": {len(ruleset.rules)} rules and {len(ruleset.advice)} advice items; the next day "
        f"begins at {ruleset.next_day_begins:%H:%M} local time. Sources cited: "
    )
    for index, title in enumerate(titles):
        summary += nodes.Text("; " if index else "")
        summary += nodes.emphasis(text=title)
    summary += nodes.Text(".")
    out: list[nodes.Node] = [summary]

    out.append(nodes.rubric(text="Each section, with what cites it"))
    out.append(
        _table(
            ["Section", "Rules", "Advice"],
            (
                [
                    source.section if len(titles) == 1 else f"{source.section} ({source.title})",
                    _ids(r.activity for r in rules),
                    _ids(a.id for a in advice),
                ]
                for source, rules, advice in sections
            ),
            [30, 40, 30],
        )
    )
    out.append(nodes.rubric(text="Every rule, and what it tells the patient"))
    out.append(
        _table(
            ["Activity", "Label", "Until", "Text shown to the patient", "Section"],
            (
                [_ids([r.activity]), r.label, _rule_when(r, ruleset), r.reason, r.source.section]
                for r in ruleset.rules
            ),
            [15, 15, 20, 30, 20],
            ids=[f"rule-{r.activity.replace('_', '-')}" for r in ruleset.rules],
        )
    )
    out.append(nodes.rubric(text="Every advice item, and what it tells the patient"))
    if not ruleset.advice:
        out.append(nodes.paragraph(text="This ruleset gives no advice items."))
        return out
    out.append(
        _table(
            ["Id", "Category", "Title", "Text shown to the patient", "Section"],
            (
                [_ids([a.id]), a.category.title, a.title, a.text, a.source.section]
                for a in ruleset.advice
            ),
            [15, 15, 15, 35, 20],
        )
    )
    return out


# Directives -------------------------------------------------------------------------


class _GeneratedDirective(SphinxDirective):
    """Parse generated reStructuredText (with section titles) in place of the directive."""

    has_content = False

    def generate(self) -> Iterable[str]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        content = StringList()
        source = self.get_source_info()[0] or "<generated>"
        for index, line in enumerate(self.generate()):
            content.append(line, source, index)
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, content, container)
        return list(container.children)


class PublicApiDirective(_GeneratedDirective):
    """Every public name, grouped as ``__all__`` groups them."""

    def generate(self) -> Iterable[str]:
        self.env.note_dependency(inspect.getfile(ketamine_guidance))
        return _public_api_rst()


class CliReferenceDirective(_GeneratedDirective):
    """The command line, from the argument parser."""

    def generate(self) -> Iterable[str]:
        from ketamine_guidance import _cli

        self.env.note_dependency(inspect.getfile(_cli))
        return _cli_rst(_cli.build_parser())


class RulesetTraceabilityDirective(SphinxDirective):
    """The rules and advice of a ruleset, by the source section each cites."""

    option_spec = {"ruleset": directives.path}  # noqa: RUF012  (docutils' interface)

    def run(self) -> list[nodes.Node]:
        path = self.options.get("ruleset")
        if path is None:
            data = (
                Path(inspect.getfile(ketamine_guidance)).parent / "_rules" / "data" / "default.toml"
            )
            self.env.note_dependency(str(data))
            ruleset = default_ruleset()
        else:
            rel, absolute = self.env.relfn2path(path)
            self.env.note_dependency(rel)
            ruleset = load_ruleset(absolute)
        return traceability_nodes(ruleset)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directives."""
    app.add_directive("public-api", PublicApiDirective)
    app.add_directive("cli-reference", CliReferenceDirective)
    app.add_directive("ruleset-traceability", RulesetTraceabilityDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
