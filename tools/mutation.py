"""Mutation testing of the time engine, the plan and the loader: run mutmut, print the score.

    nox -s mutation                  # mutate, test, and print the score and survivors
    nox -s mutation -- --report      # only print the score of the last run

mutmut (configured in ``[tool.mutmut]`` of pyproject.toml) copies the package into
``mutants/``, changes one thing at a time in ``_engine/windows.py``,
``_engine/plan.py`` and ``_rules/loader.py``, and runs the tests that reach the changed
function.  A mutant the tests do not notice "survives";
docs/reference/mutation-survivors.md says why each survivor is equivalent or left.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.90
PAGE = ROOT / "docs" / "reference" / "mutation-survivors.md"
# Why a mutant is left alive, by the function it is in ("module.function") or by its
# exact name.  Names change when the code changes: review this after each run.
REASONS = json.loads((Path(__file__).parent / "mutation_reasons.json").read_text("utf-8"))
NOT_REACHED = (
    "left: no test yet tells this change apart from the original (most are changes to "
    "the wording of an error message or to a default that no input reaches); a candidate "
    "for a new test"
)


def _function(name: str) -> str:
    module, _, rest = name.rpartition(".")
    rest = rest.split("__mutmut_")[0].removeprefix("x_").replace("xǁ", "").replace("ǁ", ".")
    return f"{module}.{rest}"


def _write_page(score: str, survivors: list[tuple[str, str]]) -> None:
    groups: dict[str, list[tuple[str, str]]] = {}
    for name, why in survivors:
        groups.setdefault(_function(name), []).append((name, why))
    lines = [
        "# Mutation testing: the mutants left alive",
        "",
        "`nox -s mutation -- --write` runs mutmut on the engine modules and rewrites this page.",
        "The reasons come from `tools/mutation_reasons.json`.",
        f"Last run: {score}.",
        "A mutant that no test reaches counts as not killed.",
        "",
        "| Module | Killed | Mutants |",
        "| --- | --- | --- |",
    ]
    results = _mutmut("results", "--all", "true").stdout.splitlines()
    for module in ("_windows", "_plan", "_loader"):
        mine = [r for r in results if f"ketamine_guidance.{module}." in r]
        killed = sum(r.rstrip().endswith(": killed") for r in mine)
        lines.append(f"| `{module}.py` | {killed} | {len(mine)} |")
    lines.append("")
    for function in sorted(groups):
        lines += [f"## `{function}`", ""]
        for name, why in groups[function]:
            reason = REASONS.get(name) or REASONS.get(function) or NOT_REACHED
            lines.append(f"- `{name.rsplit('.', 1)[1]}` ({why}): {reason}")
        lines.append("")
    PAGE.write_text("\n".join(lines), "utf-8")


def _mutmut(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("mutmut", path=str(Path(sys.executable).parent)) or "mutmut"
    return subprocess.run(
        [exe, *args], cwd=ROOT, check=check, text=True, capture_output=args[0] != "run"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="only report the last run")
    parser.add_argument(
        "--write", action="store_true", help=f"also rewrite {PAGE.relative_to(ROOT)}"
    )
    parser.add_argument(
        "--max-children", default=str(os.cpu_count() or 2), help="parallel test processes"
    )
    args = parser.parse_args(argv)
    if not args.report:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
        _mutmut("run", "--max-children", args.max_children, check=False)
    _mutmut("export-cicd-stats")
    stats = json.loads((ROOT / "mutants" / "mutmut-cicd-stats.json").read_text("utf-8"))
    # A mutant no test reaches ("no_tests") counts as not killed.
    counted = stats["total"] - stats.get("skipped", 0)
    killed = stats["killed"] + stats.get("timeout", 0)
    score = killed / counted if counted else 0.0
    print(json.dumps(stats, indent=2))
    print(f"\nmutation score: {killed}/{counted} killed = {score:.1%} (target {TARGET:.0%})")
    survivors = [
        (line.split(":")[0].strip(), line.rsplit(":", 1)[1].strip())
        for line in _mutmut("results").stdout.splitlines()
        if line.strip().endswith(("survived", "no tests"))
    ]
    print(f"{len(survivors)} not killed (`mutmut show NAME` prints the change):")
    for name, why in survivors:
        print(f"  {name}: {why}")
    if args.write:
        _write_page(f"{killed} of {counted} mutants killed, {score:.1%}", survivors)
    return 0 if score >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
