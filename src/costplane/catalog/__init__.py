"""Price catalogs: the bundled default, the project's CSV schema, SkyPilot v8 directories, and discounts.

`load_catalog(path)` is the one entry point at the edge: a directory is read as SkyPilot v8 layout,
a file as the project's schema, nothing as the bundled snapshot. Decision code receives the Catalog.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from costplane.catalog._csv import read_catalog_csv, write_catalog_csv
from costplane.catalog._discounts import Discount, apply_discounts, read_discounts
from costplane.catalog._sky_task import sky_accelerator, sky_task, sky_warning, write_sky_task
from costplane.catalog._skypilot import import_skypilot_dir
from costplane.core.errors import CatalogError
from costplane.core.types import Catalog

__all__ = [
    "Discount",
    "apply_discounts",
    "bundled_catalog_path",
    "import_skypilot_dir",
    "load_catalog",
    "read_catalog_csv",
    "read_discounts",
    "sky_accelerator",
    "sky_task",
    "sky_warning",
    "write_catalog_csv",
    "write_sky_task",
]


def bundled_catalog_path() -> Path:
    return Path(str(resources.files("costplane.catalog") / "data" / "catalog.csv"))


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime: float) -> Catalog:
    p = Path(path)
    if p.is_dir():
        offers = import_skypilot_dir(p)
        if not offers:
            raise CatalogError(f"{p}: no GPU offers found", fix="point --catalog at a catalog with GPU machines")
        return Catalog(tuple(offers), as_of="unknown", source=f"SkyPilot v8 catalog at {p}")
    return read_catalog_csv(p)


def load_catalog(path: str | Path | None = None, discounts: str | Path | None = None) -> Catalog:
    """The catalog at `path` (SkyPilot v8 directory or project CSV), or the bundled one; discounts applied."""
    p = Path(path) if path else bundled_catalog_path()
    if not p.exists():
        raise CatalogError(f"catalog {p} does not exist", fix="pass a project CSV or a SkyPilot v8 directory")
    catalog = _load_cached(str(p.resolve()), p.stat().st_mtime)
    if discounts:
        known = {o.cloud for o in catalog.offers}
        catalog = apply_discounts(catalog, read_discounts(Path(discounts), known_clouds=known))
    return catalog
