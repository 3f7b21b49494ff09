"""Negotiated discounts: a percentage off list price per cloud, optionally per instance family.

A rule for a family (`p5`, `a3-highgpu`) wins over a rule for the whole cloud; the discount applies
to on-demand and spot prices alike, so every price the user sees is the price they pay.
"""

from __future__ import annotations

import csv
import difflib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from costplane.core.errors import InputError
from costplane.core.files import read_structured_lines
from costplane.core.schema import DiscountsFile, validate
from costplane.core.types import Catalog, Offer


@dataclass(frozen=True, slots=True)
class Discount:
    cloud: str
    percent: float
    instance_family: str | None = None

    def matches(self, offer: Offer) -> bool:
        if offer.cloud != self.cloud:
            return False
        if self.instance_family is None:
            return True
        fam = self.instance_family
        itype = offer.instance_type
        # `p5` matches p5.48xlarge but not p5en.48xlarge: the family must end at a separator.
        return itype == fam or (itype.startswith(fam) and not itype[len(fam)].isalnum())


DOCS = "docs/placement.md (discounts)"


def read_discounts(path: Path, known_clouds: Iterable[str] | None = None) -> tuple[Discount, ...]:
    """Discounts from YAML/JSON (a list, or {discounts: [...]}) or CSV (cloud,instance_family,percent).

    Validated by core.schema.DiscountsFile; with `known_clouds` (the catalog's), another cloud is an error
    that names the known ones, so a misspelled cloud never silently discounts nothing.
    """
    path = Path(path)
    if path.suffix.lower() == ".csv":
        data, lines = _read_csv(path)
    else:
        data, lines = read_structured_lines(path, "discounts")
        if isinstance(data, list):  # a bare list: the same as {discounts: [...]}
            data = {"discounts": data}
            lines = {("discounts", *k): v for k, v in lines.items()}
    model = validate(DiscountsFile, data, str(path), lines, DOCS)
    out = tuple(Discount(d.cloud.lower(), float(d.percent), d.instance_family or None) for d in model.discounts)
    if known_clouds is not None:
        known = sorted({c.lower() for c in known_clouds})
        for i, d in enumerate(out):
            if d.cloud not in known:
                line = lines.get(("discounts", i, "cloud"))
                close = difflib.get_close_matches(d.cloud, known, n=1, cutoff=0.6)
                hint = f" (did you mean `{close[0]}`?)" if close else ""
                raise InputError(f"{path}{f', line {line}' if line else ''}: unknown cloud `{d.cloud}` in "
                                 f"discounts[{i}]{hint}", fix=f"use one of the catalog's clouds: {', '.join(known)}")
    return out


def _read_csv(path: Path) -> tuple[dict, dict]:
    """CSV rows as {discounts: [...]}, blank cells dropped, with each row's line for errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc.__class__.__name__
        raise InputError(f"cannot read discounts {path}: {reason}", fix="check the path") from None
    rows, lines = [], {}
    for i, row in enumerate(csv.DictReader(text.splitlines())):
        rows.append({str(k).strip(): v.strip() for k, v in row.items()
                     if k is not None and isinstance(v, str) and v.strip()})
        lines[("discounts", i)] = i + 2
        for k in rows[-1]:
            lines[("discounts", i, k)] = i + 2
    return {"discounts": rows}, lines


def _scaled(price: float | None, factor: float) -> float | None:
    return None if price is None else price * factor


def apply_discounts(catalog: Catalog, discounts: tuple[Discount, ...]) -> Catalog:
    """A new catalog whose prices carry the most specific matching discount."""
    if not discounts:
        return catalog
    offers = []
    for o in catalog.offers:
        matching = [d for d in discounts if d.matches(o)]
        if not matching:
            offers.append(o)
            continue
        best = max(matching, key=lambda d: (d.instance_family is not None, len(d.instance_family or "")))
        factor = 1.0 - best.percent / 100.0
        offers.append(replace(o, price_usd_per_hour=_scaled(o.price_usd_per_hour, factor),
                              spot_price_usd_per_hour=_scaled(o.spot_price_usd_per_hour, factor)))
    labels = tuple(f"{d.cloud}{'/' + d.instance_family if d.instance_family else ''} -{d.percent:g}%" for d in discounts)
    return Catalog(tuple(offers), catalog.as_of, catalog.source, catalog.discounts_applied + labels)
