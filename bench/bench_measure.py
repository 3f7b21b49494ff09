"""Benchmark: cost attribution and waste findings at cluster scale, against float baselines in the same process.

Run: .venv/bin/python bench/bench_measure.py [--nodes 8 32] [--days 7] [--repeats 3]

Times are CPU seconds (time.process_time, best of --repeats): the machine is shared, wall time is noisy.

1. Attribution: N nodes × 8 GPUs (GCP a2-ultragpu-8g prices from the bundled catalog), one workload per
   GPU for `--days` at 5-minute resolution, utilisation tiled from the bundled sample's real series.
   `allocate` + `aggregate(by team)` (exact integer micro-USD split) against a vectorised numpy float
   computation of the same model (max(request, usage) × unit price per resource, idle = rest), which
   cannot guarantee rows + idle == total to the cent. Reported: seconds, ratio, the largest team
   difference between the two (it must be below a cent), and an hourly spend timeline over the whole
   period (one CostSet per hour, through AllocationIndex), as `report` and `budget status` draw it.
2. Waste: `parse_usage_csv` + `find_waste` on the real Alibaba GenAI trace (84 185 rows) against a bare
   `pandas.read_csv` + groupby of the same file (no validation, no line numbers, no recommendations).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from costplane.attribute import (
    AllocationIndex,
    Asset,
    CostKind,
    Window,
    aggregate,
    allocate,
    series_allocations,
    spend_timeline,
    split_node_price,
)
from costplane.catalog import load_catalog
from costplane.report._sources import load_bundled_sample
from costplane.waste import WasteConfig, find_waste, parse_usage_csv

REPO = Path(__file__).resolve().parents[1]
TRACE = REPO / ".." / "shared" / "data" / "traces" / "alibaba-genai-2026-usage"
BIN_S = 300.0
TEAMS = ("creative", "marketing", "research", "search", "ads")


def _cluster(nodes: int, days: float, catalog):
    sample = load_bundled_sample(catalog).usage
    patterns = [g.gpu_util_pct.to_numpy(float) for _, g in sample.groupby("workload")]
    price = min(o.price_usd_per_hour for o in catalog.offers
                if o.instance_type == "a2-ultragpu-8g" and o.price_usd_per_hour is not None)
    steps = int(days * 86400 / BIN_S)
    ts = np.arange(steps) * BIN_S
    assets, allocs, columns = [], [], []
    for n in range(nodes):
        assets.append(Asset(f"node-{n}", 8, 96, 1360, price, 0.0, steps * BIN_S))
        for g in range(8):
            k = n * 8 + g
            util = np.resize(patterns[k % len(patterns)], steps)
            team = TEAMS[k % len(TEAMS)]
            allocs += series_allocations(f"w{k}", ts, util, f"node-{n}", gpus=1, vcpus=12, ram_gib=170,
                                         labels={"team": team, "project": f"p{k % 7}"},
                                         interval_s=np.full(steps, BIN_S))
            columns.append((team, util))
    return assets, allocs, columns, ts, price, steps


def _float_baseline(columns, price, nodes, steps):
    """The same model in float numpy: per team, Σ max(req, used) × unit × hours over all intervals."""
    u = split_node_price(price, 8, 96, 1360)
    per_interval_h = BIN_S / 3600
    host = 12 * u.cpu_usd_per_vcpu_hour + 170 * u.ram_usd_per_gib_hour
    by_team: dict[str, float] = {}
    for team, util in columns:
        gpu = np.maximum(1.0, util / 100.0) * u.gpu_usd_per_gpu_hour
        by_team[team] = by_team.get(team, 0.0) + float(np.sum((gpu + host) * per_interval_h))
    total = price * nodes * steps * per_interval_h
    return by_team, total - sum(by_team.values())


def _best(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.process_time()
        out = fn()
        times.append(time.process_time() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    console = Console(width=140)
    catalog = load_catalog()
    table = Table(title=f"attribution: {args.days:g} days at 5-min resolution, best of {args.repeats}")
    for col in ("nodes", "GPUs", "allocations", "allocate+aggregate s", "float numpy s", "ratio", "max team diff $",
                "rows+idle==total", "hourly timeline s"):
        table.add_column(col, justify="right")
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("attribution", total=len(args.nodes))
        for nodes in args.nodes:
            assets, allocs, columns, ts, price, steps = _cluster(nodes, args.days, catalog)
            window = Window(0.0, steps * BIN_S)
            t_exact, agg = _best(lambda: aggregate(allocate(assets, allocs, window), "team"), args.repeats)
            t_float, (base, _) = _best(lambda: _float_baseline(columns, price, nodes, steps), args.repeats)
            exact = {r.label("team"): r.cost_usd for r in agg.of_kind(CostKind.ALLOCATED)}
            diff = max(abs(exact[t] - base[t]) for t in base)
            exact_sum = agg.micro_usd_of(CostKind.ALLOCATED) + agg.micro_usd_of(CostKind.IDLE) == agg.total_micro_usd
            index = AllocationIndex(allocs)
            t0 = time.process_time()
            spend_timeline(lambda w: index.cost_set(assets, w), 0.0, steps * BIN_S, 3600.0, "team")
            t_timeline = time.process_time() - t0
            table.add_row(str(nodes), str(nodes * 8), f"{len(allocs):,}", f"{t_exact:.3f}", f"{t_float:.3f}",
                          f"{t_exact / t_float:.0f}×", f"{diff:.6f}", str(exact_sum), f"{t_timeline:.2f}")
            progress.advance(task)
    console.print(table)

    util_path = TRACE / "pod_gpu_duty_cycle_anon.csv"
    if not util_path.exists():
        console.print(f"[yellow]skipping waste: {util_path} not found[/yellow]")
        return
    text = util_path.read_text()
    cfg = WasteConfig(2.0)

    def costplane_waste():
        return find_waste(parse_usage_csv(text, str(util_path), percent=True), cfg)

    def pandas_baseline():
        df = pd.read_csv(util_path).sort_values(["container_ip", "timestamp_anon"])
        return df.groupby("container_ip").value.mean()

    t_cp, rows = _best(costplane_waste, args.repeats)
    t_pd, _ = _best(pandas_baseline, args.repeats)
    wt = Table(title=f"waste on the Alibaba GenAI trace (84,185 rows, {len(rows)} workloads), best of {args.repeats}")
    for col in ("method", "seconds", "rows/s", "vs pandas"):
        wt.add_column(col, justify="right" if col != "method" else "left")
    wt.add_row("parse_usage_csv + find_waste", f"{t_cp:.3f}", f"{84185 / t_cp:,.0f}", f"{t_cp / t_pd:.1f}×")
    wt.add_row("pandas.read_csv + groupby mean (baseline)", f"{t_pd:.3f}", f"{84185 / t_pd:,.0f}", "1.0×")
    console.print(wt)


if __name__ == "__main__":
    main()
