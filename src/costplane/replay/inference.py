"""Inference autoscaling replay: the live `Controller` run over a demand series in simulated time.

Time runs in steps of the series' `step_s`. Every `decision_interval_s` the very controller the service
runs (costplane.controller) observes the demand before now and the queue, asks the policy, records the
decision and acts on a simulated cluster (costplane.replay.cluster: cold starts, FIFO queue, ready vs.
starting replicas); between decisions the cluster serves the trace.
- Replicas it adds are paid from that step and ready `ceil(cold_start_s / step_s)` steps later.
  Replicas it removes go newest-warming first, then ready ones; they stop being paid at once.
- Each step, ready replicas serve `capacity_per_replica x step_s` units, oldest queued demand first.
  Demand served within `max_queue_s` of its arrival step counts as served; older demand leaves the
  queue unserved. Demand still queued at the end is served by the last fleet while its budget lasts.
  With `max_queue_s: 0` only demand served in its own step counts, and serving is vectorised.
- The fleet at step 0 is `initial_replicas`, ready and already paid for: by default what the first
  cold start + decision interval needs, within bounds (the service was running before the trace).
  The oracle starts from the same fleet.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from costplane.actuate import Target
from costplane.autoscale import AutoscaleConfig, ServiceSpec, load_policy, replicas_for_rate
from costplane.autoscale._forecaster import window_rates
from costplane.controller import AutoscaleDecide, ControlledService, Controller, MemoryJournal
from costplane.core.clock import SimClock
from costplane.replay.cluster import SimulatedCluster, TraceMetrics
from costplane.replay.oracle import OracleResult, cold_start_steps, oracle, queue_steps
from costplane.traces import DemandSeries

REPLAY_TARGET = Target("deployment", "replayed", "replay")


@dataclass(frozen=True)
class InferenceReplay:
    """What one policy did on one trace; arrays are per step, money and hours for the whole trace."""

    policy: str
    series: DemandSeries
    spec: ServiceSpec
    price_usd_per_hour: float
    up_replicas: np.ndarray       # paid replicas per step (cold starts included)
    ready_replicas: np.ndarray
    served_units: float
    unserved_units: float
    cold_starts: int
    decisions: int
    p99_queue_delay_s: float
    oracle: OracleResult | None = None
    price_source: str = ""
    seconds: float = 0.0
    warnings: tuple[str, ...] = field(default=())

    @property
    def gpu_hours(self) -> float:
        return float(self.up_replicas.sum()) * self.series.step_s / 3600.0 * self.spec.gpus_per_replica

    @property
    def replica_hours(self) -> float:
        return float(self.up_replicas.sum()) * self.series.step_s / 3600.0

    @property
    def cost_usd(self) -> float:
        return self.replica_hours * self.price_usd_per_hour

    @property
    def oracle_cost_usd(self) -> float | None:
        return None if self.oracle is None else self.oracle.replica_hours * self.price_usd_per_hour

    @property
    def demand_served_fraction(self) -> float:
        total = self.served_units + self.unserved_units
        return 1.0 if total <= 0 else self.served_units / total

    def to_dict(self) -> dict[str, Any]:
        oc = self.oracle_cost_usd
        ratio = None if oc is None else (self.cost_usd / oc if oc > 0 else (1.0 if self.cost_usd == 0 else math.inf))
        return {
            "policy": self.policy,
            "cost_usd": round(self.cost_usd, 4),
            "oracle_cost_usd": None if oc is None else round(oc, 4),
            "cost_ratio_to_oracle": ratio,
            "demand_served_fraction": self.demand_served_fraction,
            "gpu_hours": self.gpu_hours,
            "replica_hours": self.replica_hours,
            "cold_starts": self.cold_starts,
            "peak_replicas": int(self.up_replicas.max(initial=0)),
            "mean_replicas": float(self.up_replicas.mean()) if self.up_replicas.size else 0.0,
            "served_units": self.served_units,
            "unserved_units": self.unserved_units,
            "p99_queue_delay_s": self.p99_queue_delay_s,
            "decisions": self.decisions,
            "price_usd_per_hour": round(self.price_usd_per_hour, 6),
            "price_source": self.price_source,
            "oracle_method": None if self.oracle is None else self.oracle.method,
            # the integer optimum lies within oracle_gap above oracle_cost_usd (None: not known, LP only)
            "oracle_gap": None if self.oracle is None else self.oracle.gap,
            "oracle_unservable_units": None if self.oracle is None else self.oracle.unservable_units,
            "service": self.spec.to_dict(),
            "trace": self.series.summary(),
            "replay_seconds": self.seconds,
            "warnings": list(self.warnings),
        }


def replica_price(spec: ServiceSpec, catalog) -> tuple[float, str]:
    """Price of one replica per hour and where it comes from: the spec's `price_usd_per_hour`, else the cheapest
    on-demand offer with `gpus_per_replica` GPUs (CONTRACTS.md `replay`: no host minimums, so any outside
    reader of the same catalog gets the same price)."""
    if spec.price_usd_per_hour is not None:
        return spec.price_usd_per_hour, "service spec price_usd_per_hour"
    from costplane.placement import PlacementRequest, place

    best = place(PlacementRequest(gpu=spec.gpu, gpus_per_node=spec.gpus_per_replica, hours=1.0, host_minimums=False),
                 catalog, limit=1)[0]
    return best.hourly_usd, f"{best.cloud} {best.region} {best.instance_type} on-demand ({catalog.source})"


def peak_service_rate(counts: np.ndarray, spec: ServiceSpec, step_s: float) -> float:
    """Peak service-window rate (units/s over max_queue_s + one step): demand may wait that long, so
    this, not the busiest single step, is what capacity must cover."""
    return float(window_rates(counts, 1 + queue_steps(spec, step_s)).max(initial=0.0)) / step_s


def _fleet_for_peak(counts: np.ndarray, spec: ServiceSpec, step_s: float) -> int:
    need = replicas_for_rate(peak_service_rate(counts, spec, step_s), spec.capacity_per_replica)
    return min(spec.max_replicas, max(spec.floor_replicas, need))


def initial_replicas(series: DemandSeries, spec: ServiceSpec, decision_interval_s: float) -> int:
    """The fleet already running at step 0: what the first cold start + decision interval needs, bounded."""
    steps = cold_start_steps(spec, series.step_s) + max(1, int(round(decision_interval_s / series.step_s)))
    return _fleet_for_peak(series.counts[:steps], spec, series.step_s)


def static_peak_replicas(series: DemandSeries, spec: ServiceSpec) -> int:
    """Replicas that serve the trace's peak service-window rate, bounded."""
    return _fleet_for_peak(series.counts, spec, series.step_s)


