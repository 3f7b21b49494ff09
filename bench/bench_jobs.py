"""Benchmark: job-scheduling replay speed (real Alibaba trace and a 100 000-job resample) and policy quality.

Run: .venv/bin/python bench/bench_jobs.py [--jobs 100000] [--catalog ../shared/data/catalog/skypilot-v8]

Reads `../shared/data/traces/alibaba-gpu-2023/openb_pod_list_default.csv` (Weng et al., ATC 2023, CC-BY-4.0).
For every policy: replay of the real trace (6 203 GPU jobs) and of `--jobs` jobs bootstrapped from it
(`resample_jobs`: shapes, durations and qos drawn with replacement, inter-arrival gaps from the trace),
fifo/sjf/las on a fixed cluster sized to the p95 GPU demand of that job set, cost-aware elastic from
zero buying the same GPU model. Baseline in the same process: fifo on the same job set; time ratios
and cost/JCT deltas are against it. Goal: a 100 000-job replay under 60 s.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from costplane.catalog import load_catalog
from costplane.cli._jobs import run_policy
from costplane.replay.jobs_traces import parse_price_as, read_job_trace, resample_jobs, sized_cluster
from costplane.schedule import POLICIES, JobSet, SchedConfig

ROOT = Path(__file__).resolve().parents[1]
TRACE = ROOT / ".." / "shared" / "data" / "traces" / "alibaba-gpu-2023" / "openb_pod_list_default.csv"
CATALOG = ROOT / ".." / "shared" / "data" / "catalog" / "skypilot-v8"
GOAL_S = 60.0


def bench(jobset: JobSet, catalog, label: str, console: Console) -> float:
    pa = parse_price_as(None)
    fixed = sized_cluster(jobset.jobs, catalog, pa)
    table = Table(title=f"{label}: {len(jobset.jobs):,} jobs; fixed {fixed.label} (${fixed.hourly_usd:,.2f}/h)")
    for col in ("policy", "seconds", "× fifo time", "jobs/s", "avg JCT h", "p95 JCT h", "avg queue min",
                "GPU util", "cost $", "Δ cost vs fifo", "Δ avg JCT vs fifo", "preempt"):
        table.add_column(col, justify="left" if col == "policy" else "right")
    base: dict | None = None
    worst = 0.0
    for name in POLICIES:
        t0 = time.perf_counter()
        r = run_policy(name, jobset, fixed, catalog, pa, SchedConfig(), {}, False, 0).to_dict()
        secs = time.perf_counter() - t0
        worst = max(worst, secs)
        if base is None:
            base = {**r, "secs": secs}
        table.add_row(name, f"{secs:.2f}", f"{secs / base['secs']:.2f}×", f"{r['jobs'] / secs:,.0f}",
                      f"{r['avg_jct_s'] / 3600:.2f}", f"{r['p95_jct_s'] / 3600:.2f}", f"{r['avg_queue_s'] / 60:.1f}",
                      f"{100 * r['gpu_utilisation']:.1f} %", f"{r['cost_usd']:,.0f}",
                      f"{100 * (r['cost_usd'] / base['cost_usd'] - 1):+.1f} %",
                      f"{100 * (r['avg_jct_s'] / base['avg_jct_s'] - 1):+.1f} %", str(r["preemptions"]))
    console.print(table)
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=100_000)
    ap.add_argument("--catalog", type=Path, default=CATALOG)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    console = Console(width=170)
    catalog = load_catalog(args.catalog if args.catalog.exists() else None)
    real = read_job_trace(TRACE)
    bench(real, catalog, "alibaba-gpu-2023 openb_pod_list_default", console)
    big = JobSet(resample_jobs(real.jobs, args.jobs, args.seed), "resampled")
    worst = bench(big, catalog, f"resampled ×{args.jobs:,} (seed {args.seed})", console)
    console.print(f"slowest {args.jobs:,}-job replay: {worst:.1f} s (goal < {GOAL_S:.0f} s: "
                  f"{'met' if worst < GOAL_S else 'MISSED'})")


if __name__ == "__main__":
    main()
