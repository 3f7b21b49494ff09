"""The controller's decide function for inference services: the very autoscaling policies replay uses.

It turns stored demand samples (rate per second at sample times) into the policy's Observation
(demand units per step, oldest first), keeps each service's policy state between cycles, and returns
the policy's desired replicas with its reasons.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from costplane.controller._loop import ControlledService, Observation, Proposal

DEFAULT_STEP_S = 60.0  # when a service has fewer than two samples, assume one-minute scrapes


class AutoscaleDecide:
    """Callable `(service, observation) -> Proposal` backed by costplane.autoscale.POLICIES."""

    def __init__(self) -> None:
        self._state: dict[str, Any] = {}
        self._configs: dict[str, Any] = {}

    def _config(self, service: ControlledService):
        from costplane.autoscale import AutoscaleConfig, parse_service_spec

        if service.name not in self._configs:
            spec = parse_service_spec({"name": service.name, **service.spec}, f"service {service.name}")
            static = spec.max_replicas if service.policy == "static-peak" else None
            self._configs[service.name] = AutoscaleConfig(spec, static_replicas=static)
        return self._configs[service.name]

    def __call__(self, service: ControlledService, obs: Observation) -> Proposal:
        from costplane.autoscale import Observation as PolicyObservation
        from costplane.autoscale import load_policy

        policy = load_policy(service.policy)
        cfg = self._config(service)
        ts = np.asarray(obs.demand_ts_s, dtype=float)
        rate = np.asarray(obs.demand_per_s, dtype=float)
        step_s = float(np.median(np.diff(ts))) if ts.size >= 2 else DEFAULT_STEP_S
        current = obs.current_replicas if obs.current_replicas is not None else cfg.service.floor_replicas
        policy_obs = PolicyObservation(now_s=obs.now_s, step_s=step_s, demand=rate * step_s,
                                       ready_replicas=current, starting_replicas=0)
        decision, self._state[service.name] = policy(policy_obs, self._state.get(service.name), cfg)
        return Proposal(int(decision.desired_replicas), tuple(decision.reasons), _median_forecast(policy_obs, cfg))


def _median_forecast(obs, cfg) -> float | None:
    """Median demand rate (units/s) the built-in forecaster expects over the next cold start + interval,
    stored beside the decision so forecast-vs-actual can be checked later."""
    from costplane.autoscale._policies import _forecast_need

    if obs.demand.size == 0:
        return None
    _, rate = _forecast_need(obs, cfg, 0.5, 0.0)
    return round(rate, 6)
