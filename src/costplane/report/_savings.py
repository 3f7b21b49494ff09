"""The savings report (pure): realised cost against a stated baseline over the same window.

Baseline "on-demand list price": the same GPU-hours (allocated + idle, i.e. everything paid) bought
at the median on-demand per-GPU-hour price of the same GPU model across every offer in the catalog
(machine price / its GPUs). Saved = baseline − realised; negative means paying above the median list
price. Stored fleet plans in the window add their planned saving (naive cost − optimal cost), and the
waste findings add what the recommended actions would save per month.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from costplane.core.types import Catalog


@dataclass(frozen=True)
class SavingsReport:
    realised_usd: float
    gpu_hours: float
    gpu: str | None
    baseline_usd: float | None
    baseline_rule: str
    plans: tuple[dict[str, Any], ...] = field(default=())
    potential_monthly_usd: float = 0.0

    @property
    def saved_usd(self) -> float | None:
        return None if self.baseline_usd is None else self.baseline_usd - self.realised_usd

    @property
    def saved_fraction(self) -> float | None:
        return None if not self.baseline_usd else (self.baseline_usd - self.realised_usd) / self.baseline_usd

    @property
    def planned_saving_usd(self) -> float:
        return sum(p["naive_total_usd"] - p["total_usd"] for p in self.plans)

    def to_dict(self) -> dict[str, Any]:
        return {"realised_usd": round(self.realised_usd, 2), "gpu_hours": round(self.gpu_hours, 3), "gpu": self.gpu,
                "baseline_usd": None if self.baseline_usd is None else round(self.baseline_usd, 2),
                "baseline_rule": self.baseline_rule,
                "saved_usd": None if self.saved_usd is None else round(self.saved_usd, 2),
                "saved_fraction": None if self.saved_fraction is None else round(self.saved_fraction, 4),
                "plans": list(self.plans), "planned_saving_usd": round(self.planned_saving_usd, 2),
                "potential_monthly_usd": round(self.potential_monthly_usd, 2)}


def median_list_gpu_hour(catalog: Catalog, gpu: str) -> tuple[float | None, int]:
    prices = [o.price_usd_per_hour / o.gpus for o in catalog.offers
              if o.gpu == gpu and o.price_usd_per_hour is not None and o.gpus > 0]
    return (statistics.median(prices), len(prices)) if prices else (None, 0)


def savings_report(realised_usd: float, gpu_hours: float, gpu: str | None, catalog: Catalog,
                   plans: tuple[dict[str, Any], ...] = (), potential_monthly_usd: float = 0.0) -> SavingsReport:
    if gpu is None:
        return SavingsReport(realised_usd, gpu_hours, None, None, "no baseline: the GPU model is not known",
                             plans, potential_monthly_usd)
    median, n = median_list_gpu_hour(catalog, gpu)
    if median is None:
        return SavingsReport(realised_usd, gpu_hours, gpu, None, f"no baseline: no on-demand {gpu} offer in the catalog",
                             plans, potential_monthly_usd)
    rule = (f"{gpu_hours:,.1f} GPU-hours × ${median:.4f}/GPU-h, the median on-demand {gpu} list price "
            f"of {n} catalog offers")
    return SavingsReport(realised_usd, gpu_hours, gpu, gpu_hours * median, rule, plans, potential_monthly_usd)
