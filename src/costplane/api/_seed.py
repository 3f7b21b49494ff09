"""Demo data for a fresh `costplane serve`: the bundled GPU-use sample, priced and attributed, ending now.

Only with `costplane serve --seed`. What goes in (all `source = "demo-seed"`, costplane.costing.DEMO_SOURCE:
demo data, never counted by budgets or alerts, removed by `costplane db purge-demo`):
- `usage_samples` of metric `gpu_util_pct` per workload (the bundled 5-minute Alibaba GenAI sample,
  ~23 h, see examples/gpu_usage_sample.SOURCE.md), shifted so its last bin ends at `now_s`;
- `cost_records` over the last `DEMO_DAYS` days (the sample repeated back, so a week view has a
  shape), one per workload (and one idle line per node) per hour, from
  `costplane.attribute.allocate` on the sample's 4 priced nodes (GCP a2-ultragpu-8g from the
  catalog): allocated + idle == what the nodes cost, to the micro-dollar;
- `usage_samples` of metric `requests_per_s` for the controller's `chat` service: the bundled Azure
  LLM conversation arrivals per second (~58 min), replayed back-to-back over the last
  day at one-minute resolution, so the controller has demand to decide on.
Utilisation and demand rows cover the last day only; cost lines the whole week.
Seeding is idempotent (natural keys), and skipped when the store already holds cost lines.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from importlib import resources
from pathlib import Path

import numpy as np

from costplane.core.types import Catalog
from costplane.costing import DEMO_SOURCE
from costplane.store import CostRecord, Store

SOURCE = DEMO_SOURCE
DEMO_DAYS = 7
COST_STEP_S = 3600.0  # one cost line per workload per hour
DEMAND_STEP_S = 60.0
USAGE_KEEP_S = 86400.0  # usage rows stored for the last day only (about 10 000 rows: seeding takes seconds)


def _example(name: str) -> Path:
    return Path(str(resources.files("costplane.examples") / name))


def _read_csv(name: str) -> list[dict[str, str]]:
    with _example(name).open(newline="") as fh:
        return list(csv.DictReader(fh))


def _node_price(catalog: Catalog, node: dict[str, str]) -> float | None:
    prices = [o.price_usd_per_hour for o in catalog.offers
              if o.cloud == node["cloud"] and o.region == node["region"] and o.instance_type == node["instance_type"]
              and o.price_usd_per_hour is not None]
    return min(prices) if prices else None


def _usage(now_s: float, days: float) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], float, float]:
    """Per-workload (ts, util %) of the sample tiled back DEMO_DAYS days, ending at `now_s`."""
    rows = _read_csv("gpu_usage_sample.csv")
    ts = np.array([float(r["timestamp"]) for r in rows])
    period_s = float(np.ceil((ts.max() - ts.min() + 300.0) / 3600.0) * 3600.0)  # the sample's span, whole hours
    copies = int(np.ceil(days * 86400.0 / period_s))
    shift = np.floor(now_s / 300.0) * 300.0 - 300.0 - ts.max()
    series: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for copy in range(copies):
        for r, t in zip(rows, ts):
            s = series[r["workload"]]
            s[0].append(t + shift - copy * period_s)
            s[1].append(float(r["gpu_util_pct"]))
    out = {}
    for workload, (t, u) in series.items():
        order = np.argsort(t)
        out[workload] = (np.asarray(t)[order], np.asarray(u)[order])
    start = min(v[0][0] for v in out.values())
    return out, float(start), float(now_s)


def _cost_lines(catalog: Catalog, series, start_s: float, end_s: float) -> list[dict]:
    from costplane.attribute import MICRO_PER_USD, Asset, Window, allocate
    from costplane.attribute._build import series_allocations

    nodes = {n["node"]: n for n in _read_csv("gpu_usage_sample_nodes.csv")}
    labels = {w["workload"]: w for w in _read_csv("gpu_usage_sample_workloads.csv")}
    assets = [Asset(name, int(n["gpus"]), float(n["vcpus"]), float(n["memory_gib"]), _node_price(catalog, n),
                    start_s, end_s, n["gpu"], n["cloud"], n["region"], n["instance_type"]) for name, n in nodes.items()]
    per_gpu_host = {name: (float(n["vcpus"]) / int(n["gpus"]), float(n["memory_gib"]) / int(n["gpus"]))
                    for name, n in nodes.items()}
    allocations = []
    for workload, (ts, util) in series.items():
        meta = labels[workload]
        vcpus, ram = per_gpu_host[meta["node"]]
        allocations += series_allocations(workload, ts, util, meta["node"], gpus=1.0, vcpus=vcpus, ram_gib=ram,
                                          labels={"team": meta["team"], "project": meta["project"]})
    by_hour: dict[int, list] = defaultdict(list)
    for a in allocations:
        by_hour[int(a.start_s // COST_STEP_S)].append(a)
    lines = []
    first, last = int(start_s // COST_STEP_S), int(np.ceil(end_s / COST_STEP_S))
    for hour in range(first, last):
        window = Window(max(hour * COST_STEP_S, start_s), min((hour + 1) * COST_STEP_S, end_s))
        if window.end_s <= window.start_s:
            continue
        nearby = by_hour.get(hour, []) + by_hour.get(hour - 1, [])
        # One line per (kind, workload, node) and hour: allocate() returns one row per 5-minute allocation.
        merged: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for row in allocate(assets, nearby, window).rows:
            acc = merged[(row.kind.value, row.label("workload"), row.label("node"))]
            acc[0] += row.cost_micro_usd
            acc[1] += row.gpu_hours
        for (kind, workload, node), (micro_usd, gpu_hours) in merged.items():
            meta = labels.get(workload or "", {})
            cost_usd = micro_usd / MICRO_PER_USD
            lines.append({"source": SOURCE, "line_key": f"{int(window.start_s)}:{kind}:{workload or ''}:{node or ''}",
                          "period_start_s": window.start_s, "period_end_s": window.end_s, "resource_id": node,
                          "service": "compute", "cloud": nodes[node]["cloud"] if node in nodes else None,
                          "region": nodes[node]["region"] if node in nodes else None,
                          "billed_cost_usd": cost_usd, "effective_cost_usd": cost_usd, "gpu_hours": gpu_hours,
                          "workload": workload, "team": meta.get("team"), "project": meta.get("project"),
                          "tags": {"kind": kind}})
    return lines


def _demand_samples(now_s: float) -> list[dict]:
    rows = _read_csv("azure-conv-requests-per-s.csv")
    ts = np.array([float(r["timestamp"]) for r in rows])
    counts = np.array([float(r["count"]) for r in rows])
    minute = ((ts - ts.min()) // DEMAND_STEP_S).astype(int)
    per_minute = np.bincount(minute, weights=counts) / DEMAND_STEP_S  # requests per second, one-minute means
    end = np.floor(now_s / DEMAND_STEP_S) * DEMAND_STEP_S
    n = int(USAGE_KEEP_S / DEMAND_STEP_S)
    return [{"source": SOURCE, "metric": "requests_per_s", "series_key": "chat", "ts_s": end - (n - 1 - i) * DEMAND_STEP_S,
             "value": float(per_minute[i % len(per_minute)]), "workload": "chat", "team": "product"}
            for i in range(n)]


def seed_demo(store: Store, catalog: Catalog, now_s: float, days: float = DEMO_DAYS) -> dict[str, int]:
    """Load the demo data ending at `now_s`; does nothing when cost lines are already stored."""
    if store.count(CostRecord) > 0:
        return {"cost_records": 0, "usage_samples": 0}
    series, start_s, end_s = _usage(now_s, days)
    start_s = max(start_s, now_s - days * 86400.0)
    labels = {w["workload"]: w for w in _read_csv("gpu_usage_sample_workloads.csv")}
    recent_s = now_s - USAGE_KEEP_S  # utilisation rows only for the last day: the costs above cover the week
    usage = [{"source": SOURCE, "metric": "gpu_util_pct", "series_key": w, "ts_s": float(t), "value": float(u),
              "workload": w, "team": labels[w]["team"], "project": labels[w]["project"]}
             for w, (ts, util) in series.items() for t, u in zip(ts, util) if t >= recent_s]
    added_usage = store.add_usage_samples(usage) + store.add_usage_samples(_demand_samples(now_s))
    added_cost = store.add_cost_records(_cost_lines(catalog, series, start_s, end_s))
    return {"cost_records": added_cost, "usage_samples": added_usage}
