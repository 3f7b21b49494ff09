"""Replay benchmark: the default `slo` policy chosen by leave-one-trace-out over every shared trace, out of sample.

Run from the repository root:
    .venv/bin/python bench/bench_replay.py --jobs 2            # everything (about 15 CPU min; DLRM dominates)
    .venv/bin/python bench/bench_replay.py --quick             # 3 one-hour traces, small grid
    .venv/bin/python bench/bench_replay.py --save out/replay.json / --load out/replay.json   # replays / tables
    .venv/bin/python bench/bench_replay.py --write-cache DIR; ... --cache DIR   # demand series as .npz
Traces (7): Azure LLM 2023 conv and code, Mooncake conversation (1 s steps, decisions every 15 s); the
Alibaba GenAI GPU-use file as busy GPUs summed over containers (15 s steps, 15 s decisions); three
Alibaba DLRM 2025 services picked by a rule (largest standard deviation of live GPU instances), live
instances per 60 s step over 31 days, decisions every 60 s (the controller's default interval).
Specs (4): ../shared/examples/chat-service.yaml (cold start 120 s, queue 10 s) and bench/replay-bursty.yaml
(60 s, 60 s, scale to zero), bench/replay-gateway.yaml (90 s, 30 s, min 1), bench/replay-small.yaml (replicas
of 0.7 requests/s, 100 s, 10 s, scale to zero: serve-plan's L40S row); max_replicas raised to 256
everywhere so no fleet is capped. Oracle: the LP bound on the policy's decision ticks (replay/oracle.py,
milp_nodes(0): deterministic).
Leave one trace out: for each held-out trace, the slo grid setting that serves >= 99.9 % on every training
pair (the other traces, all specs) where some setting does, at the least mean cost ratio; then its
result on the held-out trace's pairs. Only those held-out numbers are reported for `slo`. The default
(AutoscaleConfig) is the same rule applied to all traces. The bar: wherever any causal policy run here
(grid, predictive, hybrid, hpa, knative, hold-peak, KNOWN_REACH) reaches 99.9 %, the held-out slo does,
at less than every hpa and knative run that also does; elsewhere it serves at least the best of hpa and
knative. The "slo (defaults)" column is the policy as shipped (AutoscaleConfig: the rule on all traces,
so in sample); the held-out column is the out-of-sample number.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from costplane.autoscale import AutoscaleConfig, read_service_spec  # noqa: E402
from costplane.replay.inference import initial_replicas, replay_inference  # noqa: E402
from costplane.replay.oracle import milp_nodes, oracle  # noqa: E402
from costplane.traces import DemandSeries  # noqa: E402

SHARED = ROOT / ".." / "shared"
T = SHARED / "data/traces"
DLRM = T / "alibaba-dlrm-2025/disaggregated_DLRM_trace_even_apps.csv"
DLRM_SERVICES = 3
SPECS = {"chat-service": SHARED / "examples/chat-service.yaml", "bursty": ROOT / "bench/replay-bursty.yaml",
         "gateway": ROOT / "bench/replay-gateway.yaml", "small": ROOT / "bench/replay-small.yaml"}
MAX_REPLICAS = 256
FULL = 0.999
BASELINES = ("static-peak", "hpa", "knative", "predictive", "hybrid", "slo")
HOLD_PEAK_S = (600, 3600)
# the slo grid the leave-one-trace-out rule chooses from
GRID = {"slo_burst_ratio": (3.0, 5.0), "slo_warmup_headroom": (1.0, 1.25), "slo_relax_s": (900.0, 1800.0),
        "slo_calibrate_half_life_s": (0.0, 86_400.0)}
QUICK_GRID = {"slo_burst_ratio": (3.0, 5.0), "slo_warmup_headroom": (1.0, 1.25)}
# Causal runs measured before that this bench no longer replays (their code is gone): they still count for
# "some causal policy reaches 99.9 %" on their pair. The previous `slo` default (a rise forecast at q 0.95
# held 900 s from the start), 2026-12-04 run of this bench.
KNOWN_REACH = {("genai-gpu", "chat-service"): "previous slo (rise q0.95, hold 900 s): 99.905 % at 1.60x"}


def load_series(quick: bool) -> dict[str, DemandSeries]:
    from costplane.traces import dlrm_service_series, dlrm_services, gpu_use_series, load_trace

    out = {"azure-conv": load_trace(T / "azure-llm-2023/AzureLLMInferenceTrace_conv.csv"),
           "azure-code": load_trace(T / "azure-llm-2023/AzureLLMInferenceTrace_code.csv"),
           "mooncake": load_trace(T / "mooncake-2025/conversation_trace.jsonl")}
    if quick:
        return out
    out["genai-gpu"] = gpu_use_series(T / "alibaba-genai-2026-usage/pod_gpu_duty_cycle_anon.csv", 15.0)
    for app in dlrm_services(DLRM, DLRM_SERVICES):
        out[f"dlrm-{app}"] = dlrm_service_series(DLRM, app, 60.0)
    return out


def write_cache(series: dict[str, DemandSeries], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, path in SPECS.items():  # the specs travel with the series (the shared one lives outside the repo)
        (folder / f"spec-{name}.yaml").write_text(Path(path).read_text())
    for name, s in series.items():
        np.savez_compressed(folder / f"{name}.npz", counts=s.counts, step_s=s.step_s, start_s=s.start_s)


def read_cache(folder: Path) -> dict[str, DemandSeries]:
    out = {}
    for name in SPECS:
        if (folder / f"spec-{name}.yaml").exists():
            SPECS[name] = folder / f"spec-{name}.yaml"
    for f in sorted(folder.glob("*.npz")):
        z = np.load(f)
        out[f.stem] = DemandSeries(float(z["start_s"]), float(z["step_s"]), z["counts"], source=f.stem)
    return out


def interval_for(series: DemandSeries) -> float:
    return 60.0 if series.step_s >= 60 else 15.0


def settings(grid: dict) -> list[dict]:
    return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]


def key_of(setting: dict) -> str:
    return "slo " + ", ".join(f"{k[4:]}={v:g}" for k, v in setting.items())


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


def _pair(trace_series: DemandSeries, spec_name: str) -> tuple:
    spec = replace(read_service_spec(SPECS[spec_name]), max_replicas=MAX_REPLICAS)
    return spec, AutoscaleConfig(service=spec, decision_interval_s=interval_for(trace_series))


def run_oracle(args) -> tuple[str, str, object]:
    trace, series, spec_name = args
    spec, base = _pair(series, spec_name)
    every = base.decision_interval_s
    with milp_nodes(0):
        return trace, spec_name, oracle(series.counts, spec, series.step_s, initial_replicas(series, spec, every), every)


def run_one(args) -> tuple[str, str, str, list]:
    """One policy (or grid setting) on one (trace, spec): [cost ratio to the oracle, served fraction, CPU s]."""
    trace, series, spec_name, key, setting, orc = args
    spec, base = _pair(series, spec_name)
    if key in BASELINES:
        policy, cfg = key, base
    elif key.startswith("hold-peak"):
        policy, cfg = hold_peak(float(key.split()[1])), base
    else:
        policy, cfg = "slo", replace(base, **dict(setting))
    t0 = time.process_time()
    r = replay_inference(series, spec, policy, 1.0, cfg, oracle_result=orc)
    return trace, spec_name, key, [r.cost_usd / r.oracle_cost_usd, r.demand_served_fraction, time.process_time() - t0]


def replay_all(series: dict[str, DemandSeries], grid: dict, jobs: int) -> dict:
    pairs = [(t, s, spec) for t, s in series.items() for spec in SPECS]
    res: dict = {}
    runs = [(k, None) for k in BASELINES] + [(f"hold-peak {h} s", None) for h in HOLD_PEAK_S]
    runs += [(key_of(g), g) for g in settings(grid)]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        oracles = {}
        for trace, spec, orc in pool.map(run_oracle, pairs):
            oracles[(trace, spec)] = orc
            res.setdefault(trace, {}).setdefault(spec, {})["oracle replica-h"] = [orc.replica_hours, 1.0, 0.0]
        print(f"  oracles done ({len(pairs)} pairs)", file=sys.stderr, flush=True)
        tasks = [(t, s, spec, k, g, oracles[(t, spec)]) for t, s, spec in pairs for k, g in runs]
        tasks.sort(key=lambda a: -len(a[1]))  # longest traces first
        for trace, spec, key, v in pool.map(run_one, tasks, chunksize=1):
            res[trace][spec][key] = v
    for trace in res:  # a stable column order
        for spec in res[trace]:
            out = res[trace][spec]
            res[trace][spec] = {k: out[k] for k in ["oracle replica-h", *(k for k, _ in runs)]}
    return {t: {spec: res[t][spec] for spec in SPECS} for t in series}


def _cell(v) -> str:
    return f"{v[0]:.2f}x / {100 * v[1]:.2f} %"


def choose(res: dict, traces: list[str]) -> tuple[str, float, int] | None:
    """The slo setting the rule picks from `traces`: the most training pairs meeting the bar (the SLO where
    any causal run reaches it, else at least the best of hpa/knative served), then the least mean cost
    ratio. Returns (key, mean cost ratio, training pairs meeting the bar)."""
    pairs = [(t, s) for t in traces for s in res[t]]
    keys = [k for k in res[traces[0]][next(iter(res[traces[0]]))] if k.startswith("slo ")]
    best = None
    for k in keys:
        met = sum(meets_bar(res[t][s], res[t][s][k], (t, s))[0] for t, s in pairs)
        mean = float(np.mean([res[t][s][k][0] for t, s in pairs]))
        if best is None or (met, -mean) > (best[2], -best[1]):
            best = (k, mean, met)
    return best


def causal_keys(out: dict) -> list[str]:
    return [k for k in out if k not in ("static-peak", "oracle replica-h")]


def meets_bar(out: dict, mine: list, pair: tuple[str, str] | None = None) -> tuple[bool, str]:
    """The issue-17 bar for one run `mine` on one (trace, spec) given every run `out` there."""
    reach = [k for k in causal_keys(out) if out[k][1] >= FULL] + ([KNOWN_REACH[pair]] if pair in KNOWN_REACH else [])
    rivals = [out[k] for k in ("hpa", "knative") if out[k][1] >= FULL]
    if reach:
        ok = mine[1] >= FULL and all(mine[0] < r[0] for r in rivals)
        return ok, "met" if ok else ("SLO missed" if mine[1] < FULL else "costlier than hpa/knative")
    best_rival = max(out["hpa"][1], out["knative"][1])
    ok = mine[1] >= best_rival
    return ok, ("no causal run meets the SLO; serves >= hpa/knative" if ok
                else f"no causal run meets the SLO; serves less than hpa/knative ({100 * best_rival:.2f} %)")


def report(res: dict) -> dict:
    """Leave-one-trace-out table, the bar per pair, and the rule on all traces (the default)."""
    traces = list(res)
    specs = list(next(iter(res.values())))
    print("| held-out trace | spec | oracle replica-h (LP) | static-peak | hpa | knative | predictive | hybrid | "
          "slo (defaults) | best hold-peak | **slo (held out)** | slo setting (chosen on the other traces) | bar |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    verdicts, hybrid_ok, default_ok = {}, {}, {}
    for held in traces:
        pick = choose(res, [t for t in traces if t != held])
        for spec in specs:
            out = res[held][spec]
            if pick is None:
                print(f"| {held} | {spec} | no setting meets the SLO on all training traces |")
                continue
            mine = out[pick[0]]
            ok, bar = meets_bar(out, mine, (held, spec))
            verdicts[(held, spec)] = ok
            hybrid_ok[(held, spec)] = meets_bar(out, out["hybrid"], (held, spec))[0]
            default_ok[(held, spec)] = meets_bar(out, out["slo"], (held, spec))[0]
            holds = [out[k] for k in out if k.startswith("hold-peak")]
            best_hold = min((h for h in holds if h[1] >= FULL), key=lambda h: h[0], default=max(holds, key=lambda h: h[1]))
            print(f"| {held} | {spec} | {out['oracle replica-h'][0]:.3f} | " + " | ".join(
                _cell(out[k]) for k in BASELINES) + f" | {_cell(best_hold)} | **{_cell(mine)}** | "
                f"{pick[0][4:]} (train: bar met on {pick[2]}, mean {pick[1]:.2f}x) | {bar} |", flush=True)
    met = sum(verdicts.values())
    print(f"\nbar met on {met} of {len(verdicts)} held-out pairs (fixed policies: slo at its defaults "
          f"{sum(default_ok.values())}, hybrid {sum(hybrid_ok.values())})")
    print("not met (slo at its defaults): " + ", ".join(f"{t}/{s}" for (t, s), v in default_ok.items() if not v))
    print("not met (slo): " + ", ".join(f"{t}/{s}" for (t, s), v in verdicts.items() if not v))
    print("not met (hybrid): " + ", ".join(f"{t}/{s}" for (t, s), v in hybrid_ok.items() if not v))
    default = choose(res, traces)
    print(f"default (the rule on all {len(traces)} traces): "
          f"{'none' if default is None else f'{default[0]} (bar met on {default[2]} of {len(traces) * len(specs)} pairs, mean {default[1]:.2f}x)'}")
    cpu = [v[2] for t in res.values() for out in t.values() for k, v in out.items() if k.startswith("slo ")]
    print(f"slo replay CPU s: median {np.median(cpu):.2f}, max {max(cpu):.2f}")
    return {"verdicts": {f"{k[0]}/{k[1]}": v for k, v in verdicts.items()}, "default": default,
            "hybrid": {f"{k[0]}/{k[1]}": v for k, v in hybrid_ok.items()},
            "slo defaults": {f"{k[0]}/{k[1]}": v for k, v in default_ok.items()}}


def plot_frontier(res: dict, path: Path) -> None:
    """Cost vs. the LP oracle against demand lost, per trace (all specs): baselines, hold-peak, the slo grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    traces = list(res)
    cols = 4
    rows = -(-len(traces) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
    floor = 1e-3
    colors = {"static-peak": "tab:gray", "hpa": "tab:red", "knative": "tab:orange", "predictive": "tab:blue",
              "hybrid": "tab:green", "slo": "black"}
    markers = {"chat-service": "o", "bursty": "s", "gateway": "^", "small": "D"}
    for ax, trace in zip(axes.flat, traces):
        for spec, out in res[trace].items():
            m = markers.get(spec, "o")
            grid = [v for k, v in out.items() if k.startswith("slo ")]
            ax.scatter([g[0] for g in grid], [max(floor, 100 * (1 - g[1])) for g in grid], s=8, alpha=0.35,
                       color="tab:purple", marker=m)
            for name, color in colors.items():
                v = out[name]
                ax.scatter([v[0]], [max(floor, 100 * (1 - v[1]))], s=55, color=color, edgecolor="black", marker=m,
                           zorder=3, label=name if spec == "chat-service" else None)
        ax.axhline(0.1, color="black", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(trace, fontsize=10)
        ax.set_xlabel("cost / LP oracle (x)")
        ax.set_ylabel("demand lost, % (floor = none)")
    for ax in list(axes.flat)[len(traces):]:
        ax.axis("off")
    axes.flat[0].scatter([], [], s=8, color="tab:purple", label="slo grid")
    axes.flat[0].legend(fontsize=7, loc="upper right")
    fig.suptitle("Replay: cost vs. demand lost (o chat-service, s bursty, ^ gateway, D small; dashed: 0.1 % lost)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    print(f"plot: {path}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="three one-hour traces, a 4-setting grid")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cache", type=Path, help="read the demand series from .npz files here")
    ap.add_argument("--write-cache", type=Path, help="write the demand series as .npz here and stop")
    ap.add_argument("--save", type=Path, help="write the replay results as JSON")
    ap.add_argument("--load", type=Path, help="read replay results (JSON) instead of replaying")
    ap.add_argument("--plot", type=Path, default=ROOT / "docs/img/replay-frontier.png")
    args = ap.parse_args(argv)
    if args.load:
        res = json.loads(args.load.read_text())
    else:
        series = read_cache(args.cache) if args.cache else load_series(args.quick)
        if args.write_cache:
            write_cache(series, args.write_cache)
            return 0
        print("traces: " + ", ".join(f"{k} ({len(s):,} steps of {s.step_s:g} s)" for k, s in series.items()))
        t0 = time.perf_counter()
        res = replay_all(series, QUICK_GRID if args.quick else GRID, args.jobs)
        print(f"replays: {time.perf_counter() - t0:.0f} s wall on {args.jobs} processes")
        if args.save:
            args.save.parent.mkdir(parents=True, exist_ok=True)
            args.save.write_text(json.dumps(res))
    report(res)
    if args.plot and str(args.plot) != "-":
        plot_frontier(res, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
