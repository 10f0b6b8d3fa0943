"""python -m check URL ...: try a candidate endpoint once (open311-status check)."""

import sys
from datetime import datetime, timezone

from check import main

sys.exit(main(sys.argv[1:], clock=lambda: datetime.now(timezone.utc)))
