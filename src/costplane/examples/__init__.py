"""Bundled examples and small derived samples (each data file has a *.SOURCE.md note): `example_path(name)`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def example_path(name: str) -> Path:
    """Filesystem path of a bundled example file, e.g. `example_path("fleet.yaml")`."""
    return Path(str(resources.files("costplane.examples") / name))
