"""Where measured cost comes from (adapter): the store when it holds data for the window, else the bundled sample.

Resolution order for `costplane cost | budget | report`:

1. **store, cost records** — billed lines (FOCUS ingest) overlapping the window. Each line's
   effective cost is prorated by its overlap with the window. A line tagged with a workload, team
   or project is allocated to it; an untagged line is idle (no workload claims it). GPU-hours come
   from the line, used GPU-hours from stored `gpu_util_pct` samples of the same workload.
2. **store, usage samples** — `gpu_util_pct` series (Prometheus/DCGM ingest) in the window. Each
   series is one GPU held by its workload (see attribute._build); it is priced at
   `--price-usd-per-gpu-hour`, else at the cheapest on-demand per-GPU price in the catalog of its
   GPU model (`--gpu`, else the series' `modelName`/`gpu_model` label); with neither it is unpriced.
3. **bundled sample** — `costplane/examples/gpu_usage_sample*.csv` (derived from the Alibaba GenAI
   2026 trace, see gpu_usage_sample.SOURCE.md): 30 workloads on 4 GCP a2-ultragpu-8g nodes priced
   from the catalog, each workload requesting 1 GPU and 1/8 of its node's vCPUs and RAM.

The window ends at `--end` when given, else at the newest data point of the chosen source.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from costplane.attribute import (
    MICRO_PER_USD,
    Allocation,
    AllocationIndex,
    Asset,
    CostKind,
    CostRow,
    CostSet,
    Window,
    series_allocations,
)
from costplane.core.errors import InputError
from costplane.core.gpus import canonical_gpu, resolve_gpu
from costplane.core.types import Catalog
from costplane.waste._series import intervals

GPU_UTIL_METRIC = "gpu_util_pct"
GPU_MEMORY_METRIC = "gpu_memory_used_bytes"
_GPU_LABELS = ("modelName", "gpu_model", "gpu", "GPU_I_PROFILE")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_UNIT_S = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration_s(text: str, flag: str = "--window") -> float:
    """`7d`, `24h`, `90m`, `3600s`, `3600` -> seconds (> 0)."""
    m = _DURATION.match(str(text))
    if not m or float(m.group(1)) <= 0:
        raise InputError(f"{flag} {text!r} is not a positive duration", fix=f"use e.g. {flag} 7d, 24h or 90m")
    return float(m.group(1)) * _UNIT_S[m.group(2).lower()]


def sample_path(name: str) -> Path:
    return Path(str(resources.files("costplane.examples") / name))


@dataclass
class MeasureData:
    """Measured inputs for one run: how to cost any window, the usage series, and where they came from."""

    source: str
    newest_s: float
    oldest_s: float
    cost_set: Callable[[Window], CostSet]
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

def load_bundled_sample(catalog: Catalog) -> MeasureData:
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
    gpu = str(nodes.gpu.iloc[0])
    priced = [a.price_usd_per_hour / a.gpus for a in assets if a.price_usd_per_hour is not None]
    return MeasureData(
        source="bundled sample (costplane/examples/gpu_usage_sample.csv: 5-min GPU use of 30 containers of the "
               "Alibaba GenAI 2026 trace on 4 GCP a2-ultragpu-8g nodes)",
        newest_s=end_s, oldest_s=start_s,
        cost_set=lambda w, index=AllocationIndex(allocations): index.cost_set(assets, w),
        usage=usage, labels=labels, gpu=gpu, gpu_memory_gib=80.0,
        price_usd_per_gpu_hour=priced[0] if priced else None,
    )


# ------------------------------------------------------------------ store

def _records_cost_set(records: list[dict], used_by_workload: dict[str, float], window: Window) -> CostSet:
    rows = []
    for r in records:
        span = r["period_end_s"] - r["period_start_s"]
        overlap = window.overlap_s(r["period_start_s"], r["period_end_s"])
        if overlap <= 0:
            continue
        frac = overlap / span if span > 0 else 1.0
        micro = max(0, round(r["effective_cost_usd"] * frac * MICRO_PER_USD))
        gpu_hours = (r["gpu_hours"] or 0.0) * frac
        tagged = r["workload"] or r["team"] or r["project"]
        if tagged:
            labels = (("workload", r["workload"] or ""), ("team", r["team"] or ""), ("project", r["project"] or ""),
                      ("node", r["resource_id"] or ""))
            measured = (r["workload"] or "") in used_by_workload
            used = min(used_by_workload.get(r["workload"] or "", 0.0) * frac, gpu_hours)
            rows.append(CostRow(labels, CostKind.ALLOCATED, micro, micro, gpu_hours=gpu_hours, used_gpu_hours=used,
                                usage_measured=measured))
        else:
            rows.append(CostRow((("node", r["resource_id"] or r["line_key"]),), CostKind.IDLE, micro, micro,
                                gpu_hours=gpu_hours))
    return CostSet(window, tuple(rows))


def _usage_frame(store, metric: str, start_s: float | None, end_s: float | None) -> pd.DataFrame:
    from sqlalchemy import select

    from costplane.store.models import UsageSample

    q = select(UsageSample.series_key, UsageSample.ts_s, UsageSample.value, UsageSample.workload,
               UsageSample.team, UsageSample.project, UsageSample.labels).where(UsageSample.metric == metric)
    if start_s is not None:
        q = q.where(UsageSample.ts_s >= start_s)
    if end_s is not None:
        q = q.where(UsageSample.ts_s <= end_s)
    with store.session() as s:
        rows = s.execute(q).all()
    return pd.DataFrame(rows, columns=["series_key", "ts_s", "value", "workload", "team", "project", "labels"])


def gpu_from_label(text: str) -> str | None:
    """Canonical GPU from an exporter's model string: `NVIDIA H100 80GB HBM3` -> H100, `A100-SXM4-80GB` -> A100-80GB."""
    cleaned = re.sub(r"\b(NVIDIA|Tesla|GeForce)\b", "", text, flags=re.IGNORECASE).strip()
    tokens = [t for t in re.split(r"[\s_-]+", cleaned) if t]
    for k in range(len(tokens), 0, -1):
        found = canonical_gpu("".join(tokens[:k]))
        if found:
            big = {"A100": ("80G", "A100-80GB"), "V100": ("32G", "V100-32GB")}.get(found)
            return big[1] if big and big[0] in cleaned.upper() else found
    return None


