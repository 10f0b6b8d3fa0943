"""python -m incidents --data DIR --repo OWNER/NAME: the incidents as GitHub issues (open311-status incidents)."""

import os
import sys
from datetime import datetime, timezone

from incidents import main

sys.exit(main(sys.argv[1:], clock=lambda: datetime.now(timezone.utc), env=os.environ))
