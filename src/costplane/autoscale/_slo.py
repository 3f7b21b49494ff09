"""The `slo` policy (the default): replicas under "share of demand served within max_queue_s >= slo_served", then cost.

Each decision takes the largest of these needs, from the Observation alone (state is JSON: lists and floats):
1. Forecast floor: the hybrid policy's need (a quantile of the service-window rate forecast over the next cold
   start + interval, plus its queue correction) and, once the history holds a full day or week, the same window
   one season ago rescaled by today's level over the past hour (ratio in [0.5, 2]); times the guard's factor,
   and, for a new service, `slo_warmup_headroom` fading linearly to 1 over `slo_warmup_s` of demand history.
2. Burst floor: when the last `slo_burst_window_s` is bursty (its busiest `slo_burst_resolution_s` rate is at
   least `slo_burst_ratio` x its mean rate), at least what the HPA rule holds (target-utilisation headroom,
   scale-down stabilisation). Bursts larger than any before them come without warning; only standing
   headroom serves them, and a forecast of the recent past does not keep any.
3. Error budget (SRE multiwindow burn-rate alerts on the SLO): every decision estimates the units lost since
   the last one (the queue beyond what the fleet drains within `max_queue_s`, and a fluid FIFO of the new
   steps against the ready fleet with the queue budget in whole steps, as the replay serves it). When the
   fast window (`slo_fast_window_s`) burns at >= `slo_burn_alert` x the budget rate while the slow window
   (`slo_window_s`) burns at >= `slo_burn_alert_slow` x (a lone small loss in a calm hour is not a trend),
   the factor multiplies by `slo_escalate` (`slo_escalate_severe` when the fast burn is >= `slo_burn_severe`;
   up to `slo_headroom_max`) and a peak hold starts (`slo_hold_burn_s`, doubling on each further burn up to
   `slo_hold_max_s`): at least the busiest service-window rate of the hold, times the factor. At most one
   escalation per cold start + fast window. When the slow window burns under `slo_slack`, both relax back
   with half-life `slo_relax_s` (the last percent of the factor snaps to 1). A burn also keeps one spare
   replica above the forecast for `slo_spare_s` (over-provisioning, as spare "pause pods" do for a cluster):
   on jumpy demand served by a few replicas the factor's rounding buys little, one replica a whole jump.
4. Calibrated spares: the fewest spare replicas (0-64) that would have kept the guard's loss estimate within
   `slo_calibrate_share` of the budget over the past (losses and demand weighted with half-life
   `slo_calibrate_half_life_s`), added to the need; the fleet is scored without the spares it holds, and
   not while the service is young or has no replica up. None when no count would have kept the budget.
5. Scale to zero: with `scale_to_zero`, one replica stays up through idle time while waking from zero would
   lose more than the slow window's budget has left.
Defaults: chosen by leave-one-trace-out over every shared trace (bench/bench_replay.py; BENCHMARKS.md).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from costplane.autoscale._decision import (
    SEASON_LEVEL_S,
    AutoscaleConfig,
    Decision,
    Observation,
    replicas_for_rate,
    service_window_steps,
)
from costplane.autoscale._forecaster import season_ago_rates, window_rates

RELAXED = 0.01  # the guard's factor counts as relaxed (1) within this of 1


def _steps(seconds: float, step: float) -> int:
    return max(1, int(round(seconds / step)))


def _seasonal_rate(y: np.ndarray, step: float, h: int, w: int, seasons_s: tuple[float, ...]) -> float:
    """Peak service-window rate over the next h steps one season ago, rescaled to today's level (0: no season);
    the mean over the seasons the history covers."""
    level = _steps(SEASON_LEVEL_S, step)
    preds = [rates.max() for rates in (season_ago_rates(y, _steps(s, step), h, w, level) for s in seasons_s)
             if rates.size]
    return float(np.mean(preds)) / step if preds else 0.0


def burstiness(obs: Observation, cfg: AutoscaleConfig) -> float:
    """Busiest `slo_burst_resolution_s` rate of the last `slo_burst_window_s` over its mean (1: flat or no data)."""
    tail = obs.demand[-_steps(cfg.slo_burst_window_s, obs.step_s):]
    r = _steps(cfg.slo_burst_resolution_s, obs.step_s)
    if tail.size < r or tail.sum() <= 0:
        return 1.0
    rates = window_rates(tail, r)
    return float(rates.max() / rates.mean())


def _starting_serves_s(cfg: AutoscaleConfig, starting_for_s: float) -> float:
    """Seconds of the queue budget a starting replica serves: what is left after the rest of its cold start."""
    spec = cfg.service
    return max(0.0, spec.max_queue_s - max(0.0, spec.cold_start_s - starting_for_s))


def queue_excess(obs: Observation, cfg: AutoscaleConfig, starting_for_s: float = 0.0) -> float:
    """Queued units beyond what the fleet drains within `max_queue_s`: the ready replicas all of it, the
    starting ones what is left of it after the rest of their cold start (`starting_for_s` of it has passed)."""
    spec = cfg.service
    drain = (obs.ready_replicas * spec.max_queue_s
             + obs.starting_replicas * _starting_serves_s(cfg, starting_for_s)) * spec.capacity_per_replica
    return max(0.0, obs.queue_units - drain)


def units_at_risk(obs: Observation, cfg: AutoscaleConfig, n_new: int, counted: float = 0.0,
                  starting_for_s: float = 0.0) -> float:
    """Units the fleet did not serve within the queue budget over the last `n_new` steps (an estimate).

    The larger of: the queue beyond what the fleet drains within `max_queue_s` (`queue_excess`), less the
    `counted` excess of the previous decision (queued units are counted once); and a fluid FIFO of the new
    steps against the ready fleet, its queue holding what the fleet clears within the budget in whole steps
    (a budget shorter than a step holds nothing: each step's excess is lost, as the replay's queue loses it).
    """
    spec = cfg.service
    cap = spec.capacity_per_replica
    queued = max(0.0, queue_excess(obs, cfg, starting_for_s) - counted)
    per_step = obs.ready_replicas * cap * obs.step_s
    # what waits may be served by the ready replicas within the budget, and by a starting one within what is
    # left of it after the rest of its cold start (whole steps: a budget shorter than a step holds nothing)
    starting_steps = math.floor(_starting_serves_s(cfg, starting_for_s) / obs.step_s + 1e-9)
    room = (per_step * math.floor(spec.max_queue_s / obs.step_s + 1e-9)
            + obs.starting_replicas * cap * obs.step_s * starting_steps)
    backlog = lost = 0.0
    for units in obs.demand[-n_new:].tolist():
        backlog = max(0.0, backlog + units - per_step)
        if backlog > room:
            lost, backlog = lost + backlog - room, room
    return max(queued, lost)


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
    escalated = st.get("escalated")
    # one escalation per cold start + fast window at most: what it buys shows a cold start later, and the
    # fast window still holds the burn that caused it until then
    cooled = escalated is None or now - escalated >= cfg.service.cold_start_s + cfg.slo_fast_window_s
    if risk > 0 and fast >= cfg.slo_burn_alert and slow >= cfg.slo_burn_alert_slow and cooled:
        step_up = cfg.slo_escalate_severe if fast >= cfg.slo_burn_severe else cfg.slo_escalate
        factor = min(cfg.slo_headroom_max, factor * step_up)
        hold_s = min(cfg.slo_hold_max_s, max(2 * hold_s, cfg.slo_hold_burn_s))
        escalated = now
    elif slow < cfg.slo_slack and (escalated is None or now - escalated >= cfg.slo_fast_window_s):
        decay = 0.5 ** (cfg.decision_interval_s / cfg.slo_relax_s)
        # the last percent snaps to 1: the need is ceil(forecast x factor), so a factor of 1 + 1e-6 (the tail of
        # an exponential decay) would keep a whole replica forever
        factor = 1.0 + (factor - 1.0) * decay if factor - 1.0 >= RELAXED else 1.0
        hold_s = cfg.slo_hold_s + (hold_s - cfg.slo_hold_s) * decay
    return {"factor": factor, "hold_s": hold_s, "escalated": escalated, "log": log}, fast, slow


SPARES = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)  # the spare-replica counts the calibration scores


def _calibrate(st: dict, obs: Observation, cfg: AutoscaleConfig, n_new: int, counted: float, starting_for: float,
               arrived: float) -> tuple[dict, int]:
    """The fewest spare replicas that would have kept the estimated losses within `slo_calibrate_share` of the
    budget over the past (exponentially weighted, half-life `slo_calibrate_half_life_s`): each decision scores
    the fleet without the spares it holds, plus each count of SPARES, on the steps since the last one."""
    half = cfg.slo_calibrate_half_life_s
    if half <= 0 or cfg.slo_calibrate_share <= 0:
        return {}, 0
    decay = 0.5 ** (cfg.decision_interval_s / half)
    lost = np.asarray(st.get("lost", np.zeros(len(SPARES))), dtype="float64") * decay
    if "seen" in st:
        seen = float(st["seen"]) * decay + arrived
    else:  # a first decision (a new service, a restarted controller): the demand in view, weighted by its age
        ages = np.arange(obs.demand.size - 1, -1, -1) * obs.step_s
        seen = float(np.dot(obs.demand, 0.5 ** (ages / half)))
    held = int(st.get("spares", 0))
    base = max(0, obs.ready_replicas - held)
    # a young service's losses are the warm-up headroom's business, a wake-up's from zero the keep-warm rule's
    scored = SPARES if obs.demand.size * obs.step_s >= cfg.slo_warmup_s and base > 0 else ()
    for j, k in enumerate(scored):
        r = units_at_risk(replace(obs, ready_replicas=base + k), cfg, n_new, counted, starting_for)
        if r <= 0:
            break
        lost[j] += r
    allowed = cfg.slo_calibrate_share * (1.0 - cfg.slo_served) * seen
    ok = np.flatnonzero(lost <= allowed)
    spares = SPARES[int(ok[0])] if ok.size else 0
    return {"lost": lost.tolist(), "seen": seen, "spares": spares}, spares


def _peak_rate(obs: Observation, cfg: AutoscaleConfig, hold_s: float) -> float:
    """The busiest service-window rate of the last `hold_s` (0 while no hold is on)."""
    w = service_window_steps(cfg, obs.step_s)
    if hold_s < obs.step_s or obs.demand.size < w:
        return 0.0
    tail = obs.demand[-max(w, int(hold_s / obs.step_s)):]
    return float(window_rates(tail, w).max()) / obs.step_s


def _keep_warm(obs: Observation, cfg: AutoscaleConfig, log: list) -> tuple[int, str]:
    """One replica kept up through idle time when waking from zero would spend more than the budget has left.

    Demand arriving at zero replicas waits a cold start; what the queue cannot hold for that long is lost:
    the active level (mean rate of the window's steps with demand) x (cold start - queue budget). The budget
    left is the SLO's share of the slow window's demand minus what the guard counted lost in it.
    """
    spec = cfg.service
    exposed_s = spec.cold_start_s - spec.max_queue_s
    if not spec.scale_to_zero or exposed_s <= 0:
        return 0, ""
    tail = obs.demand[-_steps(cfg.slo_window_s, obs.step_s):]
    active = tail[tail > 0]
    if active.size == 0:
        return 0, ""
    level = float(active.mean()) / obs.step_s
    wake_loss = level * exposed_s
    left = max(0.0, (1.0 - cfg.slo_served) * float(tail.sum()) - sum(r for _, _, r in log))
    if wake_loss <= left:
        return 0, ""
    return 1, f"; one kept warm: waking from zero would lose ~{wake_loss:.0f} units, the budget has {left:.0f} left"


def slo(obs: Observation, state: Any, cfg: AutoscaleConfig) -> tuple[Decision, Any]:
    """Forecast floor x the guard's factor, the HPA rule on bursty traffic, the peak held after a burn."""
    # the hybrid and HPA rules are policies of _policies, which imports this module to register `slo`
    from costplane.autoscale._policies import hpa, hybrid

    spec = cfg.service
    step = obs.step_s
    cap = spec.capacity_per_replica
    st = dict(state) if isinstance(state, dict) else {}
    last = st.get("last")

    # 3. error budget: what was lost since the last decision, against the demand that arrived meanwhile
    n_new = _steps(obs.now_s - last, step) if last is not None else _steps(cfg.decision_interval_s, step)
    arrived = float(obs.demand[-n_new:].sum()) if obs.demand.size else 0.0
    before = st.get("guard") or {}
    # starting replicas were first seen at `since` (a lower bound on how long they have been starting), and
    # the queue excess of the last decision was counted then: a wake-up from zero counted the same queued
    # units at every decision until the replica was up, as if it had just been asked for (15x the loss)
    since = None
    if obs.starting_replicas > 0:
        since = before.get("starting_since")
        since = obs.now_s if since is None else since
    starting_for = obs.now_s - since if since is not None else 0.0
    risk = units_at_risk(obs, cfg, n_new, float(before.get("queued", 0.0)), starting_for)
    guard, fast, slow = _guard(before, obs, cfg, risk, arrived)
    guard["queued"], guard["starting_since"] = queue_excess(obs, cfg, starting_for), since
    factor, hold_s = guard["factor"], guard["hold_s"]

    # 1. forecast floor (and the season), times the factor
    floor_decision, hybrid_state = hybrid(obs, st.get("hybrid"), cfg)
    h = max(1, int(math.ceil((spec.cold_start_s + cfg.decision_interval_s) / step)))
    seasonal = _seasonal_rate(obs.demand, step, h, service_window_steps(cfg, step), cfg.slo_seasons_s)
    forecast = max(floor_decision.desired_replicas, replicas_for_rate(seasonal, cap))
    # a new service starts cautious: a forecast from minutes of history misses more, and a short history's
    # error budget is small (the extra headroom fades linearly over `slo_warmup_s` of history)
    young = max(0.0, 1.0 - obs.demand.size * step / cfg.slo_warmup_s) if cfg.slo_warmup_s > 0 else 0.0
    warmup = 1.0 + (cfg.slo_warmup_headroom - 1.0) * young
    need = int(math.ceil(forecast * factor * warmup - 1e-9))
    # one spare replica for `slo_spare_s` after the last escalation (a burn)
    escalated = guard["escalated"]
    spare = 1 if forecast > 0 and escalated is not None and obs.now_s < escalated + cfg.slo_spare_s else 0
    need = max(need, forecast + spare)
    # 2. burst floor: the HPA rule's replicas while the recent traffic is bursty (its state runs always,
    # so its stabilisation window is warm when a burst starts)
    hpa_decision, hpa_state = hpa(obs, st.get("hpa"), cfg)
    ratio = burstiness(obs, cfg)
    bursty = ratio >= cfg.slo_burst_ratio
    if bursty:
        need = max(need, hpa_decision.desired_replicas)
    # 3. after a burn: the peak of the hold, times the factor
    peak = _peak_rate(obs, cfg, hold_s)
    need = max(need, replicas_for_rate(peak * factor, cap))
    # 4. the spares that would have kept the budget over the past day
    cal, spares = _calibrate(st.get("cal") or {}, obs, cfg, n_new, float(before.get("queued", 0.0)),
                             starting_for, arrived)
    need = need + spares if need > 0 else need
    # 5. scale to zero only when the budget can pay for the next wake-up
    warm, warm_why = _keep_warm(obs, cfg, guard["log"]) if need == 0 else (0, "")
    need = max(need, warm)
    spare_why = f" +{spare} spare until {escalated + cfg.slo_spare_s:.0f} s" if spare else ""
    why = (f"need {need}: forecast {forecast} x{factor:.2f}{spare_why}, season {seasonal:.2f}/s; burst ratio {ratio:.2f}"
           f"{f' -> hpa {hpa_decision.desired_replicas}' if bursty else ''}; peak {peak:.2f}/s held {hold_s:.0f} s; "
           f"burn {min(fast, 1e6):.2f} fast / {min(slow, 1e6):.2f} slow{warm_why}")
    why += f"; +{spares} calibrated spares" if spares else ""
    new_state = {"cal": cal, "guard": guard, "hybrid": hybrid_state, "hpa": hpa_state, "last": obs.now_s}
    return Decision(obs.current_replicas, need, (why,)), new_state