def _series_gpu(labels: dict | None, gpu: str | None) -> str | None:
    if gpu:
        return gpu
    for k in _GPU_LABELS:
        v = (labels or {}).get(k)
        if v:
            found = gpu_from_label(str(v))
            if found:
                return found
    return None


def _usage_measure(util: pd.DataFrame, mem: pd.DataFrame, catalog: Catalog, gpu: str | None,
                   price: float | None) -> MeasureData:
    assets, allocations, usage_rows, label_rows = [], [], [], []
    for key, g in util.sort_values(["series_key", "ts_s"]).groupby("series_key", sort=True):
        ts = g.ts_s.to_numpy(float)
        dt = intervals(ts)
        first = g.iloc[0]
        workload = first.workload or str(key)
        model = _series_gpu(first.labels, gpu)
        p = price if price is not None else (cheapest_gpu_hour(catalog, model) if model else None)
        assets.append(Asset(str(key), 1, 0.0, 0.0, p, float(ts[0]), float(ts[-1] + dt[-1]), gpu=model or ""))
        labels = {"team": first.team or "", "project": first.project or ""}
        allocations += series_allocations(workload, ts, g.value.to_numpy(float), str(key), labels=labels,
                                          interval_s=dt)
        usage_rows.append(pd.DataFrame({"workload": workload, "ts_s": ts, "gpu_util_pct": g.value.to_numpy(float)}))
        label_rows.append({"workload": workload, "team": labels["team"], "project": labels["project"],
                           "node": str(key)})
    usage = pd.concat(usage_rows, ignore_index=True)
    if not mem.empty:
        m = (mem.assign(gpu_memory_gib=mem.value / 2**30).groupby(["workload", "ts_s"], as_index=False)
             .gpu_memory_gib.max())
        usage = usage.merge(m, on=["workload", "ts_s"], how="left")
    models = {a.gpu for a in assets if a.gpu}
    model = gpu or (models.pop() if len(models) == 1 else None)
    return MeasureData(
        source=f"store: {len(assets)} gpu_util_pct series",
        newest_s=max(a.end_s for a in assets), oldest_s=min(a.start_s for a in assets),
        cost_set=lambda w, index=AllocationIndex(allocations): index.cost_set(assets, w), usage=usage,
        labels=pd.DataFrame(label_rows).drop_duplicates("workload"), gpu=model,
        gpu_memory_gib=None, price_usd_per_gpu_hour=price if price is not None else
        (cheapest_gpu_hour(catalog, model) if model else None))


