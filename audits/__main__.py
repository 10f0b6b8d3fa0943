"""python -m audits FILE --endpoint ID --data DIR: import a field audit (open311-status audit)."""

import sys

from audits import main

sys.exit(main())
