"""``python -m locviz``: the same as the ``locviz`` command."""

import sys

from locviz.cli import main

sys.exit(main())
