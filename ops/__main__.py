"""Entry point: ``python -m ops VERB`` (see ``ops.cli``)."""

import sys

from ops.cli import main

sys.exit(main())
