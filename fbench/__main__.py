"""`python -m fbench`: the same as the `fbench` command."""

import sys

from fbench.cli import main

sys.exit(main())
