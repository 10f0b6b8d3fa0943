"""python -m forms: open311-status forms, with the real clock and environment."""

import sys
from datetime import datetime, timezone

from forms import main

sys.exit(main(sys.argv[1:], lambda: datetime.now(timezone.utc)))
