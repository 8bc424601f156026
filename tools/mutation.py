"""Mutation testing of the time engine, the plan and the loader: run mutmut, print the score.

    nox -s mutation                  # mutate, test, and print the score and survivors
    nox -s mutation -- --report      # only print the score of the last run

mutmut (configured in ``[tool.mutmut]`` of pyproject.toml) copies the package into
``mutants/``, changes one thing at a time in ``_windows.py``, ``_plan.py`` and
``_loader.py``, and runs the tests that reach the changed function.  A mutant the
tests do not notice "survives"; docs/reference/mutation-survivors.md says why each
survivor is equivalent or left.
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


def _mutmut(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("mutmut", path=str(Path(sys.executable).parent)) or "mutmut"
    return subprocess.run(
        [exe, *args], cwd=ROOT, check=check, text=True, capture_output=args[0] != "run"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="only report the last run")
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
    return 0 if score >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
