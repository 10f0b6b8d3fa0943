"""python -m twins --endpoints FILE --data DIR: fetch the open-data twins (open311-status twins)."""

import os
import sys
from datetime import datetime, timezone

from twins import main

sys.exit(main(sys.argv[1:], clock=lambda: datetime.now(timezone.utc), env=os.environ))
