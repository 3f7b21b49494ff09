"""Waste findings (pure): paid vs used GPU-hours per workload, idle cost, and what would save money.

For each workload (see _series.py for the interval rule that keeps used ≤ paid):

    paid_gpu_hours = Σ interval_i × G / 3600          used_gpu_hours = Σ util_i/100 × min(interval_i, 300 s) × G / 3600
    efficiency     = used / paid                       idle_usd       = (paid − used) × price_usd_per_gpu_hour
    unobserved_gpu_hours = Σ max(interval_i − 300 s, 0) × G / 3600   (paid, but no sample says how it was used)

Candidate actions, each with a risk note and a monthly saving: the saving over the file's observed
span (first sample of any workload to the end of the last), × `MONTH_HOURS` / span — as if the observed
period repeated through a 730-hour month, so a workload seen for 2 h of a 23 h file counts 2/23 of the
month. The largest saving wins:

* **auto-stop** — stretches where util stays below `idle_below_pct` for at least `AUTO_STOP_MIN_S`;
  a stop after `STOP_DELAY_S` of idleness saves (stretch − delay) of each such stretch.
* **share-gpu** — p95 util low enough that k = min(⌊100 / p95⌋, ⌊GPU memory / peak memory⌋, 4) ≥ 2
  tenants fit one GPU (time-slicing or MIG); saves (1 − 1/k) of the paid cost.
* **smaller-gpu** — needs the memory used: the cheapest catalog GPU (costplane.placement) with at least
  peak memory × `MEMORY_HEADROOM`, when p95 util ≤ `SMALLER_GPU_MAX_P95_PCT` leaves compute headroom.
* **spot** — when the current GPU model is known and its cheapest spot price is below the price paid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from costplane.core.errors import InfeasibleError
from costplane.core.types import Catalog
from costplane.waste._series import (
    UsageSeries,
    intervals,
    median_interval_s,
    observed_intervals,
    split_by_workload,
)

MONTH_HOURS = 730.0              # 365 × 24 / 12
AUTO_STOP_MIN_S = 1800.0         # idle for at least 30 min before a stop is worth its cold start
STOP_DELAY_S = 900.0             # keep-alive before stopping (scale-to-zero delay)
SHARE_MAX_TENANTS = 4            # practical limit of time-slicing / MIG slices per GPU
MEMORY_HEADROOM = 1.10           # a smaller GPU must hold peak memory + 10 %
SMALLER_GPU_MAX_P95_PCT = 50.0   # a weaker GPU is only proposed when p95 util leaves half the GPU free
DEFAULT_IDLE_BELOW_PCT = 5.0
GIB = 2.0**30


@dataclass(frozen=True, slots=True)
class WasteConfig:
    price_usd_per_gpu_hour: float
    gpus_per_workload: int = 1
    idle_below_pct: float = DEFAULT_IDLE_BELOW_PCT
    gpu: str | None = None                 # the GPU model workloads run on, when known
    gpu_memory_gib: float | None = None    # its memory per GPU, when known
    # the workload's own host needs per node (vCPUs, GiB), when known: a smaller GPU must come with them too;
    # placement adds its per-GPU host minimums either way (costplane.placement.host_minimums)
    min_vcpus: float = 0.0
    min_memory_gib: float = 0.0


@dataclass(frozen=True, slots=True)
class Action:
    kind: str               # auto-stop | share-gpu | smaller-gpu | spot
    text: str
    monthly_saving_usd: float
    risk: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "monthly_saving_usd": round(self.monthly_saving_usd, 2),
                "risk": self.risk}


@dataclass(frozen=True, slots=True)
class WorkloadWaste:
    workload: str
    paid_gpu_hours: float
    used_gpu_hours: float
    unobserved_gpu_hours: float
    idle_usd: float
    paid_usd: float
    samples: int
    start_s: float
    end_s: float
    mean_util_pct: float
    p95_util_pct: float
    peak_memory_gib: float | None
    idle_stretches: int
    longest_idle_s: float
    actions: tuple[Action, ...] = field(default=())

    @property
    def efficiency(self) -> float:
        return self.used_gpu_hours / self.paid_gpu_hours if self.paid_gpu_hours > 0 else 0.0

    @property
    def best(self) -> Action | None:
        return max(self.actions, key=lambda a: a.monthly_saving_usd) if self.actions else None

    def to_dict(self) -> dict[str, Any]:
        best = self.best
        return {
            "workload": self.workload,
            "paid_gpu_hours": round(self.paid_gpu_hours, 6),
            "used_gpu_hours": round(self.used_gpu_hours, 6),
            "unobserved_gpu_hours": round(self.unobserved_gpu_hours, 6),
            "efficiency": round(self.efficiency, 6),
            "idle_usd": round(self.idle_usd, 4),
            "paid_usd": round(self.paid_usd, 4),
            "recommendation": best.text if best else "none: keep as is",
            "recommendation_kind": best.kind if best else "none",
            "monthly_saving_usd": round(best.monthly_saving_usd, 2) if best else 0.0,
            "risk": best.risk if best else "",
            "alternatives": [a.to_dict() for a in sorted(self.actions, key=lambda a: -a.monthly_saving_usd)],
            "samples": self.samples,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "mean_util_pct": round(self.mean_util_pct, 3),
            "p95_util_pct": round(self.p95_util_pct, 3),
            "peak_memory_gib": None if self.peak_memory_gib is None else round(self.peak_memory_gib, 3),
            "idle_stretches": self.idle_stretches,
            "longest_idle_s": round(self.longest_idle_s, 1),
        }


def idle_stretches(util_pct: np.ndarray, interval_s: np.ndarray, below_pct: float) -> np.ndarray:
    """Durations (s) of maximal runs of consecutive samples with util < below_pct."""
    below = util_pct < below_pct
    if not below.any():
        return np.zeros(0)
    edges = np.diff(np.concatenate(([0], below.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    cum = np.concatenate(([0.0], np.cumsum(interval_s)))
    return cum[ends] - cum[starts]


def _peak_memory_gib(ts: np.ndarray, mem: tuple[np.ndarray, np.ndarray] | None, tolerance_s: float) -> float | None:
    """Peak memory over the memory samples that fall within the util series' time span (joined on time)."""
    if mem is None:
        return None
    m_ts, m_val = mem
    inside = (m_ts >= ts[0] - tolerance_s) & (m_ts <= ts[-1] + tolerance_s)
    return float(m_val[inside].max() / GIB) if inside.any() else None


