"""python build.py --data DIR --out DIR [--now ISO8601] [--cache DIR] [--json] [--site-url URL]
                 [--repository URL] [--release-url URL] [--archive DIR] [--downloads-limit MB]

The site's build, as the script the workflow runs (open311-status build does the same). The build itself is the
package builder/, so that installing the project puts no module named `build` in the way of PyPA's `python -m build`.
"""

import sys

from builder import main

if __name__ == "__main__":
    sys.exit(main())
