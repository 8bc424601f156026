"""``python -m ketamine_guidance``: the command line, exactly as the console script runs it."""

from ketamine_guidance._cli import main_entry

main_entry()