def _auto_stop(stretches: np.ndarray, per_month: float, cfg: WasteConfig) -> Action | None:
    long = stretches[stretches >= AUTO_STOP_MIN_S]
    if len(long) == 0:
        return None
    saved_h = float(np.sum(long - STOP_DELAY_S)) / 3600.0
    monthly = saved_h * cfg.gpus_per_workload * cfg.price_usd_per_gpu_hour * per_month
    return Action("auto-stop",
                  f"auto-stop after {STOP_DELAY_S / 60:.0f} min below {cfg.idle_below_pct:g}% util "
                  f"({len(long)} idle stretch(es) ≥ {AUTO_STOP_MIN_S / 60:.0f} min, longest {long.max() / 3600:.1f} h)",
                  monthly, "a request arriving while stopped waits for a cold start")


def _share(p95: float, peak_gib: float | None, paid_usd: float, per_month: float, cfg: WasteConfig) -> Action | None:
    by_util = SHARE_MAX_TENANTS if p95 <= 100.0 / SHARE_MAX_TENANTS else math.floor(100.0 / p95)
    if peak_gib is not None and cfg.gpu_memory_gib:
        by_memory = math.floor(cfg.gpu_memory_gib / max(peak_gib * MEMORY_HEADROOM, 1e-9))
    else:
        by_memory = SHARE_MAX_TENANTS
    k = min(by_util, by_memory, SHARE_MAX_TENANTS)
    if k < 2:
        return None
    monthly = paid_usd * (1 - 1 / k) * per_month
    memory_note = (f"peak memory {peak_gib:.1f} GiB fits {k} per {cfg.gpu_memory_gib:g} GiB GPU"
                   if peak_gib is not None and cfg.gpu_memory_gib else "memory not measured: check that tenants fit")
    return Action("share-gpu", f"share the GPU {k} ways (time-slicing/MIG): p95 util {p95:.0f}%",
                  monthly, f"tenants contend when their peaks coincide; {memory_note}")


def _smaller_gpu(p95: float, peak_gib: float | None, observed_h: float, per_month: float, cfg: WasteConfig,
                 catalog: Catalog | None) -> Action | None:
    if peak_gib is None or catalog is None or p95 > SMALLER_GPU_MAX_P95_PCT:
        return None
    from costplane.placement import PlacementRequest, place

    need = max(peak_gib * MEMORY_HEADROOM, 1.0)
    try:
        best = place(PlacementRequest(min_gpu_memory_gib=need, gpus_per_node=cfg.gpus_per_workload,
                                      min_vcpus=cfg.min_vcpus, min_memory_gib=cfg.min_memory_gib), catalog, limit=1)
    except InfeasibleError:
        return None
    if not best:
        return None
    new_per_gpu_h = best[0].hourly_usd / cfg.gpus_per_workload
    if best[0].gpu == cfg.gpu or new_per_gpu_h >= cfg.price_usd_per_gpu_hour * 0.95:
        return None
    monthly = (cfg.price_usd_per_gpu_hour - new_per_gpu_h) * cfg.gpus_per_workload * observed_h * per_month
    host = catalog.offers[best[0].offer_index]
    return Action("smaller-gpu",
                  f"move to {best[0].gpu} ({best[0].cloud} {best[0].instance_type}, {host.vcpus:g} vCPUs, "
                  f"{host.memory_gib:g} GiB, ${new_per_gpu_h:.2f}/GPU-h): "
                  f"peak memory {peak_gib:.1f} GiB + 10% fits",
                  monthly, f"a smaller GPU is slower: p95 util {p95:.0f}% leaves headroom, benchmark before moving; "
                  f"the offer is on {best[0].cloud}")


