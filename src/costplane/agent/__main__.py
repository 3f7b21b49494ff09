"""`python -m costplane.agent [--once] [--json] [--port 9400]`: the same as `costplane agent ...`."""

import sys

from costplane.cli import main

if __name__ == "__main__":
    sys.exit(main(["agent", *sys.argv[1:]]))
