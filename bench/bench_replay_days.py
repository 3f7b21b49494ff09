"""Probes: the default policy on whole days built from the real bursty day and the real LLM request hours.

Run from the repository root (genai: about 4 min on 2 cores; llm: about 1 min):
    .venv/bin/python bench/bench_replay_days.py [--family genai|llm] [--cache /tmp/rs] [--seeds 0,1,2,3,4] [--jobs 2]

No shared trace has weeks of bursty traffic with idle hours, which the issue's hidden image-generation trace
has (23 days, strong daily cycle). This probe builds such days from the one real bursty day there is: the
Alibaba GenAI GPU-use series (busy GPUs summed over containers, 15 s steps; bench_replay.py's `genai-gpu`),
each day rolled by up to `--shift-h` hours and scaled by 0.7-1.3 (seeded), idle 01:00-07:00. It is a
recombination, so it is not in the leave-one-trace-out set and chose no default; it checks the defaults on
a shape they were not chosen on. Policies: the default (`slo`), hybrid, HPA and Knative on the bursty
(cold start 60 s, queue 60 s, scale to zero) and gateway (90 s, 30 s) specs; the LP oracle as in
bench_replay.py.
Family `llm` (the shape of the issue's hidden gateway trace, a day of QPS): 24 hours at 1 s steps, each hour
a copy of one real hour (Azure LLM conv, Azure code or Mooncake; bench_replay.py's one-hour traces) rolled
by a random offset, times a daily shape (0.3 at 02:00 rising to 1.0 at 14:00) and 0.85-1.15 (seeded); the
gateway (90 s, 30 s) and chat-service (120 s, 10 s) specs. Verdict per run: bench_replay.meets_bar, the
issue-17 bar, over the runs here: where some run reaches 99.9 %, the default does at less than every HPA and
Knative run that also does; elsewhere it serves at least the best of them.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import bench_replay as br  # noqa: E402

from costplane.autoscale import AutoscaleConfig  # noqa: E402
from costplane.replay.inference import initial_replicas, replay_inference  # noqa: E402
from costplane.replay.oracle import milp_nodes, oracle  # noqa: E402
from costplane.traces import DemandSeries  # noqa: E402

POLICIES = ("slo", "hybrid", "hpa", "knative")
SPECS = {"genai": ("bursty", "gateway"), "llm": ("gateway", "chat-service")}
IDLE_HOURS = (1.0, 7.0)
LLM_HOURS = ("azure-conv", "azure-code", "mooncake")


def genai_day(cache: Path | None) -> DemandSeries:
    if cache is not None:
        return br.read_cache(cache)["genai-gpu"]
    from costplane.traces import gpu_use_series

    return gpu_use_series(br.T / "alibaba-genai-2026-usage/pod_gpu_duty_cycle_anon.csv", 15.0)


def build_days(day: DemandSeries, days: int, shift_h: float, seed: int) -> DemandSeries:
    """`days` copies of the real day, each rolled by up to `shift_h` hours and scaled by 0.7-1.3, idle at night."""
    step = day.step_s
    n = int(86_400 / step)
    base = day.counts[:n] if day.counts.size >= n else np.pad(day.counts, (0, n - day.counts.size), mode="wrap")
    hour = np.arange(n) * step / 3600.0
    rng = np.random.default_rng(seed)
    shift = int(shift_h * 3600 / step)
    out = []
    for _ in range(days):
        x = np.roll(base, rng.integers(-shift, shift + 1)).astype(float)
        x[(hour >= IDLE_HOURS[0]) & (hour < IDLE_HOURS[1])] = 0.0
        out.append(x * rng.uniform(0.7, 1.3))
    return DemandSeries(0.0, step, np.concatenate(out), source=f"genai-days seed {seed}")


def build_llm_day(hour: DemandSeries, seed: int, hours: int = 24) -> DemandSeries:
    """`hours` copies of a real hour of requests (1 s steps), each rolled at random, times a daily shape."""
    n = int(round(3600 / hour.step_s))
    base = hour.counts[:n].astype(float)
    rng = np.random.default_rng(seed)
    out = []
    for h in range(hours):
        daily = 0.65 - 0.35 * np.cos(2 * np.pi * (h - 2) / 24)  # 0.3 at 02:00, 1.0 at 14:00
        out.append(np.roll(base, rng.integers(0, n)) * daily * rng.uniform(0.85, 1.15))
    return DemandSeries(0.0, hour.step_s, np.concatenate(out), source=f"{hour.source} day, seed {seed}")


def run_case(args) -> list[tuple]:
    series, spec_name, label, overrides = args
    spec, cfg = br._pair(series, spec_name)
    every = cfg.decision_interval_s
    with milp_nodes(0):
        orc = oracle(series.counts, spec, series.step_s, initial_replicas(series, spec, every), every)
    rows = []
    for policy in POLICIES:
        # --set changes the default policy's settings only: the baselines stay as they ship
        run_cfg = replace(cfg, **overrides) if policy == "slo" else cfg
        r = replay_inference(series, spec, policy, 1.0, run_cfg, oracle_result=orc)
        rows.append((label, spec_name, policy, r.cost_usd / r.oracle_cost_usd, r.demand_served_fraction))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--family", choices=tuple(SPECS), default="genai")
    ap.add_argument("--cache", type=Path, help="bench_replay.py's .npz cache (else read the trace files)")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--days", type=int, default=4)
    ap.add_argument("--shifts-h", default="1,5", help="largest roll of a day, hours (one probe per value)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="an AutoscaleConfig setting for the default policy, e.g. slo_spare_s=3600 (repeatable)")
    args = ap.parse_args()
    overrides = {k: ast.literal_eval(v) for k, _, v in (item.partition("=") for item in args.set)}
    known = {f.name for f in fields(AutoscaleConfig)}
    for key in overrides:
        if key not in known:  # fail here, not as a TypeError in a worker after the oracles
            near = difflib.get_close_matches(key, known, n=3)
            ap.error(f"--set {key}: not an AutoscaleConfig setting" + (f" (did you mean {', '.join(near)}?)" if near else ""))
    cases = []
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.family == "genai":
        day = genai_day(args.cache)
        for shift in (float(s) for s in args.shifts_h.split(",")):
            for seed in seeds:
                series = build_days(day, args.days, shift, seed)
                cases += [(series, spec, f"+-{shift:g} h, seed {seed}") for spec in SPECS["genai"]]
        title = (f"{args.days} days from the GenAI GPU-use day, idle {IDLE_HOURS[0]:g}:00-{IDLE_HOURS[1]:g}:00")
    else:
        hours = br.read_cache(args.cache) if args.cache is not None else br.load_series(quick=True)
        for name in LLM_HOURS:
            for seed in seeds:
                series = build_llm_day(hours[name], seed)
                cases += [(series, spec, f"{name}, seed {seed}") for spec in SPECS["llm"]]
        title = "24 h from one real hour of requests, daily shape 0.3-1.0"
    cases = [(*case, overrides) for case in cases]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        rows = [row for result in pool.map(run_case, cases) for row in result]
    table: dict[tuple[str, str], dict[str, tuple[float, float]]] = {}
    for label, spec, policy, cost, served in rows:
        table.setdefault((label, spec), {})[policy] = (cost, served)
    print(f"{title}; cost / LP oracle and share served within max_queue_s"
          + (f"; default policy with {overrides}" if overrides else ""))
    print("| probe | spec | " + " | ".join(POLICIES) + " | bar |")
    print("|---|---|" + "---|" * (len(POLICIES) + 1))
    counts: dict[str, int] = {}
    for (label, spec), runs in table.items():
        v = br.meets_bar(runs, runs["slo"])[1]
        counts[v] = counts.get(v, 0) + 1
        cells = " | ".join(f"{runs[p][0]:.2f}x / {100 * runs[p][1]:.2f} %" for p in POLICIES)
        print(f"| {label} | {spec} | {cells} | {v} |")
    print("\n" + ", ".join(f"{v}: {k}" for v, k in sorted(counts.items())))
    for p in POLICIES:
        c = [runs[p][0] for runs in table.values()]
        s = [runs[p][1] for runs in table.values()]
        print(f"{p}: mean cost {np.mean(c):.3f}x, min served {100 * min(s):.3f} %")


if __name__ == "__main__":
    main()
