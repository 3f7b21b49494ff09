"""Pricing one replica of a serve-plan candidate: the catalog's cheapest offer per purchase, and spot overhead.

On demand, a replica is priced exactly as `costplane replay` prices a service spec: the cheapest on-demand
offer with `gpus_per_replica` GPUs (`placement.place`), so a plan's on-demand cost is the replay's cost.
The profile's `host` minimums (vCPUs and GiB of RAM per GPU) narrow the offers first when given.

Spot replicas use the interruption model of `train-plan` (`training._spot`): interruptions arrive as a
Poisson process of rate lam per replica while it is up; each one costs a replacement replica's cold
start, paid and not serving. Serving keeps no state worth checkpointing, so "progress" is checkpointed
every replay step and an interruption loses only the cold start: the expected paid time per hour of
spot serving is `expected_wall_s(3600, lam, step_s, cold_start_s) / 3600` (= 1 + lam x cold_start_s
to first order), which multiplies the spot price.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from costplane.core.errors import InfeasibleError
from costplane.core.types import Catalog
from costplane.placement import PlacementRequest, feasible_rows, place, price_options
from costplane.serveplan._profile import HostMinimum
from costplane.training import expected_wall_s, interruptions_per_hour

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class ReplicaOffer:
    """One machine that hosts one replica, on demand or spot; `hourly_usd` is the catalog price."""

    cloud: str
    region: str
    zone: str | None
    instance_type: str
    vcpus: float
    memory_gib: float
    spot: bool
    hourly_usd: float
    interruptions_per_hour: float = 0.0  # per replica; 0 on demand

    def to_dict(self) -> dict[str, Any]:
        return {"cloud": self.cloud, "region": self.region, "zone": self.zone, "instance_type": self.instance_type,
                "vcpus": self.vcpus, "memory_gib": self.memory_gib, "spot": self.spot,
                "hourly_usd": self.hourly_usd, "interruptions_per_hour": self.interruptions_per_hour}


def _request(gpu: str, gpus: int, host: HostMinimum, spot: bool) -> PlacementRequest:
    # only the profile's own host minimums: with none, a replica is priced as `costplane replay` prices it
    return PlacementRequest(gpu=gpu, gpus_per_node=gpus, hours=1.0, spot=spot, host_minimums=False,
                            min_vcpus=host.min_vcpus_per_gpu * gpus, min_memory_gib=host.min_memory_gib_per_gpu * gpus)


def _offer(catalog: Catalog, row: int, spot: bool, hourly: float, rate: float = 0.0) -> ReplicaOffer:
    o = catalog.offers[row]
    return ReplicaOffer(o.cloud, o.region, o.zone, o.instance_type, float(o.vcpus), float(o.memory_gib), spot,
                        float(hourly), rate)


def on_demand_offer(catalog: Catalog, gpu: str, gpus: int, host: HostMinimum) -> tuple[ReplicaOffer | None, str]:
    """The cheapest on-demand offer (what `costplane replay` prices), or None and the constraint that binds."""
    try:
        best = place(_request(gpu, gpus, host, spot=False), catalog, limit=1)[0]
    except InfeasibleError as exc:
        return None, exc.message
    return _offer(catalog, best.offer_index, False, best.hourly_usd), ""


def spot_offer(catalog: Catalog, gpu: str, gpus: int, host: HostMinimum,
               rates: dict[str, float]) -> tuple[ReplicaOffer | None, str]:
    """The cheapest spot offer (same filters, same tie-breaks as `place`), with its interruption rate."""
    request = _request(gpu, gpus, host, spot=True)
    try:
        rows = feasible_rows(request, catalog)
    except InfeasibleError as exc:
        return None, exc.message
    idx, is_spot, hourly = price_options(request, catalog, rows)
    idx, hourly = idx[is_spot], hourly[is_spot]
    if idx.size == 0:
        return None, f"no spot price for {gpus} x {gpu}"
    k = int(np.lexsort((idx, hourly))[0])
    o = catalog.offers[int(idx[k])]
    return _offer(catalog, int(idx[k]), True, float(hourly[k]),
                  interruptions_per_hour(o.cloud, o.region, o.instance_type, rates)), ""


def spot_overhead(interruptions_per_hour_: float, cold_start_s: float, step_s: float) -> float:
    """Expected paid seconds per second of spot serving (>= 1), from train-plan's interruption model."""
    wall = expected_wall_s(SECONDS_PER_HOUR, interruptions_per_hour_ / SECONDS_PER_HOUR, step_s, cold_start_s)
    return float(wall) / SECONDS_PER_HOUR
