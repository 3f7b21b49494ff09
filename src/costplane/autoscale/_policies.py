"""Built-in autoscaling policies, each `decide(obs, state, cfg) -> (Decision, state)`, and the POLICIES registry.

- `static-peak`: a fixed fleet sized for the trace's peak service-window rate (the habit baseline).
- `hpa`: the Kubernetes Horizontal Pod Autoscaler: desired = ceil(current x metric / target), no change
  within a 10 % tolerance, scale-up at most max(4 pods, 100 %) per period, and the scale-down
  stabilisation window (300 s: the highest recommendation of the window wins).
- `knative`: the Knative Pod Autoscaler: 60 s stable and 6 s panic windows; panic when the panic
  window wants >= 200 % of the ready replicas; no scale-down while panicking (60 s); scale down at most
  halves per decision. Scale to zero after the guard's grace.
- `predictive`: provision now, ahead by the cold start, for a quantile (0.6) of the service-window
  rate forecast over the next `cold_start_s + decision_interval_s` (3 min lookback, lifted when the
  last 2 min run above it), plus headroom.
- `hybrid`: a predictive floor plus a reactive correction when the queue holds more than the ready
  fleet can drain within `max_queue_s`; the added replicas are held for one cold start.
- `slo` (the default, autoscale/_slo.py): the hybrid need under an error-budget guard, the HPA rule as a
  floor on bursty traffic, the peak held after a burn, one replica kept warm when waking costs the budget.
Defaults were chosen once for all traces by cross-validation (predictive/hybrid) and by leave-one-trace-out
(slo; `bench/bench_replay.py`).
A *service-window rate* is the mean rate over `max_queue_s + step`: demand may wait `max_queue_s`,
so capacity needs to cover bursts only at that resolution.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
from typing import Any

from costplane.autoscale._decision import (
    SEASON_LEVEL_S,
    AutoscaleConfig,
    Decision,
    Observation,
    replicas_for_rate,
    service_window_steps,
)
from costplane.autoscale._forecaster import default_forecaster, window_rates
from costplane.autoscale._guard import Policy, guarded
from costplane.autoscale._slo import slo
from costplane.core.errors import InputError

HPA_SCALE_UP_PODS = 4        # HPA default scale-up policy: +4 pods or +100 % per 15 s, whichever is more
HPA_SCALE_UP_PERCENT = 100.0
KNATIVE_MAX_SCALE_DOWN_RATE = 2.0


def static_peak(obs: Observation, state: Any, cfg: AutoscaleConfig) -> tuple[Decision, Any]:
    """Fixed fleet for the peak: `cfg.static_replicas`, or the peak service-window rate seen so far."""
    if cfg.static_replicas is not None:
        n = cfg.static_replicas
        why = f"static fleet of {n} for the trace peak"
    else:
        rates = window_rates(obs.demand, service_window_steps(cfg, obs.step_s)) / obs.step_s
        peak = float(rates.max()) if rates.size else 0.0
        n = max(replicas_for_rate(peak, cfg.service.capacity_per_replica), state or 0)
        why = f"peak {peak:.2f}/s seen so far"
    return Decision(obs.current_replicas, n, (why,)), n


def hpa(obs: Observation, state: Any, cfg: AutoscaleConfig) -> tuple[Decision, Any]:
    """Kubernetes HPA on demand per replica vs. target = target_utilisation x capacity_per_replica."""
    target = cfg.target_utilisation * cfg.service.capacity_per_replica
    rate = obs.recent_rate(cfg.hpa_metric_window_s)
    current = obs.current_replicas
    if current == 0:
        rec = replicas_for_rate(rate, target)
        why = f"from zero: {rate:.2f}/s at target {target:.2f}/s"
    else:
        ratio = rate / (current * target)
        if abs(ratio - 1.0) <= cfg.hpa_tolerance:
            rec, why = current, f"ratio {ratio:.2f} within tolerance"
        else:
            rec = int(math.ceil(current * ratio - 1e-9))
            why = f"ratio {ratio:.2f}: ceil({current} x {ratio:.2f})"
        limit = max(current + HPA_SCALE_UP_PODS, int(current * (1 + HPA_SCALE_UP_PERCENT / 100)))
        if rec > limit:
            rec, why = limit, why + f"; scale-up limited to {limit}"
    history = tuple((t, r) for t, r in (state or ()) if obs.now_s - t < cfg.hpa_downscale_window_s)
    history = (*history, (obs.now_s, rec))
    desired = max(r for _, r in history) if rec < current else rec
    if desired != rec:
        why += f"; stabilised at {desired} (max of last {cfg.hpa_downscale_window_s:g} s)"
    return Decision(current, desired, (why,)), history


def knative(obs: Observation, state: Any, cfg: AutoscaleConfig) -> tuple[Decision, Any]:
    """Knative KPA: stable/panic windows on demand vs. target per replica."""
    target = cfg.target_utilisation * cfg.service.capacity_per_replica
    stable = replicas_for_rate(obs.recent_rate(cfg.knative_stable_window_s), target)
    panic = replicas_for_rate(obs.recent_rate(cfg.knative_panic_window_s), target)
    current = obs.current_replicas
    panic_since, panic_peak = state or (None, 0)
    if panic >= cfg.knative_panic_threshold * max(obs.ready_replicas, 1) and panic > current:
        panic_since = obs.now_s if panic_since is None else panic_since
    elif panic_since is not None and obs.now_s - panic_since >= cfg.knative_stable_window_s:
        panic_since, panic_peak = None, 0
    if panic_since is not None:
        panic_peak = max(panic_peak, panic, current)
        desired, why = panic_peak, f"panic: {panic} wanted by the {cfg.knative_panic_window_s:g} s window"
    else:
        desired = max(stable, int(math.ceil(current / KNATIVE_MAX_SCALE_DOWN_RATE)))
        why = f"stable: {stable} for the {cfg.knative_stable_window_s:g} s window"
    return Decision(current, desired, (why,)), (panic_since, panic_peak)


def _forecast_need(obs: Observation, cfg: AutoscaleConfig, quantile: float, headroom: float) -> tuple[int, float]:
    """Replicas for the `quantile` service-window rate over cold start + one decision interval, plus headroom."""
    step = obs.step_s
    w = service_window_steps(cfg, step)
    h = max(1, int(math.ceil((cfg.service.cold_start_s + cfg.decision_interval_s) / step)))
    lookback = max(w, int(cfg.predictive_lookback_s / step))
    season = int(cfg.season_s / step) if cfg.season_s else None
    level = max(1, int(cfg.predictive_level_s / step))
    season_level = max(1, int(round(SEASON_LEVEL_S / step)))
    factory = cfg.forecaster or (lambda w_, lb_, s_: default_forecaster(w_, lb_, s_, level_steps=level,
                                                                        season_level_steps=season_level))
    need_steps = max(lookback, level) + w + ((season + max(h + w, season_level)) if season else 0)
    fc = factory(w, lookback, season).fit(obs.demand[-need_steps:]).predict(h, level=(200 * quantile - 100,))
    rate = float(fc.quantile(quantile).max()) / step * (1 + headroom)
    return replicas_for_rate(rate, cfg.service.capacity_per_replica), rate


def predictive(obs: Observation, state: Any, cfg: AutoscaleConfig) -> tuple[Decision, Any]:
    """Forecast quantile of the next cold start + interval, provisioned now so it is ready in time."""
    n, rate = _forecast_need(obs, cfg, cfg.predictive_quantile, cfg.predictive_headroom)
    why = f"q{cfg.predictive_quantile:g} forecast {rate:.2f}/s over the next cold start + interval"
    return Decision(obs.current_replicas, n, (why,)), state


def hybrid(obs: Observation, state: Any, cfg: AutoscaleConfig) -> tuple[Decision, Any]:
    """Predictive floor + reactive correction when the queue shows demand is about to be lost.

    The correction adds the replicas the last minute's rate and the queue say are missing and holds
    them for one cold start, so a burst does not start and stop replicas every decision.
    """
    floor, rate = _forecast_need(obs, cfg, cfg.hybrid_quantile, cfg.hybrid_headroom)
    spec = cfg.service
    cap = spec.capacity_per_replica
    # React only when the ready fleet cannot drain the queue within its budget (units will be dropped):
    # reacting to any queue at all chased per-second noise and cost 5-34 % more on the public traces.
    at_risk = obs.queue_units > 0 and obs.queue_units >= obs.ready_replicas * cap * spec.max_queue_s
    # A shortfall sustained over the stable window (not one noisy window: a replica started for that
    # arrives a cold start later, after the burst) plus what the queue needs drained in its budget.
    burst = obs.recent_rate(cfg.knative_stable_window_s)
    drain = obs.queue_units / max(spec.max_queue_s, obs.step_s)
    short = burst + drain - obs.current_replicas * cap if at_risk else 0.0  # starting ones count
    hold_until, held = state or (-1.0, 0)
    reactive = obs.current_replicas + replicas_for_rate(short * (1 + cfg.predictive_headroom), cap) if short > 0 else 0
    if reactive > floor:
        hold_until, held = obs.now_s + spec.cold_start_s, max(reactive, held if obs.now_s < hold_until else 0)
    keep = held if obs.now_s < hold_until else 0
    desired = max(floor, keep)
    why = (f"floor {floor} (q{cfg.hybrid_quantile:g} {rate:.2f}/s); {burst:.2f}/s now + queue "
           f"{obs.queue_units:.1f} vs {obs.current_replicas} up: hold {keep}")
    return Decision(obs.current_replicas, desired, (why,)), (hold_until, keep)


RAW_POLICIES: dict[str, Policy] = {
    "static-peak": static_peak,
    "hpa": hpa,
    "knative": knative,
    "predictive": predictive,
    "hybrid": hybrid,
    "slo": slo,
}
POLICIES: dict[str, Policy] = {name: guarded(p) for name, p in RAW_POLICIES.items()}
# What `replay`, the controller, the API and serve-plan run without a policy (the one place it is named):
# the SLO-first policy; out of sample it meets the issue-17 bar on more held-out pairs than any fixed policy
# (BENCHMARKS.md "Inference replay").
DEFAULT_POLICY = "slo"


def _is_policy(obj: object) -> bool:
    """A Python function (not a builtin such as os.system, not a class or a dict) callable with 3 arguments."""
    if not (inspect.isfunction(obj) or isinstance(obj, functools.partial)):
        return False
    try:
        inspect.signature(obj).bind(None, None, None)
    except (TypeError, ValueError):
        return False
    return True


def load_policy(name: str) -> Policy:
    """A built-in policy by CLI name, or a user policy `"module:function"` (same signature, same guards)."""
    if name in POLICIES:
        return POLICIES[name]
    if ":" in name:
        module_name, _, func = name.partition(":")
        try:
            policy = getattr(importlib.import_module(module_name), func)
        except Exception as exc:  # ImportError, AttributeError, ValueError (`:`), or the module's own failure
            raise InputError(f"cannot load policy {name!r} ({exc})",
                             fix="pass module:function importable from this Python") from None
        if not _is_policy(policy):
            raise InputError(f"{name!r} is not a policy: a policy is a Python function (observation, state, config)",
                             fix="pass module:function where function(obs, state, cfg) returns (decision, state)")
        return guarded(policy)
    raise InputError(f"unknown policy {name!r}", fix=f"use one of {', '.join(POLICIES)} or module:function")
