"""The `slo` policy: cost-minimal replicas under "share of demand served within max_queue_s >= slo_served".

One decision, every `decision_interval_s`, from the Observation alone (state is JSON: lists and floats):
1. Forecast: the `slo_quantile` of the service-window rate over the recent lookback (the predictive
   policy's forecaster, lifted by a rising recent level) and, when the history holds a full day or
   week before the horizon, the same window one season ago rescaled by today's level over the past
   hour (mean over the seasons available; ratio clipped to [0.5, 2]).
2. Burst: the rate of the last `slo_burst_s` plus what the queue needs to drain within its budget,
   extrapolated over the cold start by the rate's acceleration (last `slo_burst_s` vs the
   `slo_burst_s` before it); demand that outruns the forecast is chased at once.
3. Error budget (an SRE burn-rate alert on the SLO): every decision estimates the units at risk:
   the queue beyond what the ready fleet drains within `max_queue_s` (with no queue, demand above
   ready capacity in the last interval). Over a short (`slo_fast_window_s`) and a long
   (`slo_window_s`) window it compares at-risk / demand with the budget 1 - slo_served: when the
   short window burns faster than the budget allows, the headroom rises by `slo_headroom_step`
   (up to `slo_headroom_max`) and the scale-down hold doubles (up to `slo_hold_max_s`); when the
   long window has spent under a tenth of its budget, both relax back with half-life `slo_relax_s`.
4. Scale up at once; scale down only to the largest need of the last hold (slow down, fast up).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from costplane.autoscale._decision import SEASON_LEVEL_S, AutoscaleConfig, Decision, Observation, replicas_for_rate
from costplane.autoscale._forecaster import window_rates

SEASON_RATIO = (0.5, 2.0)


def _steps(seconds: float, step: float) -> int:
    return max(1, int(round(seconds / step)))


def _seasonal_rate(y: np.ndarray, step: float, h: int, w: int, seasons_s: tuple[float, ...]) -> float:
    """Peak service-window rate over the next h steps one season ago, rescaled to today's level (0: no season)."""
    level = _steps(SEASON_LEVEL_S, step)
    now_level = float(y[-level:].mean()) if y.size else 0.0
    preds = []
    for season_s in seasons_s:
        s = _steps(season_s, step)
        if y.size < s + level or y.size - s + h + w > y.size:
            continue
        then = y[y.size - s: y.size - s + h + w]
        past_level = float(y[y.size - s - level: y.size - s].mean())
        ratio = 1.0 if past_level <= 0 else min(SEASON_RATIO[1], max(SEASON_RATIO[0], now_level / past_level))
        preds.append(float(window_rates(then, w).max(initial=0.0)) * ratio)
    return float(np.mean(preds)) / step if preds else 0.0


def _rise_forecast(y: np.ndarray, step: float, w: int, horizon_s: float, cfg: AutoscaleConfig, p: float) -> float:
    """Level now + the p-quantile of (peak service-window rate within the next horizon - level then)."""
    h = max(1, int(math.ceil(horizon_s / step)))
    lv = _steps(cfg.predictive_level_s, step)
    look = _steps(cfg.slo_lookback_s, step)
    tail = y[-(look + h + max(lv, w)):]
    if tail.size == 0:
        return 0.0
    level_now = float(tail[-lv:].mean())
    if tail.size < max(lv, w) + h + 1:
        return max(level_now, float(window_rates(tail, w).max())) / step
    levels = window_rates(tail, lv)           # levels[k] ends at tail index k + lv - 1
    rates = window_rates(tail, w)             # rates[k] ends at tail index k + w - 1
    # peak of the rates ending in (j, j + h] for each end index j with a full horizon after it
    from numpy.lib.stride_tricks import sliding_window_view

    ends = np.arange(max(lv, w) - 1, tail.size - h)
    peaks = sliding_window_view(rates, h).max(axis=1)   # peaks[k] = max rates[k .. k+h-1]
    fut = peaks[ends + 1 - (w - 1)]
    rise = fut - levels[ends - (lv - 1)]
    q = float(np.quantile(rise, p)) if rise.size else 0.0
    return max(0.0, level_now + q) / step


def _burst_rate(obs: Observation, cfg: AutoscaleConfig, horizon_s: float) -> float:
    """Recent rate plus queue drain, extrapolated over the horizon when the rate accelerates."""
    step = obs.step_s
    b = _steps(cfg.slo_burst_s, step)
    y = obs.demand
    now = float(y[-b:].sum()) / (b * step) if y.size else 0.0
    before = float(y[-2 * b:-b].sum()) / (b * step) if y.size >= 2 * b else now
    slope = max(0.0, now - before) / (b * step)  # units/s per second
    drain = obs.queue_units / max(cfg.service.max_queue_s, cfg.decision_interval_s, step)
    return now + drain + slope * horizon_s * cfg.slo_accel_weight


