"""`python -m costplane.cli`: the same entry point as the `costplane` script."""

from costplane.cli import run

run()
