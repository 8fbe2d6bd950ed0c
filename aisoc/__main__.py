"""``python -m aisoc``: the same as the ``aisoc`` command."""

import sys

from aisoc.cli import main

sys.exit(main())
