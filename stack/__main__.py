"""Entry point: ``python -m stack VERB``."""

import sys

from stack.cli import main

sys.exit(main())
