"""python -m registry [FILE]: validate the registry (open311-status validate)."""

import sys

from registry import main

sys.exit(main())
