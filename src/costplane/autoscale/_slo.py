"""The `slo` policy: replicas under "share of demand served within max_queue_s >= slo_served", then cost.

One decision, every `decision_interval_s`, from the Observation alone (state is JSON: lists and floats):
1. Forecast: the `slo_quantile` of the service-window rate (`slo_base` "predictive": the predictive
   policy's forecaster; "rise": level now + the quantile of how far the rate rose above the level within
   what this decision provisions, over `slo_lookback_s`) and, when the history holds a full day or week,
   the same window one season ago rescaled by today's level over the past hour (ratio in [0.5, 2]).
2. Error budget (an SRE burn-rate alert on the SLO): every decision estimates the units at risk (the
   queue beyond what the ready fleet, and starting replicas within the budget, drain in `max_queue_s`;
   demand per step above what the ready fleet serves in a step and the budget). When the fast window
   (`slo_fast_window_s`) burns at >= `slo_burn_alert` x the budget rate, the guard's factor on the
   forecast multiplies by `slo_escalate` (up to `slo_headroom_max`), the hold grows (x2, at least
   `slo_hold_burn_s`) and the quantile's tail halves `slo_tighten` times; at most once per cold start +
   fast window. When the slow window (`slo_window_s`) burns under `slo_slack`, all relax back with
   half-life `slo_relax_s`.
3. Queue chase: when units are at risk or the queue grew beyond what the fleet drains, the recent rate
   plus the queue drain (extrapolated by the rate's acceleration) is asked for at once.
4. Scale up at once; scale down only to the largest need of the hold (at least one cold start).
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


def _rise_forecast(y: np.ndarray, step: float, w: int, cfg: AutoscaleConfig, p: float) -> float:
    """Level now + the p-quantile of (peak service-window rate in what the decision now provisions - level then).

    A replica asked for now is ready a cold start later, and the next decision asks again one interval
    after that, so this decision answers for the service windows ending within (cold start, cold start +
    interval] from now; the hold keeps what earlier decisions asked for until then.
    """
    skip = int(math.floor(cfg.service.cold_start_s / step + 1e-9))
    h = max(skip + 1, int(math.ceil((cfg.service.cold_start_s + cfg.decision_interval_s) / step - 1e-9)))
    lv = _steps(cfg.predictive_level_s, step)
    look = _steps(cfg.slo_lookback_s, step)
    tail = y[-(look + h + max(lv, w)):]
    if tail.size == 0:
        return 0.0
    level_now = float(tail[-lv:].mean())
    if tail.size < max(lv, w) + h + 1:
        # a short history: its busiest service window (or all of it), not one step's count
        return max(level_now, float(window_rates(tail, min(w, tail.size)).max())) / step
    from numpy.lib.stride_tricks import sliding_window_view

    levels = window_rates(tail, lv)           # levels[k] ends at tail index k + lv - 1
    rates = window_rates(tail, w)             # rates[k] ends at tail index k + w - 1
    ends = np.arange(max(lv, w) - 1, tail.size - h)
    peaks = sliding_window_view(rates, h - skip).max(axis=1)   # peaks[k] = max rates[k .. k+h-skip-1]
    fut = peaks[ends + 1 + skip - (w - 1)]    # rates ending at j + skip + 1 .. j + h
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
    """Units the fleet will not serve within the queue budget (an estimate from what is visible).

    The larger of two views: the queue beyond what the fleet drains within `max_queue_s` (the ready
    replicas, and a starting one for what is left of the budget after its cold start, nothing when the
    cold start is longer), and, per step since the last decision, demand above what the ready fleet
    serves in that step and the queue budget (a queue budget shorter than a step leaves no queue to see).
    """
    spec = cfg.service
    cap = spec.capacity_per_replica
    drain = (obs.ready_replicas * spec.max_queue_s
             + obs.starting_replicas * max(0.0, spec.max_queue_s - spec.cold_start_s)) * cap
    queued = max(0.0, obs.queue_units - drain)
    n = _steps(cfg.decision_interval_s, obs.step_s)
    tail = obs.demand[-n:]
    per_step = obs.ready_replicas * cap * (obs.step_s + spec.max_queue_s)
    return max(queued, float(np.maximum(0.0, tail - per_step).sum()))


def _burn(log: list, now: float, window_s: float, budget: float) -> float:
    demand = sum(d for t, d, _ in log if now - t < window_s)
    risk = sum(r for t, _, r in log if now - t < window_s)
    if demand <= 0:
        return 0.0 if risk <= 0 else math.inf
    return risk / demand / budget


def _guard(st: dict, obs: Observation, cfg: AutoscaleConfig, risk: float, arrived: float) -> tuple[dict, float, float]:
    """The error-budget guard: escalate on a fast burn (multiplicatively), relax slowly on slack.

    Returns the new guard state and the fast and slow burn rates (multiples of the budget rate).
    """
    now = obs.now_s
    log = [e for e in st.get("log", []) if now - e[0] < cfg.slo_window_s]
    log.append([now, arrived, risk])
    budget = max(1e-6, 1.0 - cfg.slo_served)
    fast = _burn(log, now, cfg.slo_fast_window_s, budget)
    slow = _burn(log, now, cfg.slo_window_s, budget)
    factor = float(st.get("factor", 1.0))
    hold_s = float(st.get("hold_s", cfg.slo_hold_start_s))
    tighten = float(st.get("tighten", 0.0))
    escalated = st.get("escalated")
    # one escalation per cold start + fast window at most: what it buys shows a cold start later, and the
    # fast window still holds the burn that caused it until then
    cooled = escalated is None or now - escalated >= cfg.service.cold_start_s + cfg.slo_fast_window_s
    if risk > 0 and fast >= cfg.slo_burn_alert and cooled:
        factor = min(cfg.slo_headroom_max, factor * cfg.slo_escalate)
        hold_s = min(cfg.slo_hold_max_s, max(2 * hold_s, cfg.slo_hold_burn_s))
        tighten = min(4.0, tighten + cfg.slo_tighten)
        escalated = now
    elif slow < cfg.slo_slack and (escalated is None or now - escalated >= cfg.slo_fast_window_s):
        decay = 0.5 ** (cfg.decision_interval_s / cfg.slo_relax_s)
        factor = 1.0 + (factor - 1.0) * decay
        hold_s = cfg.slo_hold_s + (hold_s - cfg.slo_hold_s) * decay
        tighten *= decay
    return {"factor": factor, "hold_s": hold_s, "tighten": tighten, "escalated": escalated, "log": log}, fast, slow


def slo(obs: Observation, state: Any, cfg: AutoscaleConfig) -> tuple[Decision, Any]:
    """Forecast quantile x the guard's factor, plus a queue chase; up at once, down after the guard's hold."""
    spec = cfg.service
    step = obs.step_s
    cap = spec.capacity_per_replica
    st = dict(state) if isinstance(state, dict) else {}
    last = st.get("last")

    # 3. error budget: what is at risk now, against demand seen since the last decision
    n_new = _steps(obs.now_s - last, step) if last is not None else _steps(cfg.decision_interval_s, step)
    arrived = float(obs.demand[-n_new:].sum()) if obs.demand.size else 0.0
    risk = _at_risk(obs, cfg)
    guard, fast, slow = _guard(st.get("guard") or {}, obs, cfg, risk, arrived)
    factor, hold_s = guard["factor"], guard["hold_s"]

    # 1. forecast: today's level plus the p-quantile of how far the service-window rate rose above the
    # level within one cold start + interval over the lookback (burst-aware), and the seasons
    w = 1 + int(math.floor(spec.max_queue_s / step + 1e-9))
    horizon_s = spec.cold_start_s + cfg.decision_interval_s
    y = obs.demand
    p = 1.0 - (1.0 - cfg.slo_quantile) * 0.5 ** guard["tighten"]
    if cfg.slo_base == "rise":
        recent = _rise_forecast(y, step, w, cfg, p)
    else:  # the predictive forecaster (3 min lookback, lifted by the recent level) at quantile p
        from costplane.autoscale._policies import _forecast_need

        recent = _forecast_need(obs, cfg, p, 0.0)[1] if y.size else 0.0
    h = max(1, int(math.ceil(horizon_s / step)))
    seasonal = _seasonal_rate(y, step, h, w, cfg.slo_seasons_s)
    forecast = max(recent, seasonal)
    rate = forecast * (1.0 + cfg.slo_headroom) * factor
    raw = replicas_for_rate(rate, cap)
    # 2. queue chase: when the queue holds more than the fleet (starting replicas included) drains in its
    # budget, or grew since the last decision, add what the recent rate and the queue drain need, at once
    queue_before = float(st.get("queue", 0.0))
    burst = 0.0
    if risk > 0 or (obs.queue_units > queue_before and obs.queue_units > obs.current_replicas * cap * spec.max_queue_s):
        burst = _burst_rate(obs, cfg, horizon_s)
        raw = max(raw, replicas_for_rate(burst, cap))

    # 4. up at once, down only to the largest need within the hold
    keep_s = max(hold_s, spec.cold_start_s)  # what earlier decisions asked for is needed until it is ready
    needs = [e for e in st.get("needs", []) if obs.now_s - e[0] < keep_s]
    needs.append([obs.now_s, raw])
    desired = max(n for _, n in needs)
    why = (f"need {raw}: {rate:.2f}/s (level + q{p:.3g} rise {recent:.2f}, season {seasonal:.2f}, x{factor:.2f}), "
           f"chase {burst:.2f}/s; burn {min(fast, 1e6):.2f} fast / {min(slow, 1e6):.2f} slow; "
           f"hold {hold_s:.0f} s -> {desired}")
    new_state = {"guard": guard, "needs": needs, "last": obs.now_s, "queue": obs.queue_units}
    return Decision(obs.current_replicas, desired, (why,)), new_state
