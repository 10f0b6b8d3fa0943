"""python -m shards export|merge ...: the crawl workflow's shards (open311-status shards)."""

import sys

from shards import main

sys.exit(main())
