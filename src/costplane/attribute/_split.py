"""How one node's hourly price splits into GPU, CPU and RAM unit prices (the asset side of attribution).

Clouds bill a GPU machine as one price. To charge a workload for what it requests of each resource
we need unit prices. Rule (documented in docs/measure.md):

1. CPU and RAM are priced at GCP's published N1 on-demand unit rates in us-central1,
   `CPU_USD_PER_VCPU_HOUR = 0.031611` and `RAM_USD_PER_GIB_HOUR = 0.004237` — the same resource
   weights OpenCost uses for its default custom pricing;
2. the GPUs get the rest of the node price, split evenly over the node's GPUs;
3. if CPU + RAM would take more than `MAX_HOST_SHARE` (half) of the node price (cheap marketplace
   offers with big hosts), both are scaled down together to that share, so GPUs keep the larger part.

Worked example: GCP a2-ultragpu-8g, 8 × A100-80GB, 96 vCPU, 1360 GiB, $23.56656/h:
CPU 96 × 0.031611 = $3.0347/h, RAM 1360 × 0.004237 = $5.7623/h, GPUs 23.56656 − 8.7970 = $14.7696/h,
i.e. $1.8462 per GPU-hour. The three parts sum to the node price exactly (by construction).
"""

from __future__ import annotations

from dataclasses import dataclass

CPU_USD_PER_VCPU_HOUR = 0.031611
RAM_USD_PER_GIB_HOUR = 0.004237
MAX_HOST_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class UnitPrices:
    """Per-unit hourly prices of one node; `gpus × gpu + vcpus × cpu + gib × ram == node price`."""

    gpu_usd_per_gpu_hour: float
    cpu_usd_per_vcpu_hour: float
    ram_usd_per_gib_hour: float


def split_node_price(price_usd_per_hour: float, gpus: int, vcpus: float, memory_gib: float) -> UnitPrices:
    """Unit prices for a node (see the module docstring for the rule and a worked example)."""
    if price_usd_per_hour < 0:
        raise ValueError(f"node price must not be negative, got {price_usd_per_hour}")
    cpu = max(vcpus, 0.0) * CPU_USD_PER_VCPU_HOUR
    ram = max(memory_gib, 0.0) * RAM_USD_PER_GIB_HOUR
    host = cpu + ram
    if gpus <= 0:  # a CPU-only node: everything is host cost, split by the same weights
        if host <= 0:
            return UnitPrices(0.0, price_usd_per_hour / max(vcpus, 1.0), 0.0)
        scale = price_usd_per_hour / host
        return UnitPrices(0.0, CPU_USD_PER_VCPU_HOUR * scale, RAM_USD_PER_GIB_HOUR * scale)
    cap = MAX_HOST_SHARE * price_usd_per_hour
    scale = cap / host if host > cap else 1.0
    gpu_total = price_usd_per_hour - host * scale
    return UnitPrices(gpu_total / gpus, CPU_USD_PER_VCPU_HOUR * scale, RAM_USD_PER_GIB_HOUR * scale)
