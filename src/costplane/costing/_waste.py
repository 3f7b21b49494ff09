"""Waste findings on the store's GPU series, each workload priced at what the one cost path charged it.

`costplane waste` without `--utilisation` and `GET /api/v1/waste` read the stored `gpu_util_pct`
samples of the window (and `gpu_memory_used_bytes` when stored). A workload's GPUs are its series:
utilisation is averaged over them per timestamp and `gpus_per_workload` is how many there are. Its
price per GPU-hour is its allocated cost ÷ its GPU-hours in `cost_view` over the same window (the
catalog price of its nodes, or what its bill lines paid); an explicit price overrides it. A workload
the cost path could not price is listed in `unpriced`, not guessed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from costplane.attribute import Window
from costplane.core.types import Catalog
from costplane.costing._store import DEMO_SOURCE, Costs
from costplane.costing._views import cost_view
from costplane.ingest._metrics import GPU_MEMORY_USED_BYTES, GPU_UTIL_PCT
from costplane.store import Store, UsageSample


def _samples(store: Store, metric: str, window: Window, team: str | None, include_demo: bool) -> pd.DataFrame:
    q = (select(UsageSample.workload, UsageSample.series_key, UsageSample.ts_s, UsageSample.value)
         .where(UsageSample.metric == metric, UsageSample.ts_s >= window.start_s, UsageSample.ts_s < window.end_s,
                UsageSample.workload.is_not(None)))
    if team is not None:
        q = q.where(UsageSample.team == team)
    if not include_demo:
        q = q.where(UsageSample.source != DEMO_SOURCE)
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    return pd.DataFrame(rows, columns=["workload", "series_key", "ts_s", "value"])


def store_waste(store: Store, costs: Costs, catalog: Catalog, window: Window, *, team: str | None = None,
                price_usd_per_gpu_hour: float | None = None, gpu: str | None = None, idle_below_pct: float = 5.0,
                include_demo: bool = True) -> dict[str, Any]:
    """The `waste` JSON over `window` from stored samples, priced per workload by the cost path."""
    from costplane.core.gpus import gpu_memory_gib
    from costplane.waste import UsageSeries, WasteConfig, find_waste, waste_report

    util = _samples(store, GPU_UTIL_PCT, window, team, include_demo)
    base = {"window": {"start": window.start_s, "end": window.end_s}, "source": costs.source, "unpriced": []}
    if util.empty:
        cfg = WasteConfig(price_usd_per_gpu_hour or 0.0, 1, idle_below_pct, gpu=gpu)
        return {**waste_report([], cfg), **base, "samples": 0}
    priced = {r["key"]: r["cost_usd"] / r["gpu_hours"] for r in cost_view(costs, window, "workload", team=team)["rows"]
              if r["kind"] == "allocated" and r["gpu_hours"] > 0 and r["cost_usd"] > 0}
    mem = _samples(store, GPU_MEMORY_USED_BYTES, window, team, include_demo)
    gpus = util.groupby("workload").series_key.nunique()
    per_ts = util.groupby(["workload", "ts_s"], as_index=False).value.mean().sort_values(["workload", "ts_s"])
    mem_ts = (mem.groupby(["workload", "ts_s"], as_index=False).value.max().sort_values(["workload", "ts_s"])
              if not mem.empty else mem)
    groups: dict[tuple[float, int], list[str]] = {}
    unpriced = []
    for workload in per_ts.workload.unique():
        price = price_usd_per_gpu_hour if price_usd_per_gpu_hour is not None else priced.get(workload)
        if price is None:
            unpriced.append({"workload": workload, "reason": "the cost path has no price for its GPUs",
                             "fix": "see `costplane cost --by workload --json` → unpriced, or pass "
                                    "--price-usd-per-gpu-hour"})
            continue
        groups.setdefault((round(float(price), 9), int(gpus[workload])), []).append(workload)
    findings, cfg = [], None
    for (price, n_gpus), names in sorted(groups.items()):
        u = per_ts[per_ts.workload.isin(names)]
        series = UsageSeries(u.workload.to_numpy(object), u.ts_s.to_numpy(float), u.value.to_numpy(float))
        memory = None
        if not mem_ts.empty:
            m = mem_ts[mem_ts.workload.isin(names)]
            memory = UsageSeries(m.workload.to_numpy(object), m.ts_s.to_numpy(float), m.value.to_numpy(float))
        cfg = WasteConfig(price, n_gpus, idle_below_pct, gpu, gpu_memory_gib(gpu) if gpu else None)
        findings += find_waste(series, cfg, memory if memory is not None and len(memory.ts_s) else None, catalog)
    findings.sort(key=lambda w: (-w.idle_usd, w.workload))
    prices = sorted({p for p, _ in groups})
    cfg = cfg or WasteConfig(price_usd_per_gpu_hour or 0.0, 1, idle_below_pct, gpu=gpu)
    out = waste_report(findings, cfg)
    out["price_usd_per_gpu_hour"] = prices[0] if len(prices) == 1 else (float(np.median(prices)) if prices else 0.0)
    out["prices_usd_per_gpu_hour"] = {w: p for (p, _), names in groups.items() for w in names}
    return {**out, **base, "unpriced": unpriced, "samples": int(len(util))}
