"""``python -m ketamine_guidance``: the command line."""

import sys

from ketamine_guidance._cli import main

sys.exit(main())
