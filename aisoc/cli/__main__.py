import sys

from aisoc.cli import main

sys.exit(main())
