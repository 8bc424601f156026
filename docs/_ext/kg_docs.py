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

The directives produce reStructuredText, so use them from an ``{eval-rst}`` block in a
MyST page.
"""

from __future__ import annotations

import argparse
import ast
import inspect
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
from ketamine_guidance import Rule, Ruleset, Source, default_ruleset, load_ruleset
from ketamine_guidance._model import Immediately, describe_window

__all__ = [
    "api_groups",
    "cli_commands",
    "setup",
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


def _option_rst(action: argparse.Action) -> Iterator[str]:
    if isinstance(action, argparse._SubParsersAction):
        return
    if action.option_strings:
        metavar = ""
        if action.nargs != 0:
            metavar = " " + str(action.metavar or action.dest.upper())
        signature = ", ".join(f"{opt}{metavar}" for opt in action.option_strings)
    else:
        signature = str(action.metavar or action.dest)
    yield f".. option:: {signature}"
    yield ""
    help_text = (action.help or "").replace("%(prog)s", "ketamine-guidance")
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
            yield sub.description
            yield ""
        yield f".. program:: {command}"
        yield ""
        for action in sub._actions:
            yield from _option_rst(action)


# Traceability -----------------------------------------------------------------------


def traceability_sections(
    ruleset: Ruleset,
) -> list[tuple[Source, list[Rule], list[Any]]]:
    """Each cited source section with the rules and advice that cite it.

    Sections come in the order the ruleset first cites them (rules first, then advice).
    """
    order: dict[Source, tuple[list[Rule], list[Any]]] = {}
    for rule in ruleset.rules:
        order.setdefault(rule.source, ([], []))[0].append(rule)
    for advice in ruleset.advice:
        order.setdefault(advice.source, ([], []))[1].append(advice)
    return [(source, rules, advice) for source, (rules, advice) in order.items()]


def _cell(text: str) -> str:
    return " ".join(text.split()) or "\u2014"


def _list_table(header: Iterable[str], rows: Iterable[Iterable[str]], widths: str) -> Iterator[str]:
    yield ".. list-table::"
    yield "   :header-rows: 1"
    yield f"   :widths: {widths}"
    yield ""
    for row in [list(header), *(list(r) for r in rows)]:
        first = True
        for cell in row:
            yield ("   * - " if first else "     - ") + cell
            first = False
    yield ""


def _rule_when(rule: Rule, ruleset: Ruleset) -> str:
    if isinstance(rule.until, Immediately):
        return "permitted from the end of the session"
    until = describe_window(rule.until, ruleset.next_day_begins)
    return f"{rule.while_restricted.text} until: {until}"


def _traceability_rst(ruleset: Ruleset) -> Iterator[str]:
    sections = traceability_sections(ruleset)
    titles = sorted({source.title for source, _, _ in sections})
    yield (
        f"Ruleset ``{ruleset.id}`` version ``{ruleset.version}``: {len(ruleset.rules)} rules "
        f"and {len(ruleset.advice)} advice items; the next day begins at "
        f"{ruleset.next_day_begins:%H:%M} local time."
    )
    yield ""
    yield "Sources cited: " + "; ".join(f"*{t}*" for t in titles) + "."
    yield ""
    yield ".. rubric:: Each section, with what cites it"
    yield ""
    yield from _list_table(
        ["Section", "Rules", "Advice"],
        (
            [
                _cell(source.section) + ("" if len(titles) == 1 else f" (*{source.title}*)"),
                ", ".join(f"``{r.activity}``" for r in rules) or "\u2014",
                ", ".join(f"``{a.id}``" for a in advice) or "\u2014",
            ]
            for source, rules, advice in sections
        ),
        "30 40 30",
    )
    yield ".. rubric:: Every rule, and what it tells the patient"
    yield ""
    yield from _list_table(
        ["Activity", "Label", "Until", "Text shown to the patient", "Section"],
        (
            [
                f"``{r.activity}``",
                _cell(r.label),
                _cell(_rule_when(r, ruleset))
                + (" (a clinician may adjust it)" if r.clinician_adjustable else ""),
                _cell(r.reason),
                _cell(r.source.section),
            ]
            for r in ruleset.rules
        ),
        "15 15 20 30 20",
    )
    yield ".. rubric:: Every advice item, and what it tells the patient"
    yield ""
    if not ruleset.advice:
        yield "This ruleset gives no advice items."
        yield ""
        return
    yield from _list_table(
        ["Id", "Category", "Title", "Text shown to the patient", "Section"],
        (
            [
                f"``{a.id}``",
                _cell(a.category.title),
                _cell(a.title),
                _cell(a.text),
                _cell(a.source.section),
            ]
            for a in ruleset.advice
        ),
        "15 15 15 35 20",
    )


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


class RulesetTraceabilityDirective(_GeneratedDirective):
    """The rules and advice of a ruleset, by the source section each cites."""

    option_spec = {"ruleset": directives.path}  # noqa: RUF012  (docutils' interface)

    def generate(self) -> Iterable[str]:
        path = self.options.get("ruleset")
        if path is None:
            ruleset = default_ruleset()
        else:
            rel, absolute = self.env.relfn2path(path)
            self.env.note_dependency(rel)
            ruleset = load_ruleset(absolute)
        return _traceability_rst(ruleset)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directives."""
    app.add_directive("public-api", PublicApiDirective)
    app.add_directive("cli-reference", CliReferenceDirective)
    app.add_directive("ruleset-traceability", RulesetTraceabilityDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
