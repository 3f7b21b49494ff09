"""Observation in, Decision out: the values every autoscaling policy reads and returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from costplane.autoscale._spec import ServiceSpec

SEASON_LEVEL_S = 3600.0  # level over which a past season is rescaled to today (forecast floor and slo policy)
DECISION_INTERVAL_S = 15.0  # Kubernetes HPA sync period; also Ray Serve's default look-back cadence order


def service_window_steps(cfg: AutoscaleConfig, step_s: float) -> int:
    """Steps of a service window (max_queue_s + one step): demand may wait that long, so capacity follows
    bursts only at that resolution."""
    return 1 + int(math.floor(cfg.service.max_queue_s / step_s + 1e-9))


def replicas_for_rate(rate_per_s: float, capacity_per_replica: float) -> int:
    """Whole replicas that serve `rate_per_s` (a hair of float noise does not buy a replica)."""
    if rate_per_s <= 0:
        return 0
    return int(math.ceil(rate_per_s / capacity_per_replica - 1e-9))


@dataclass(frozen=True)
class Observation:
    """What a policy may know at `now_s` (the only time it reads).

    `demand` holds demand units per step, oldest first, ending with the last complete step before now;
    the replay passes a view of its trace, the live controller a window of recent metrics.
    """

    now_s: float
    step_s: float
    demand: np.ndarray
    ready_replicas: int
    starting_replicas: int
    queue_units: float = 0.0

    @property
    def current_replicas(self) -> int:
        return self.ready_replicas + self.starting_replicas

    def recent_rate(self, window_s: float) -> float:
        """Mean demand units/s over the last `window_s` seconds (0 with no history)."""
        n = max(1, int(round(window_s / self.step_s)))
        tail = self.demand[-n:]
        return float(tail.sum()) / (n * self.step_s) if tail.size else 0.0

    def seconds_since_demand(self, horizon_s: float) -> float:
        """Seconds since the last step with demand, capped at `horizon_s` (0 with no history)."""
        n = max(1, int(round(horizon_s / self.step_s)))
        tail = self.demand[-n:]
        nz = np.flatnonzero(tail)
        if nz.size == 0:  # idle for all the history we have (none yet: not idle)
            return tail.size * self.step_s
        return (tail.size - 1 - int(nz[-1])) * self.step_s


@dataclass(frozen=True)
class Decision:
    """Desired replica count plus why; `kind` is derived from the contents (Karpenter's Command.Decision)."""

    current_replicas: int
    desired_replicas: int
    reasons: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return "noop" if self.desired_replicas == self.current_replicas else "scale"

    def with_desired(self, desired: int, reason: str) -> Decision:
        return Decision(self.current_replicas, desired, (*self.reasons, reason))


@dataclass(frozen=True)
class AutoscaleConfig:
    """A service spec plus the tunables of every built-in policy (units in the names)."""

    service: ServiceSpec
    decision_interval_s: float = DECISION_INTERVAL_S
    target_utilisation: float = 0.7          # HPA/Knative target: 70 % of a replica's capacity
    hpa_tolerance: float = 0.1               # HPA: no change while |metric/target - 1| <= 10 %
    hpa_metric_window_s: float = 30.0
    hpa_downscale_window_s: float = 300.0    # HPA scale-down stabilisation window
    knative_stable_window_s: float = 60.0
    knative_panic_window_s: float = 6.0
    knative_panic_threshold: float = 2.0     # 200 %
    # Chosen once for all traces by `bench/bench_replay.py --only cv` (BENCHMARKS.md "Inference replay"):
    # over quantile x lookback x level window, the cheapest mean cost ratio that serves >= 99.9 % on every
    # trace and spec where any setting does (azure-code: none). The queue absorbs per-second noise, so the
    # 60th percentile of the service-window rate over 3 min, lifted when the last 2 min run above it, suffices.
    predictive_quantile: float = 0.6
    predictive_headroom: float = 0.0
    predictive_lookback_s: float = 180.0     # shared by predictive and hybrid
    predictive_level_s: float = 120.0        # recent window whose mean, when above the lookback's, lifts the forecast
    hybrid_quantile: float = 0.6
    hybrid_headroom: float = 0.0
    season_s: float = 86_400.0
    static_replicas: int | None = None       # static-peak: set from the trace by the replay
    scale_to_zero_delay_s: float = 60.0
    upscale_delay_s: float = 0.0
    downscale_delay_s: float = 0.0
    warmup_s: float = 120.0                  # no down-scaling before this much demand history
    # slo (autoscale/_slo.py), the default: bench/bench_replay.py's rule on all 7 traces x 4 specs (most pairs
    # meeting the issue-17 bar, then least mean cost); BENCHMARKS.md "Inference replay" has it out of sample.
    slo_served: float = 0.999                # the SLO: share of demand served within max_queue_s
    slo_burn_alert: float = 2.0              # fast-window burn rate (x the budget) that escalates the guard
    slo_burn_alert_slow: float = 0.5         # ... while the slow window burns at least this (multiwindow alert)
    slo_burst_ratio: float = 5.0             # busiest/mean rate of the burst window at which the HPA rule is a floor
    slo_burst_window_s: float = 600.0
    slo_burst_resolution_s: float = 10.0
    slo_hold_s: float = 0.0                  # the peak hold the guard relaxes back to
    slo_hold_start_s: float = 0.0            # the peak hold before any evidence
    slo_hold_burn_s: float = 600.0           # the peak hold right after a burn (it doubles on each further burn)
    slo_hold_max_s: float = 3600.0
    slo_window_s: float = 3600.0             # error-budget window (slow burn)
    slo_fast_window_s: float = 120.0         # fast-burn window
    slo_escalate: float = 1.25               # the guard's factor on the forecast multiplies by this on a fast burn
    slo_burn_severe: float = 50.0            # a fast burn this many times the budget rate ...
    slo_escalate_severe: float = 1.25        # ... multiplies the factor by this instead
    slo_warmup_headroom: float = 1.25        # extra factor on the forecast for a new service ...
    slo_warmup_s: float = 1800.0             # ... fading linearly to 1 over this much demand history
    slo_headroom_max: float = 4.0            # the guard's factor at most
    slo_slack: float = 0.5                   # slow-window burn below which the guard relaxes
    slo_spare_s: float = 86_400.0            # one spare replica above the forecast for this long after a burn
    slo_relax_s: float = 900.0               # half-life of the factor and the hold once there is slack
    slo_seasons_s: tuple[float, ...] = (86_400.0, 7 * 86_400.0)
    slo_calibrate_share: float = 1.0         # the fewest spares that would have lost at most this share of the
    slo_calibrate_half_life_s: float = 86_400.0  # budget, losses weighted with this half-life (0: no such spares)
    forecaster: Any = field(default=None, compare=False)  # Forecaster factory; None = the fast built-in one

    @property
    def history_s(self) -> float:
        """Demand history the policies need in an Observation (the live controller fetches this much):
        the longest season plus one hour of level and a cold start, or the lookback windows if longer."""
        season = max(self.slo_seasons_s, default=0.0)
        recent = max(self.predictive_lookback_s, self.slo_window_s, self.slo_hold_max_s, self.slo_burst_window_s,
                     self.hpa_downscale_window_s, self.knative_stable_window_s)
        return max(season + SEASON_LEVEL_S + self.service.cold_start_s + self.decision_interval_s, recent)
