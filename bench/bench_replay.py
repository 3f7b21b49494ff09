"""Replay benchmark: cost vs. the oracle per policy on every public trace, default choice by cross-validation, speed.

Run from the repository root:
    .venv/bin/python bench/bench_replay.py            # quality table + cross-validation + speed
    .venv/bin/python bench/bench_replay.py --quick    # smaller grid, no week-long oracle
    .venv/bin/python bench/bench_replay.py --only cv  # just the leave-one-trace-out choice of the defaults
Quality: each policy at its defaults on 3 traces x 2 specs; cost as a ratio to the oracle for policies
asked every 15 s (max(LP, HiGHS MILP dual bound after --oracle-seconds, 60 s by default), see
replay/oracle.py), solved once per trace in the same process, with the LP-only bound beside it. "tuned": the
cheapest grid setting with >= 99.9 % served on that trace (in-sample, for reference only). A reference
causal rule, hold-peak (bench only), holds the largest service-window rate of the last X s.
CV: for each trace held out, the grid setting with the lowest mean cost ratio over the other two traces
(both specs) among those that serve >= 99.9 % on every training pair where any setting does (lookback and
level are shared: predictive picks them, hybrid its quantile at them), then its held-out result; the
defaults are that rule applied to all three traces. Writes the cost-vs-lost plot (--plot).
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

import numpy as np

from costplane.autoscale import POLICIES, AutoscaleConfig, read_service_spec
from costplane.replay.inference import initial_replicas, replay_inference
from costplane.replay.oracle import milp_seconds, oracle
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
TUNED = {"predictive": "predictive_quantile", "hybrid": "hybrid_quantile"}


ORACLE_SECONDS = 60.0  # MILP budget per trace here (the CLI's default is 5 s): closer to the integer optimum


def _pairs(oracle_seconds: float):
    for (spec_name, spec_path), (trace_name, trace_path) in itertools.product(SPECS.items(), TRACES.items()):
        spec = read_service_spec(spec_path)
        series = load_trace(trace_path)
        every = AutoscaleConfig(service=spec).decision_interval_s
        n0 = initial_replicas(series, spec, every)
        t0 = time.perf_counter()
        with milp_seconds(oracle_seconds):
            orc = oracle(series.counts, spec, series.step_s, n0, every)
        orc_s = time.perf_counter() - t0
        with milp_seconds(0):
            lp = oracle(series.counts, spec, series.step_s, n0, every)
        yield (spec_name, trace_name), (spec, series, orc, lp, orc_s)


def _grid(quick: bool) -> list[tuple[float, float, float]]:
    quantiles = (0.6, 0.7, 0.9) if quick else (0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9)
    lookbacks = (120, 600) if quick else (60, 90, 120, 180, 300, 600)
    levels = (60, 120)
    return list(itertools.product(quantiles, lookbacks, levels))


HOLD_PEAK_S = (300, 600, 1800, 3600)  # 3600: everything seen since the trace began


def hold_peak(window_s: float):
    """Reference causal rule (bench only): hold the largest service-window rate of the last `window_s`."""
    from costplane.autoscale import Decision, guarded, replicas_for_rate
    from costplane.autoscale._forecaster import window_rates
    from costplane.autoscale._policies import service_window_steps

    def decide(obs, state, cfg):
        w = service_window_steps(cfg, obs.step_s)
        tail = obs.demand[-int(window_s / obs.step_s):]
        peak = float(window_rates(tail, w).max(initial=0.0)) / obs.step_s if tail.size else 0.0
        n = replicas_for_rate(peak, cfg.service.capacity_per_replica)
        return Decision(obs.current_replicas, n, (f"peak of the last {window_s:g} s",)), state

    decide.__name__ = f"hold-peak {window_s:g} s"
    return guarded(decide)


def _cell(r) -> str:
    return f"{r[0]:.2f}x / {100 * r[1]:.2f} %"


def quality(quick: bool, show_table: bool = True, oracle_seconds: float = ORACLE_SECONDS) -> dict:
    """Defaults per policy, plus every grid setting of predictive/hybrid.

    Returns {(policy, q, lb, lv) or policy name: {pair: (cost ratio, served fraction)}}.
    """
    pairs = dict(_pairs(oracle_seconds))
    grid = _grid(quick)
    res: dict = {}
    for key, (spec, series, orc, _lp, _s) in pairs.items():
        price = 1.0  # ratios do not depend on the price
        for name in POLICIES:
            r = replay_inference(series, spec, name, price, AutoscaleConfig(service=spec), oracle_result=orc)
            res.setdefault(name, {})[key] = (r.cost_usd / r.oracle_cost_usd, r.demand_served_fraction)
        for hold in HOLD_PEAK_S:
            r = replay_inference(series, spec, hold_peak(hold), price, AutoscaleConfig(service=spec), oracle_result=orc)
            res.setdefault(f"hold-peak {hold} s", {})[key] = (r.cost_usd / r.oracle_cost_usd, r.demand_served_fraction)
        for name, qkey in TUNED.items():
            for q, lb, lv in grid:
                cfg = AutoscaleConfig(service=spec, predictive_lookback_s=lb, predictive_level_s=lv, **{qkey: q})
                r = replay_inference(series, spec, name, price, cfg, oracle_result=orc)
                res.setdefault((name, q, lb, lv), {})[key] = (r.cost_usd / r.oracle_cost_usd, r.demand_served_fraction)
    if show_table:
        print("| spec | trace | oracle replica-h (method, s) | LP / oracle | " + " | ".join(POLICIES)
              + " | predictive tuned | hybrid tuned |")
        print("|---|---|---|---|" + "---|" * (len(POLICIES) + 2))
        for key, (spec, series, orc, lp, orc_s) in pairs.items():
            cells = [_cell(res[name][key]) for name in POLICIES]
            for name in TUNED:
                grid_runs = ((k, v) for k, v in res.items() if isinstance(k, tuple))
                ok = [(v[key], q, lb, lv) for (p, q, lb, lv), v in grid_runs if p == name and v[key][1] >= FULL]
                best = min(ok, key=lambda x: x[0][0]) if ok else None
                cells.append("none >= 99.9 %" if best is None else
                             f"{_cell(best[0])} (q={best[1]:g}, {best[2]} s, level {best[3]} s)")
            print(f"| {key[0]} | {key[1]} | {orc.replica_hours:.3f} ({orc.method}, {orc_s:.1f} s) | "
                  f"{lp.replica_steps / orc.replica_steps:.3f} | " + " | ".join(cells) + " |", flush=True)
        print("\nreference causal rule: hold the largest service-window rate of the last X s")
        print("| spec | trace | " + " | ".join(f"X = {h} s" for h in HOLD_PEAK_S) + " |")
        print("|---|---|" + "---|" * len(HOLD_PEAK_S))
        for key in pairs:
            print(f"| {key[0]} | {key[1]} | " + " | ".join(_cell(res[f"hold-peak {h} s"][key]) for h in HOLD_PEAK_S)
                  + " |", flush=True)
    return res


def plot_frontier(res: dict, path: Path) -> None:
    """Cost vs. the oracle against the share of demand lost, per trace and spec: every policy and grid point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = list(res["predictive"])
    fig, axes = plt.subplots(len(SPECS), len(TRACES), figsize=(15, 8.5), squeeze=False)
    floor = 1e-3  # lost-% axis is logarithmic; full service is drawn at this floor
    colors = {"static-peak": "tab:gray", "hpa": "tab:red", "knative": "tab:orange", "predictive": "tab:blue",
              "hybrid": "tab:green"}
    for ax, key in zip(axes.flat, pairs):
        for name, color in colors.items():
            if name in TUNED:
                pts = [v[key] for k, v in res.items() if isinstance(k, tuple) and k[0] == name]
                ax.scatter([p[0] for p in pts], [max(floor, 100 * (1 - p[1])) for p in pts], s=6, alpha=0.3,
                           color=color)
            ratio, served = res[name][key]
            ax.scatter([ratio], [max(floor, 100 * (1 - served))], s=70, color=color, edgecolor="black",
                       label=f"{name} (default)", zorder=3)
        holds = [res[f"hold-peak {h} s"][key] for h in HOLD_PEAK_S]
        ax.plot([p[0] for p in holds], [max(floor, 100 * (1 - p[1])) for p in holds], "k:", marker="x",
                label="hold peak of last 5-60 min")
        ax.axhline(0.1, color="tab:purple", lw=0.8, ls="--")
        ax.axvline(1.15, color="tab:purple", lw=0.8, ls="--")
        ax.set_yscale("log")
        ax.set_title(f"{key[0]} on {key[1]}", fontsize=10)
        ax.set_xlabel("cost / oracle (x)")
        ax.set_ylabel("demand lost, % (floor = none)")
    axes.flat[0].legend(fontsize=7, loc="upper right")
    fig.suptitle("Replay: cost vs. demand lost (dots: predictive/hybrid grid; dashed: 1.15x and 0.1 % lost)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"\nplot: {path}")


def choose(res: dict, policy: str, traces: list[str], shared: tuple | None = None) -> tuple | None:
    """The (mean ratio, q, lookback, level) the CV rule picks for `policy` from the pairs of `traces`.

    `shared`: (lookback, level) fixed by the predictive policy's choice (one config field each).
    """
    settings = {k: v for k, v in res.items() if isinstance(k, tuple) and k[0] == policy
                and (shared is None or k[2:] == shared)}
    pairs = [p for p in next(iter(settings.values())) if p[1] in traces]
    reachable = [p for p in pairs if any(v[p][1] >= FULL for v in settings.values())]
    best = None
    for (_, q, lb, lv), v in settings.items():
        if all(v[p][1] >= FULL for p in reachable):
            mean = float(np.mean([v[p][0] for p in pairs if p in reachable]))
            if best is None or mean < best[0]:
                best = (mean, q, lb, lv)
    return best


def _shared(res: dict, policy: str, traces: list[str]) -> tuple | None:
    if policy == "predictive":
        return None
    pick = choose(res, "predictive", traces)
    return None if pick is None else pick[2:]


def cross_validate(res: dict) -> None:
    print("\nleave-one-trace-out choice (training: the other two traces, both specs)")
    print("| policy | held-out trace | chosen q, lookback, level | chat-service held out | variant held out |")
    print("|---|---|---|---|---|")
    # Lookback and level are shared (one config field each): predictive picks them, hybrid its quantile at them.
    for policy in TUNED:
        for held in TRACES:
            train = [t for t in TRACES if t != held]
            best = choose(res, policy, train, _shared(res, policy, train))
            if best is None:
                print(f"| {policy} | {held} | none serves 99.9 % | - | - |")
                continue
            v = res[(policy, *best[1:])]
            print(f"| {policy} | {held} | q={best[1]:g}, {best[2]} s, {best[3]} s | "
                  f"{_cell(v[('chat-service', held)])} | "
                  f"{_cell(v[('variant', held)])} |", flush=True)
        best = choose(res, policy, list(TRACES), _shared(res, policy, list(TRACES)))
        print(f"| {policy} | (all three: the default rule) | "
              f"{'none' if best is None else f'q={best[1]:g}, {best[2]} s, {best[3]} s (mean {best[0]:.2f}x)'} | | |")


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
        orc = oracle(week.counts, spec, week.step_s, n0, 15.0)
        print(f"\noracle on the week ({orc.method}, 4 h windows): {time.process_time() - c0:.1f} CPU s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=("quality", "cv", "speed"))
    ap.add_argument("--oracle-seconds", type=float, default=ORACLE_SECONDS,
                    help="MILP seconds per trace for the oracle (its dual bound is kept; 0 = LP only)")
    ap.add_argument("--plot", type=Path, default=ROOT / "docs/img/replay-frontier.png")
    args = ap.parse_args(argv)
    if args.only in (None, "quality", "cv"):
        res = quality(args.quick, show_table=args.only != "cv", oracle_seconds=args.oracle_seconds)
        plot_frontier(res, args.plot)
        if args.only != "quality":
            cross_validate(res)
    if args.only in (None, "speed"):
        speed(args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