def capacity_warning(series: DemandSeries, spec: ServiceSpec) -> str | None:
    w = 1 + queue_steps(spec, series.step_s)
    peak = peak_service_rate(series.counts, spec, series.step_s)
    top = spec.max_replicas * spec.capacity_per_replica
    if peak > top + 1e-9:
        return (f"peak demand {peak:.2f}/s (over {w * series.step_s:g} s) exceeds max_replicas {spec.max_replicas} x "
                f"{spec.capacity_per_replica:g}/s = {top:g}/s: some demand cannot be served; raise max_replicas "
                f"to {replicas_for_rate(peak, spec.capacity_per_replica)}")
    return None


def replay_inference(series: DemandSeries, spec: ServiceSpec, policy: str | Callable[..., Any],
                     price_usd_per_hour: float, cfg: AutoscaleConfig | None = None, *,
                     with_oracle: bool = True, start_replicas: int | None = None, price_source: str = "",
                     oracle_result: OracleResult | None = None) -> InferenceReplay:
    """Replay `series` through `policy` (a POLICIES name, module:function, or a guarded decide function)."""
    import time

    began = time.perf_counter()
    name = policy if isinstance(policy, str) else getattr(policy, "__name__", "policy")
    decide = load_policy(policy) if isinstance(policy, str) else policy
    cfg = cfg or AutoscaleConfig(service=spec)
    if cfg.service is not spec:
        cfg = replace(cfg, service=spec)
    if name == "static-peak" and cfg.static_replicas is None:
        cfg = replace(cfg, static_replicas=static_peak_replicas(series, spec))
    step = series.step_s
    counts = series.counts
    n = counts.size
    every = max(1, int(round(cfg.decision_interval_s / step)))
    n0 = initial_replicas(series, spec, cfg.decision_interval_s) if start_replicas is None else start_replicas

    cluster = SimulatedCluster(series, spec, n0, REPLAY_TARGET)
    service = ControlledService(spec.name, REPLAY_TARGET, name)
    controller = Controller(None, SimClock(series.start_s), cluster, (service,),
                            AutoscaleDecide({service.name: cfg}, {service.name: decide}, with_forecast=False),
                            interval_s=every * step, validation_s=0.0, journal=MemoryJournal(),
                            metrics=TraceMetrics(series, cluster), log_decisions=False)
    decisions = 0
    for t0 in range(0, n, every):
        controller.clock.sleep_until(series.start_s + t0 * step)
        controller.run_cycle()
        decisions += 1
        cluster.run_until(min(t0 + every, n))
    served, unserved, delays = cluster.finish()
    up, ready_arr, cold_starts = cluster.up, cluster.ready_per_step, cluster.cold_starts
    cum = np.cumsum(delays)
    p99 = float(np.searchsorted(cum, 0.99 * cum[-1]) * step) if cum[-1] > 0 else 0.0
    warnings = list(series.warnings)
    warn = capacity_warning(series, spec)
    if warn:
        warnings.append(warn)
    orc = oracle_result
    if orc is None and with_oracle:
        orc = oracle(counts, spec, step, n0, cfg.decision_interval_s)
    return InferenceReplay(name, series, spec, price_usd_per_hour, up, ready_arr, served, max(0.0, unserved),
                           cold_starts, decisions, p99, orc, price_source, time.perf_counter() - began,
                           tuple(warnings))
