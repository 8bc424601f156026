"""Every docs page's code examples run as they are, in a fresh interpreter.

Sphinx's doctest builder can add a hidden set-up to every example; a reader who copies
an example gets none of it.  So each page's examples (its ``doctest`` and ``testcode``
blocks, in order, as Sphinx runs them) are run here in a new Python process with no
set-up at all, from the root of the repository (where the examples' ``docs/examples``
paths lead).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
_BLOCK = re.compile(r"^```\{(doctest|testcode)\}[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)

# Runs one page's blocks in order, sharing one namespace, as the docs build does.
_RUNNER = """
import doctest, json, sys
blocks = json.load(sys.stdin)
namespace = {"__name__": "__main__"}
failed = 0
for name, kind, body in blocks:
    if kind == "testcode":
        exec(compile(body, name, "exec"), namespace)
        continue
    test = doctest.DocTestParser().get_doctest(body, namespace, name, name, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    failed += runner.run(test, clear_globs=False).failed
    namespace = test.globs
sys.exit(1 if failed else 0)
"""


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if _BLOCK.search(p.read_text("utf-8")))


def _blocks(page: Path) -> list[tuple[str, str, str]]:
    found = []
    for i, match in enumerate(_BLOCK.finditer(page.read_text("utf-8"))):
        kind, body = match.groups()
        # Drop the block's options (":options: +SKIP" and the like).
        lines = [line for line in body.splitlines(keepends=True) if not line.startswith(":")]
        found.append((f"{page.relative_to(ROOT)}[{i}]", kind, "".join(lines)))
    return found


def test_the_pages_with_examples_are_found() -> None:
    names = {p.relative_to(DOCS).as_posix() for p in _pages()}
    assert {"tutorial/index.md", "how-to/clinic-ruleset.md", "how-to/cds-hooks.md"} <= names


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.relative_to(DOCS).as_posix())
def test_every_pages_examples_run_in_a_fresh_interpreter(page: Path) -> None:
    import json

    result = subprocess.run(
        [sys.executable, "-c", _RUNNER],
        input=json.dumps(_blocks(page)),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