def _at_risk(obs: Observation, cfg: AutoscaleConfig) -> float:
    """Units the ready fleet will not serve within the queue budget (an estimate from what is visible)."""
    cap = cfg.service.capacity_per_replica
    if cfg.service.max_queue_s > 0:
        return max(0.0, obs.queue_units - obs.ready_replicas * cap * cfg.service.max_queue_s)
    n = _steps(cfg.decision_interval_s, obs.step_s)
    tail = obs.demand[-n:]
    return float(np.maximum(0.0, tail - obs.ready_replicas * cap * obs.step_s).sum())


def _burn(log: list, now: float, window_s: float, budget: float) -> float:
    demand = sum(d for t, d, _ in log if now - t < window_s)
    risk = sum(r for t, _, r in log if now - t < window_s)
    if demand <= 0:
        return 0.0 if risk <= 0 else math.inf
    return risk / demand / budget


def slo(obs: Observation, state: Any, cfg: AutoscaleConfig) -> tuple[Decision, Any]:
    """Forecast quantile + burst chase, raised by an error-budget guard; up at once, down after a hold."""
    spec = cfg.service
    step = obs.step_s
    st = dict(state) if isinstance(state, dict) else {}
    headroom = float(st.get("headroom", 0.0))
    hold_s = float(st.get("hold_s", cfg.slo_hold_s))
    log = [e for e in st.get("log", []) if obs.now_s - e[0] < cfg.slo_window_s]
    needs = [e for e in st.get("needs", []) if obs.now_s - e[0] < hold_s]
    last = st.get("last")

    # 3. error budget: what the last interval put at risk, against demand seen since the last decision
    n_new = _steps(obs.now_s - last, step) if last is not None else _steps(cfg.decision_interval_s, step)
    arrived = float(obs.demand[-n_new:].sum()) if obs.demand.size else 0.0
    risk = _at_risk(obs, cfg)
    log.append([obs.now_s, arrived, risk])
    budget = max(1e-6, 1.0 - cfg.slo_served)
    fast = _burn(log, obs.now_s, cfg.slo_fast_window_s, budget)
    slow = _burn(log, obs.now_s, cfg.slo_window_s, budget)
    tighten = float(st.get("tighten", 0.0))  # the quantile's tail shrinks by half per step
    if risk > 0 and fast >= cfg.slo_burn_alert:
        headroom = min(cfg.slo_headroom_max, headroom + cfg.slo_headroom_step)
        hold_s = min(cfg.slo_hold_max_s, 2 * hold_s)
        tighten = min(4.0, tighten + 1.0)
    elif slow < 0.1:
        decay = 0.5 ** (cfg.decision_interval_s / cfg.slo_relax_s)
        headroom *= decay
        hold_s = max(cfg.slo_hold_s, hold_s * decay)
        tighten *= decay
    st["tighten"] = tighten

    # 1. forecast: today's level plus the p-quantile of how far the service-window rate rose above the
    # level within one cold start + interval, over the lookback (burst-aware), and the seasons
    w = 1 + int(math.floor(spec.max_queue_s / step + 1e-9))
    horizon_s = spec.cold_start_s + cfg.decision_interval_s
    y = obs.demand
    p = 1.0 - (1.0 - cfg.slo_quantile) * 0.5 ** float(st.get("tighten", 0.0))
    recent = _rise_forecast(y, step, w, horizon_s, cfg, p)
    h = max(1, int(math.ceil(horizon_s / step)))
    seasonal = _seasonal_rate(y, step, h, w, cfg.slo_seasons_s)
    # 2. burst chase, only on evidence that the fleet falls short (units at risk): chasing every noisy
    # window would pay for the noise
    forecast = max(recent, seasonal)
    rate = forecast * (1.0 + cfg.slo_headroom + headroom)
    raw = replicas_for_rate(rate, spec.capacity_per_replica)
    burst = _burst_rate(obs, cfg, horizon_s) if risk > 0 else 0.0
    if burst > 0:
        chase = replicas_for_rate(burst * (1.0 + headroom), spec.capacity_per_replica)
        raw = max(raw, chase)

    # 4. up at once, down only to the largest need within the hold
    needs.append([obs.now_s, raw])
    desired = max(n for _, n in needs)
    why = (f"need {raw}: {rate:.2f}/s (level + q{p:.3g} rise {recent:.2f}, season {seasonal:.2f}), burst "
           f"{burst:.2f}, headroom {cfg.slo_headroom + headroom:.2f}; burn {min(fast, 1e6):.2f} fast / "
           f"{min(slow, 1e6):.2f} slow; hold {hold_s:g} s -> {desired}")
    new_state = {"headroom": headroom, "hold_s": hold_s, "tighten": tighten, "log": log, "needs": needs, "last": obs.now_s}
    return Decision(obs.current_replicas, desired, (why,)), new_state
