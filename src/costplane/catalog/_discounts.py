"""Negotiated discounts: a percentage off list price per cloud, optionally per instance family.

A rule for a family (`p5`, `a3-highgpu`) wins over a rule for the whole cloud; the discount applies
to on-demand and spot prices alike, so every price the user sees is the price they pay.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path

from costplane.core.errors import InputError
from costplane.core.files import read_structured
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


def _discount(raw: dict, where: str) -> Discount:
    try:
        cloud = str(raw["cloud"]).strip().lower()
        percent = float(raw["percent"])
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{where}: a discount needs `cloud` and a numeric `percent`",
                         fix="write e.g. {cloud: aws, instance_family: p5, percent: 20}") from None
    if not 0 <= percent < 100:
        raise InputError(f"{where}: percent {percent} is outside [0, 100)", fix="give a percentage such as 15")
    family = raw.get("instance_family") or None
    return Discount(cloud, percent, str(family).strip() if family else None)


def read_discounts(path: Path) -> tuple[Discount, ...]:
    """Discounts from YAML/JSON (a list, or {discounts: [...]}) or CSV (cloud,instance_family,percent)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        try:
            text = path.read_text()
        except OSError as exc:
            raise InputError(f"cannot read discounts {path}: {exc.strerror}", fix="check the path") from None
        rows = list(csv.DictReader(text.splitlines()))
        return tuple(_discount(r, f"{path}:{i}") for i, r in enumerate(rows, start=2))
    data = read_structured(path, "discounts")
    if isinstance(data, dict):
        data = data.get("discounts")
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a list of discounts", fix="write `discounts: [{cloud: aws, percent: 10}]`")
    return tuple(_discount(r if isinstance(r, dict) else {}, f"{path}: item {i}") for i, r in enumerate(data, 1))


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
