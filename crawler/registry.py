"""python -m crawler.registry [FILE]: the registry check by the command line it has always had (registry/)."""

import sys

from registry import main

if __name__ == "__main__":
    sys.exit(main())
