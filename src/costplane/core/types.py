"""Typed rows and values that cross package borders: Offer and Catalog (units in field names)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

OFFER_COLUMNS: tuple[str, ...] = (
    "cloud",
    "region",
    "zone",
    "instance_type",
    "gpu",
    "gpu_memory_gib",
    "gpus",
    "vcpus",
    "memory_gib",
    "price_usd_per_hour",
    "spot_price_usd_per_hour",
)


@dataclass(frozen=True, slots=True)
class Offer:
    """One machine type in one cloud region (and zone, when the cloud prices per zone).

    Prices are for the whole machine, all of its `gpus` included. `price_usd_per_hour` is None when
    the machine has no on-demand offer; `spot_price_usd_per_hour` is None when it has no spot offer.
    """

    cloud: str
    region: str
    zone: str | None
    instance_type: str
    gpu: str
    gpu_memory_gib: float
    gpus: int
    vcpus: float
    memory_gib: float
    price_usd_per_hour: float | None
    spot_price_usd_per_hour: float | None

    def price(self, spot: bool) -> float | None:
        return self.spot_price_usd_per_hour if spot else self.price_usd_per_hour

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Catalog:
    """A price catalog: offers plus where and when they came from. Passed as an argument, never global."""

    offers: tuple[Offer, ...]
    as_of: str
    source: str
    discounts_applied: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.offers)

    @cached_property
    def frame(self) -> pd.DataFrame:
        """The offers as one DataFrame (columns = OFFER_COLUMNS), for vectorised filtering."""
        import pandas as pd

        df = pd.DataFrame([o.to_dict() for o in self.offers], columns=list(OFFER_COLUMNS))
        for col in ("gpu_memory_gib", "vcpus", "memory_gib", "price_usd_per_hour", "spot_price_usd_per_hour"):
            df[col] = df[col].astype("float64")
        df["gpus"] = df["gpus"].astype("int64")
        return df

    @cached_property
    def gpu_models(self) -> tuple[str, ...]:
        return tuple(sorted({o.gpu for o in self.offers}))

    def filter(
        self,
        gpu: str | None = None,
        clouds: tuple[str, ...] = (),
        regions: tuple[str, ...] = (),
    ) -> Catalog:
        offers = tuple(
            o
            for o in self.offers
            if (gpu is None or o.gpu == gpu)
            and (not clouds or o.cloud in clouds)
            and (not regions or o.region in regions)
        )
        return Catalog(offers, self.as_of, self.source, self.discounts_applied)
