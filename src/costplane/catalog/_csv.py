"""The project's own catalog CSV schema: one row per offer, OFFER_COLUMNS, with `# as_of:` / `# source:` headers."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from pathlib import Path

from costplane.core.errors import CatalogError
from costplane.core.gpus import gpu_memory_gib, normalise_gpu_name
from costplane.core.types import OFFER_COLUMNS, Catalog, Offer

_REQUIRED = ("cloud", "region", "instance_type", "gpu", "gpus", "price_usd_per_hour")
_NUMERIC = ("gpu_memory_gib", "gpus", "vcpus", "memory_gib", "price_usd_per_hour", "spot_price_usd_per_hour")


def _number(path: Path, line: int, col: str, raw: str | None) -> float | None:
    raw = (raw or "").strip()
    if raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise CatalogError(f"{path}:{line}: column {col}: {raw!r} is not a number", fix="correct that cell") from None
    if value < 0 or math.isnan(value) or math.isinf(value):
        raise CatalogError(f"{path}:{line}: column {col}: {raw} is not a non-negative number", fix="correct that cell")
    return value


def _offer_from_row(path: Path, line: int, row: dict[str, str]) -> Offer:
    for col in _REQUIRED:
        if not (row.get(col) or "").strip() and col != "price_usd_per_hour":
            raise CatalogError(f"{path}:{line}: column {col} is empty", fix="every offer needs a value there")
    nums = {c: _number(path, line, c, row.get(c)) for c in _NUMERIC}
    gpus = nums["gpus"] or 0.0
    if gpus <= 0 or gpus != int(gpus):
        raise CatalogError(f"{path}:{line}: column gpus: {row.get('gpus')!r} is not a positive whole number",
                           fix="one row per machine with its whole GPU count")
    if nums["price_usd_per_hour"] is None and nums["spot_price_usd_per_hour"] is None:
        raise CatalogError(f"{path}:{line}: neither price_usd_per_hour nor spot_price_usd_per_hour is given",
                           fix="give at least one price")
    gpu = normalise_gpu_name(row["gpu"])
    return Offer(
        cloud=row["cloud"].strip().lower(),
        region=row["region"].strip(),
        zone=(row.get("zone") or "").strip() or None,
        instance_type=row["instance_type"].strip(),
        gpu=gpu,
        gpu_memory_gib=nums["gpu_memory_gib"] or gpu_memory_gib(gpu) or 0.0,
        gpus=int(gpus),
        vcpus=nums["vcpus"] or 0.0,
        memory_gib=nums["memory_gib"] or 0.0,
        price_usd_per_hour=nums["price_usd_per_hour"],
        spot_price_usd_per_hour=nums["spot_price_usd_per_hour"],
    )


def read_catalog_csv(path: Path) -> Catalog:
    """Read a catalog in the project's schema; errors name the file, line and column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CatalogError(f"cannot read catalog {path}: {exc.strerror}", fix="check the path") from None
    meta: dict[str, str] = {}
    body_start = 0
    lines = text.splitlines(keepends=True)
    while body_start < len(lines) and lines[body_start].startswith("#"):
        key, _, value = lines[body_start][1:].partition(":")
        meta[key.strip()] = value.strip()
        body_start += 1
    reader = csv.DictReader(io.StringIO("".join(lines[body_start:])))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise CatalogError(f"{path}:{body_start + 1}: missing column(s) {', '.join(missing)}",
                           fix=f"the header must hold {', '.join(OFFER_COLUMNS)}")
    reader.fieldnames = header
    offers = []
    for row in reader:
        i = body_start + reader.line_num  # the reader's own count: blank lines do not shift it
        if None in row:
            raise CatalogError(f"{path}:{i}: more cells than header columns", fix="quote cells that hold commas")
        offers.append(_offer_from_row(path, i, row))
    if not offers:
        raise CatalogError(f"{path}: the catalog has no offers", fix="add at least one row")
    return Catalog(tuple(offers), as_of=meta.get("as_of", "unknown"), source=meta.get("source", str(path)))


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        short = f"{value:.10g}"
        # Tidy when exact; otherwise repr, the shortest text that reads back bit-identical (0.1 + 0.2).
        return short if float(short) == value else repr(value)
    return str(value)


def write_catalog_csv(offers: Iterable[Offer], path: Path, as_of: str, source: str) -> int:
    """Write offers in the project's schema; returns the row count."""
    n = 0
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        fh.write(f"# as_of: {as_of}\n# source: {source}\n")
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(OFFER_COLUMNS)
        for o in offers:
            writer.writerow([_cell(getattr(o, c)) for c in OFFER_COLUMNS])
            n += 1
    return n
