"""`python -m bot` runs the doorajar command."""

import sys

from bot.cli import main

sys.exit(main())
