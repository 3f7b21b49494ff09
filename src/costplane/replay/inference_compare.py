"""Replay every policy on one trace against one oracle, and plot replicas against demand over time."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from costplane.autoscale import POLICIES, AutoscaleConfig, ServiceSpec
from costplane.replay.inference import InferenceReplay, initial_replicas, replay_inference
from costplane.replay.oracle import oracle
from costplane.traces import DemandSeries


def compare_policies(series: DemandSeries, spec: ServiceSpec, price_usd_per_hour: float,
                     policies: Iterable[str] = tuple(POLICIES), cfg: AutoscaleConfig | None = None,
                     price_source: str = "", on_done: Callable[[str], None] | None = None) -> list[InferenceReplay]:
    """One replay per policy; the oracle is solved once and shared."""
    cfg = cfg or AutoscaleConfig(service=spec)
    orc = oracle(series.counts, spec, series.step_s, initial_replicas(series, spec, cfg.decision_interval_s),
                 cfg.decision_interval_s)
    results = []
    for name in policies:
        results.append(replay_inference(series, spec, name, price_usd_per_hour, cfg, oracle_result=orc,
                                        price_source=price_source))
        if on_done:
            on_done(name)
    return results


def plot_comparison(results: list[InferenceReplay], path: Path) -> Path:
    """PNG: demand (in replicas' worth, 60 s mean) and each policy's paid and ready replicas over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = results[0].series
    spec = results[0].spec
    step = series.step_s
    minutes = np.arange(len(series)) * step / 60.0
    w = max(1, int(round(60.0 / step)))
    demand = np.convolve(series.rate, np.ones(w) / w, mode="same") / spec.capacity_per_replica
    fig, axes = plt.subplots(len(results), 1, figsize=(11, 2.1 * len(results) + 0.6), sharex=True, squeeze=False)
    for ax, r in zip(axes[:, 0], results, strict=True):
        ax.fill_between(minutes, demand, color="0.82", label="demand / replica capacity (60 s mean)")
        ax.step(minutes, r.up_replicas, where="post", color="tab:red", lw=0.9, label="paid replicas")
        ax.step(minutes, r.ready_replicas, where="post", color="tab:blue", lw=0.9, label="ready replicas")
        d = r.to_dict()
        ratio = d["cost_ratio_to_oracle"]
        ax.set_title(f"{r.policy}: ${d['cost_usd']:.2f} ({'-' if ratio is None else f'{ratio:.2f}'} x oracle), "
                     f"{100 * d['demand_served_fraction']:.2f} % served, {d['cold_starts']} cold starts",
                     fontsize=9, loc="left")
        ax.set_ylabel("replicas")
    axes[0, 0].legend(loc="upper right", fontsize=7)
    axes[-1, 0].set_xlabel(f"minutes from trace start ({series.source.split('/')[-1]})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
