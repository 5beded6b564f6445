"""Entry point: ``python -m consumers ...`` (see ``consumers.cli``)."""

import sys

from consumers.cli import main

sys.exit(main())