def _spot(observed_h: float, per_month: float, cfg: WasteConfig, catalog: Catalog | None) -> Action | None:
    if catalog is None or cfg.gpu is None:
        return None
    from costplane.placement import PlacementRequest, place

    try:
        offers = place(PlacementRequest(gpu=cfg.gpu, gpus_per_node=cfg.gpus_per_workload, spot=True,
                                        min_vcpus=cfg.min_vcpus, min_memory_gib=cfg.min_memory_gib), catalog, limit=5)
    except InfeasibleError:
        return None
    spot = [p for p in offers if p.spot]
    if not spot:
        return None
    new_per_gpu_h = spot[0].hourly_usd / cfg.gpus_per_workload
    if new_per_gpu_h >= cfg.price_usd_per_gpu_hour * 0.95:
        return None
    monthly = (cfg.price_usd_per_gpu_hour - new_per_gpu_h) * cfg.gpus_per_workload * observed_h * per_month
    return Action("spot", f"run on spot {cfg.gpu} ({spot[0].cloud} {spot[0].region}, ${new_per_gpu_h:.2f}/GPU-h)",
                  monthly, "spot capacity can be reclaimed at short notice: needs replicas or checkpoints")


def find_waste(util: UsageSeries, cfg: WasteConfig, memory: UsageSeries | None = None,
               catalog: Catalog | None = None) -> list[WorkloadWaste]:
    """Per-workload paid/used/idle and recommended actions, sorted by idle cost (largest first)."""
    mem_by_workload = split_by_workload(memory) if memory is not None else {}
    out = []
    g = cfg.gpus_per_workload
    single_s = median_interval_s(util)
    per_workload = split_by_workload(util)
    spans = {name: (ts[0], ts[-1] + intervals(ts, single_s)[-1]) for name, (ts, _) in per_workload.items()}
    span_h = (max(e for _, e in spans.values()) - min(s for s, _ in spans.values())) / 3600.0 if spans else 0.0
    per_month = MONTH_HOURS / span_h if span_h > 0 else 0.0  # observed span -> one month
    for name, (ts, u) in per_workload.items():
        dt = intervals(ts, single_s)
        seen = observed_intervals(dt)  # a sample holds for at most the staleness window
        paid_h = float(dt.sum()) * g / 3600.0
        used_h = float(np.dot(u / 100.0, seen)) * g / 3600.0
        used_h = min(used_h, paid_h)
        unobserved_h = float((dt - seen).sum()) * g / 3600.0
        observed_h = paid_h / g
        paid_usd = paid_h * cfg.price_usd_per_gpu_hour
        stretches = idle_stretches(u, seen, cfg.idle_below_pct)
        p95 = float(np.percentile(u, 95))
        peak = _peak_memory_gib(ts, mem_by_workload.get(name), float(dt[-1]))
        candidates = () if not (observed_h > 0 and per_month > 0) else (  # nothing observed: nothing to extrapolate to a month
            _auto_stop(stretches, per_month, cfg), _share(p95, peak, paid_usd, per_month, cfg),
            _smaller_gpu(p95, peak, observed_h, per_month, cfg, catalog), _spot(observed_h, per_month, cfg, catalog))
        actions = tuple(a for a in candidates if a is not None and a.monthly_saving_usd > 0)
        out.append(WorkloadWaste(
            workload=name, paid_gpu_hours=paid_h, used_gpu_hours=used_h, unobserved_gpu_hours=unobserved_h,
            idle_usd=(paid_h - used_h) * cfg.price_usd_per_gpu_hour, paid_usd=paid_usd, samples=len(ts),
            start_s=float(ts[0]), end_s=float(ts[-1] + dt[-1]), mean_util_pct=float(np.dot(u, seen) / seen.sum()),
            p95_util_pct=p95, peak_memory_gib=peak, idle_stretches=int(np.sum(stretches >= AUTO_STOP_MIN_S)),
            longest_idle_s=float(stretches.max()) if len(stretches) else 0.0, actions=actions))
    out.sort(key=lambda w: (-w.idle_usd, w.workload))
    return out


def waste_report(findings: list[WorkloadWaste], cfg: WasteConfig) -> dict[str, Any]:
    """The contract's JSON: rows plus totals computed from the rounded row values, so they add up exactly."""
    rows = [w.to_dict() for w in findings]
    return {
        "workloads": rows,
        "total_paid_usd": round(math.fsum(r["paid_usd"] for r in rows), 4),
        "total_idle_usd": round(math.fsum(r["idle_usd"] for r in rows), 4),
        "total_unobserved_gpu_hours": round(math.fsum(r["unobserved_gpu_hours"] for r in rows), 6),
        "total_monthly_saving_usd": round(math.fsum(r["monthly_saving_usd"] for r in rows), 2),
        "price_usd_per_gpu_hour": cfg.price_usd_per_gpu_hour,
        "gpus_per_workload": cfg.gpus_per_workload,
        "idle_below_pct": cfg.idle_below_pct,
    }
