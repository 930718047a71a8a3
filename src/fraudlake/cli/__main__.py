"""`python -m fraudlake.cli`: what the daemons (sink, demo traffic) run."""

import sys

from fraudlake.cli import main

sys.exit(main())
