"""Replay benchmark: cost vs. the oracle per policy on every public trace, and replay speed on a one-week trace.

Run from the repository root:
    .venv/bin/python bench/bench_replay.py            # quality table (3 traces x 2 specs) + speed
    .venv/bin/python bench/bench_replay.py --quick    # fewer tuning points, no week-long oracle
Quality: each policy at its defaults, plus predictive and hybrid re-tuned per trace over a small grid of
quantile x lookback (the cheapest setting that serves >= 99.9 %); cost is reported as a ratio to the
oracle (LP lower bound) solved once per trace in the same process.
Speed: the Azure conv hour tiled to >= 7 days at 1 s steps; CPU seconds per policy replay (process time:
the machine is shared, wall time is noisy), and the ratio to
the same policy's replay of the one-hour trace (linear scaling would be ~173).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

from costplane.autoscale import POLICIES, AutoscaleConfig, read_service_spec
from costplane.replay.inference import initial_replicas, replay_inference
from costplane.replay.oracle import oracle
from costplane.traces import load_trace

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared"
TRACES = {
    "azure-conv": SHARED / "data/traces/azure-llm-2023/AzureLLMInferenceTrace_conv.csv",
    "azure-code": SHARED / "data/traces/azure-llm-2023/AzureLLMInferenceTrace_code.csv",
    "mooncake": SHARED / "data/traces/mooncake-2025/conversation_trace.jsonl",
}
SPECS = {"chat-service": SHARED / "examples/chat-service.yaml", "variant": ROOT / "bench/chat-service-variant.yaml"}
FULL = 0.999
WEEK_S = 7 * 86_400


def quality(quick: bool) -> None:
    quantiles = (0.7, 0.9, 0.99) if quick else (0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999)
    lookbacks = (600,) if quick else (300, 600, 1200)
    print("| spec | trace | oracle $ | " + " | ".join(POLICIES) + " | predictive tuned | hybrid tuned |")
    print("|---|---|---|" + "---|" * (len(POLICIES) + 2))
    for (spec_name, spec_path), (trace_name, trace_path) in itertools.product(SPECS.items(), TRACES.items()):
        spec = read_service_spec(spec_path)
        series = load_trace(trace_path)
        cfg = AutoscaleConfig(service=spec)
        orc = oracle(series.counts, spec, series.step_s, initial_replicas(series, spec, cfg.decision_interval_s))
        price = 1.0  # ratios do not depend on the price; $ below are per $1/replica-hour
        cells = []
        for name in POLICIES:
            r = replay_inference(series, spec, name, price, cfg, oracle_result=orc)
            cells.append(f"{r.cost_usd / r.oracle_cost_usd:.2f}x / {100 * r.demand_served_fraction:.2f} %")
        for name, qkey in (("predictive", "predictive_quantile"), ("hybrid", "hybrid_quantile")):
            best = None
            for q, lb in itertools.product(quantiles, lookbacks):
                tuned = AutoscaleConfig(service=spec, predictive_lookback_s=lb, **{qkey: q})
                r = replay_inference(series, spec, name, price, tuned, oracle_result=orc)
                if r.demand_served_fraction >= FULL and (best is None or r.cost_usd < best[0].cost_usd):
                    best = (r, q, lb)
            cells.append("none >= 99.9 %" if best is None else
                         f"{best[0].cost_usd / orc.replica_hours:.2f}x / {100 * best[0].demand_served_fraction:.2f} % "
                         f"(q={best[1]:g}, lookback {best[2]} s)")
        print(f"| {spec_name} | {trace_name} | {orc.replica_hours:.3f} | " + " | ".join(cells) + " |", flush=True)


def speed(quick: bool) -> None:
    spec = read_service_spec(SPECS["chat-service"])
    hour = load_trace(TRACES["azure-conv"])
    week = hour.tiled(-(-WEEK_S // len(hour)))
    print(f"\nsynthetic week: azure-conv tiled to {len(week):,} steps of {week.step_s:g} s "
          f"({week.duration_s / 86_400:.2f} days)")
    print("| policy | 1 h replay CPU s | week replay CPU s (wall s) | week / hour | decisions/s |")
    print("|---|---|---|---|---|")
    for name in POLICIES:
        c0 = time.process_time()
        replay_inference(hour, spec, name, 1.0, with_oracle=False)
        c_hour = time.process_time() - c0
        c0, t0 = time.process_time(), time.perf_counter()
        r = replay_inference(week, spec, name, 1.0, with_oracle=False)
        c_week, t_week = time.process_time() - c0, time.perf_counter() - t0
        print(f"| {name} | {c_hour:.3f} | {c_week:.2f} ({t_week:.2f}) | {c_week / c_hour:.0f} | "
              f"{r.decisions / c_week:,.0f} |", flush=True)
    if not quick:
        n0 = initial_replicas(week, spec, 15.0)
        c0 = time.process_time()
        orc = oracle(week.counts, spec, week.step_s, n0)
        print(f"\noracle on the week ({orc.method}, 4 h windows): {time.process_time() - c0:.1f} CPU s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=("quality", "speed"))
    args = ap.parse_args(argv)
    if args.only != "speed":
        quality(args.quick)
    if args.only != "quality":
        speed(args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