def load_from_store(store, catalog: Catalog, window_s: float, end_s: float | None, gpu: str | None = None,
                    price_usd_per_gpu_hour: float | None = None) -> MeasureData | None:
    """Measured data of the store for the window, or None when the store holds none there."""
    from sqlalchemy import func, select

    from costplane.store.models import CostRecord, UsageSample

    if gpu:
        gpu = resolve_gpu(gpu, catalog.gpu_models)
    with store.session() as s:
        newest_cost = s.scalar(select(func.max(CostRecord.period_end_s)))
        newest_use = s.scalar(select(func.max(UsageSample.ts_s)).where(UsageSample.metric == GPU_UTIL_METRIC))
    if newest_cost is not None:
        end = end_s if end_s is not None else float(newest_cost)
        start = end - window_s
        with store.session() as s:
            recs = s.execute(select(CostRecord).where(CostRecord.period_end_s > start,
                                                      CostRecord.period_start_s < end)).scalars().all()
            records = [{c: getattr(r, c) for c in ("line_key", "period_start_s", "period_end_s", "effective_cost_usd",
                                                    "gpu_hours", "workload", "team", "project", "resource_id")}
                       for r in recs]
        if records:
            util = _usage_frame(store, GPU_UTIL_METRIC, start, end)
            used: dict[str, float] = {}
            if not util.empty:
                for (_, workload), g in util.sort_values("ts_s").groupby(["series_key", "workload"]):
                    ts = g.ts_s.to_numpy(float)
                    used[workload] = used.get(workload, 0.0) + float(
                        np.dot(g.value.to_numpy(float) / 100.0, intervals(ts))) / 3600.0
            oldest = min(r["period_start_s"] for r in records)
            return MeasureData(source=f"store: {len(records)} cost records", newest_s=end, oldest_s=oldest,
                               cost_set=lambda w: _records_cost_set(records, used, w))
    if newest_use is not None:
        end = end_s if end_s is not None else float(newest_use)
        util = _usage_frame(store, GPU_UTIL_METRIC, end - window_s - 3600.0, end)
        if not util.empty:
            mem = _usage_frame(store, GPU_MEMORY_METRIC, end - window_s - 3600.0, end)
            return _usage_measure(util, mem, catalog, gpu, price_usd_per_gpu_hour)
    return None


def resolve_measure(db: str | None, catalog: Catalog, window_s: float, end_s: float | None,
                    gpu: str | None = None, price_usd_per_gpu_hour: float | None = None,
                    use_store: bool = True) -> MeasureData:
    """The store's data for the window when it has some, else the bundled sample."""
    note = ""
    if use_store:
        from costplane.core.errors import StoreError
        from costplane.store import Store

        try:
            store = Store.open(db)
        except (StoreError, OSError) as exc:  # OSError: the default SQLite folder cannot be created
            if db:  # a database the user named must work
                raise
            store, note = None, f" — default store unavailable: {getattr(exc, 'message', None) or exc}"
        if store is not None:
            data = load_from_store(store, catalog, window_s, end_s, gpu, price_usd_per_gpu_hour)
            if data is not None:
                return data
    data = load_bundled_sample(catalog)
    data.source += note
    return data


def window_for(data: MeasureData, window_s: float, end_s: float | None) -> Window:
    end = end_s if end_s is not None else data.newest_s
    if not math.isfinite(end):
        raise InputError(f"--end {end_s!r} is not a time", fix="pass ISO 8601 or epoch seconds")
    return Window(end - window_s, end)
