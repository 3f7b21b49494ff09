"""The bundled sample as a cost source (`--sample`): 30 workloads of the Alibaba GenAI 2026 trace on 4 priced nodes.

`costplane/examples/gpu_usage_sample*.csv` (see gpu_usage_sample.SOURCE.md): 5-minute GPU use of
30 containers on 4 GCP a2-ultragpu-8g nodes priced from the catalog, each workload requesting 1 GPU
and 1/8 of its node's vCPUs and RAM. It is read only when the user asks for it (`--sample`, and
`costplane demo`); the store is read by costplane.costing, the one cost path. Both give `Costs`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from costplane.attribute import Allocation, AllocationIndex, Asset, Window, series_allocations
from costplane.core.errors import InputError
from costplane.core.types import Catalog
from costplane.costing import Costs
from costplane.waste._series import intervals


def sample_path(name: str) -> Path:
    return Path(str(resources.files("costplane.examples") / name))


@dataclass
class Sample(Costs):
    """The bundled sample's costs plus its usage series (for `waste` and the report)."""

    usage: pd.DataFrame = field(default_factory=pd.DataFrame)   # workload, ts_s, gpu_util_pct, gpu_memory_gib
    labels: pd.DataFrame = field(default_factory=pd.DataFrame)  # workload, team, project, node
    gpu: str | None = None
    gpu_memory_gib: float | None = None
    price_usd_per_gpu_hour: float | None = None


def cheapest_gpu_hour(catalog: Catalog, gpu: str) -> float | None:
    """Cheapest on-demand price of one GPU of this model in the catalog (machine price / its GPUs)."""
    prices = [o.price_usd_per_hour / o.gpus for o in catalog.offers
              if o.gpu == gpu and o.price_usd_per_hour is not None and o.gpus > 0]
    return min(prices) if prices else None


def _node_price(catalog: Catalog, cloud: str, region: str, instance_type: str) -> float | None:
    prices = [o.price_usd_per_hour for o in catalog.offers
              if o.cloud == cloud and o.region == region and o.instance_type == instance_type
              and o.price_usd_per_hour is not None]
    return min(prices) if prices else None  # zones of one region may differ: the cheapest zone


# ------------------------------------------------------------------ bundled sample

def load_bundled_sample(catalog: Catalog) -> Sample:
    usage = pd.read_csv(sample_path("gpu_usage_sample.csv"))
    labels = pd.read_csv(sample_path("gpu_usage_sample_workloads.csv"))
    nodes = pd.read_csv(sample_path("gpu_usage_sample_nodes.csv"))
    usage = usage.rename(columns={"timestamp": "ts_s"}).sort_values(["workload", "ts_s"], kind="stable")
    start_s = float(usage.ts_s.min())
    allocations: list[Allocation] = []
    end_s = start_s
    node_of = labels.set_index("workload").to_dict("index")
    node_rows = nodes.set_index("node").to_dict("index")
    for workload, g in usage.groupby("workload", sort=True):
        lab = node_of[workload]
        n = node_rows[lab["node"]]
        ts = g.ts_s.to_numpy(float)
        dt = intervals(ts)
        end_s = max(end_s, float(ts[-1] + dt[-1]))
        allocations += series_allocations(str(workload), ts, g.gpu_util_pct.to_numpy(float), lab["node"],
                                          gpus=1.0, vcpus=n["vcpus"] / n["gpus"], ram_gib=n["memory_gib"] / n["gpus"],
                                          labels=lab, interval_s=dt)
    assets = [Asset(name, int(n["gpus"]), float(n["vcpus"]), float(n["memory_gib"]),
                    _node_price(catalog, n["cloud"], n["region"], n["instance_type"]), start_s, end_s,
                    gpu=n["gpu"], cloud=n["cloud"], region=n["region"], instance_type=n["instance_type"])
              for name, n in node_rows.items()]
    index = AllocationIndex(allocations)
    gpu = str(nodes.gpu.iloc[0])
    priced = [a.price_usd_per_hour / a.gpus for a in assets if a.price_usd_per_hour is not None]
    return Sample(
        source="bundled sample (costplane/examples/gpu_usage_sample.csv: 5-min GPU use of 30 containers of the "
               "Alibaba GenAI 2026 trace on 4 GCP a2-ultragpu-8g nodes)",
        cost_of=lambda w: index.cost_set(assets, w),
        newest_s=end_s, oldest_s=start_s, mode="sample",
        pricing=[{"node": name, "instance_type": a.instance_type, "cloud": a.cloud, "region": a.region,
                  "usd_per_hour": a.price_usd_per_hour} for name, a in zip(node_rows, assets)],
        usage=usage, labels=labels, gpu=gpu, gpu_memory_gib=80.0,
        price_usd_per_gpu_hour=priced[0] if priced else None,
    )


def window_for(data: Costs, window_s: float, end_s: float | None) -> Window:
    end = end_s if end_s is not None else data.newest_s
    if end is None:  # an empty store: the window ends now
        import time

        end = time.time()
    if not math.isfinite(end):
        raise InputError(f"--end {end_s!r} is not a time", fix="pass ISO 8601 or epoch seconds")
    return Window(end - window_s, end)
