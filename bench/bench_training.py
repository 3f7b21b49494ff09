"""Training-cost benchmarks: throughput-model error on held-back points, Monte Carlo vs formula,
pruned vs unpruned HPO, plan time on the full catalog. Ratios against baselines measured in the same process.

Run: .venv/bin/python bench/bench_training.py [--quick]
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

from costplane.catalog import load_catalog
from costplane.training import (
    JobProfile,
    ThroughputPoint,
    expected_wall_s,
    fit_curve,
    interruptions_per_hour,
    plan_training,
    simulate_wall_s,
)
from costplane.training._hpo import HpoConfig, run_hpo

REPO = Path(__file__).resolve().parents[1]
SKYPILOT = REPO / ".." / "shared" / "data" / "catalog" / "skypilot-v8"
QUICK = "--quick" in sys.argv


def bench_throughput(rng: np.random.Generator) -> None:
    """Synthetic ground truth (ILLUSTRATIVE, not measurements): tau(n) = a/n + b + c ln n, 3 % noise.

    Fit on the points at 8 and 16 GPUs (2-point Amdahl) or 8, 16, 32 (3-point); held back: 12 (between),
    24 and 32 or 48 and 64 (up to 2x above). Baseline: linear scaling from the nearest measured point.
    """
    errs: dict[str, list[float]] = {"fit2": [], "fit3": [], "linear2": [], "linear3": []}
    for _ in range(300):
        a = rng.uniform(1e-4, 1e-3)
        b, c = a * rng.uniform(0, 0.02), a * rng.uniform(0, 0.01)
        def truth(n):
            n = np.asarray(n, dtype=float)
            return 1 / (a / n + b + c * np.log(n))
        for key, measured, held in (("2", [8, 16], [12, 24, 32]), ("3", [8, 16, 32], [12, 24, 48, 64])):
            obs = truth(measured) * rng.normal(1, 0.03, len(measured))
            curve = fit_curve("H100", measured, obs)
            pred = curve.units_per_s(held)
            errs["fit" + key] += list(np.abs(pred / truth(held) - 1))
            nearest = [min(measured, key=lambda m: abs(m - h)) for h in held]
            lin = np.array([obs[measured.index(m)] * h / m for m, h in zip(nearest, held)])
            errs["linear" + key] += list(np.abs(lin / truth(held) - 1))
    print("\n## throughput model: relative error on held-back GPU counts (300 synthetic curves, 3 % noise)")
    print("| points fitted | curve mean | curve p90 | linear-from-nearest mean | ratio curve/linear |")
    print("|---|---|---|---|---|")
    for key in ("2", "3"):
        f, lin = np.array(errs["fit" + key]), np.array(errs["linear" + key])
        print(f"| {key} | {100 * f.mean():.1f} % | {100 * np.quantile(f, 0.9):.1f} % | {100 * lin.mean():.1f} % "
              f"| {f.mean() / lin.mean():.2f} |")


def bench_spot() -> None:
    print("\n## spot: closed form vs Monte Carlo (20 000 runs, seed 7)")
    print("| compute h | interruptions/h | interval s | restore s | formula h | MC h | diff | MC time / formula time |")
    print("|---|---|---|---|---|---|---|---|")
    for compute_h, rate, interval, restore in ((10, 0.05, 1800, 300), (20, 0.4, 1800, 300), (5, 1.0, 600, 120),
                                               (3, 0.2, None, 60), (48, 0.1, 3600, 600)):
        t0 = time.perf_counter()
        f = float(expected_wall_s(compute_h * 3600, rate / 3600, interval, restore))
        t1 = time.perf_counter()
        mc = simulate_wall_s(compute_h * 3600, rate / 3600, interval, restore, runs=20000, seed=7).mean()
        t2 = time.perf_counter()
        print(f"| {compute_h} | {rate} | {interval} | {restore} | {f / 3600:.3f} | {mc / 3600:.3f} | "
              f"{100 * (mc / f - 1):+.2f} % | {(t2 - t1) / max(t1 - t0, 1e-9):.0f}x |")


def bench_hpo() -> None:
    seeds = (0, 1) if QUICK else (0, 1, 2)
    trials = 20 if QUICK else 30
    print(f"\n## HPO on load_digits: pruned vs unpruned, same seeds ({trials} trials, 27 epochs max, TPE)")
    print("| model | pruner | seed | best val acc | vs none | GPU-s (CPU-s) | fraction of none | epochs |")
    print("|---|---|---|---|---|---|---|---|")
    for model in ("sgd", "mlp"):
        for seed in seeds:
            base = None
            for pruner in ("none", "sha", "hyperband"):
                r = run_hpo(HpoConfig(trials=trials, pruner=pruner, model=model, seed=seed, price_usd_per_gpu_hour=1.0))
                if base is None:
                    base = r
                print(f"| {model} | {pruner} | {seed} | {r.best_score:.4f} | {100 * (r.best_score / base.best_score - 1):+.2f} % "
                      f"| {r.gpu_seconds:.2f} | {r.gpu_seconds / base.gpu_seconds:.2f} | {r.epochs} |")


def _brute_force_cost(profile: JobProfile, catalog, deadline_s) -> float:
    """Scalar loop over every offer x purchase x node count (the baseline the vectorised plan is timed against)."""
    by_model: dict[str, list] = {}
    for p in profile.throughput:
        by_model.setdefault(p.gpu, []).append(p)
    best = math.inf
    for model, pts in by_model.items():
        curve = fit_curve(model, [p.gpus for p in pts], [p.units_per_s for p in pts])
        lo, hi = curve.allowed_range
        for o in catalog.offers:
            if o.gpu != model or o.gpu_memory_gib < profile.memory_gib_per_gpu:
                continue
            for spot in (False, True):
                price = o.price(spot)
                if not price:
                    continue
                rate = interruptions_per_hour(o.cloud, o.region, o.instance_type, {}) if spot else 0.0
                for k in range(1, hi // o.gpus + 1):
                    if k * o.gpus < lo:
                        continue
                    w = profile.work / float(curve.units_per_s(k * o.gpus)[0])
                    wall = float(expected_wall_s(w, k * rate / 3600, profile.checkpoint_interval_s, profile.restore_s))
                    if wall <= deadline_s:
                        best = min(best, k * price * wall / 3600)
    return best


def bench_plan() -> None:
    catalog = load_catalog(SKYPILOT if SKYPILOT.is_dir() else None)
    models = ["H100", "A100-80GB", "A100", "L40S", "H200", "B200"]
    profile = JobProfile("bench", 2e9, 30, tuple(ThroughputPoint(m, n, 5000 * n * 0.95 ** math.log2(n))
                                                 for m in models for n in (8, 16, 32)), 1800, 300)
    reps = 5
    t0 = time.perf_counter()
    for _ in range(reps):
        plan = plan_training(profile, catalog, 48 * 3600)
    t_plan = (time.perf_counter() - t0) / reps
    t0 = time.perf_counter()
    brute = _brute_force_cost(profile, catalog, 48 * 3600)
    t_brute = time.perf_counter() - t0
    print(f"\n## plan time on the full catalog ({len(catalog)} offers, {catalog.source})")
    print(f"6 GPU models x 3 points, deadline 48 h: plan {1000 * t_plan:.0f} ms ({plan.options_considered} options after "
          f"pruning), scalar brute force {1000 * t_brute:.0f} ms, speed-up {t_brute / t_plan:.0f}x; "
          f"same optimum: {math.isclose(plan.choice.expected_cost_usd, brute, rel_tol=1e-9)}")


if __name__ == "__main__":
    bench_throughput(np.random.default_rng(0))
    bench_spot()
    bench_plan()
    bench_hpo()
