"""The controller's decide function for inference services: the very autoscaling policies replay uses.

It turns the controller's Observation (demand units per step, queue, ready and starting replicas) into
the policy's Observation, runs the policy with the state the controller keeps (and persists) for the
service, and returns the policy's desired replicas with its reasons.
"""

from __future__ import annotations

from typing import Any

from costplane.controller._loop import ControlledService, Observation, Proposal


class AutoscaleDecide:
    """Callable `(service, observation, state) -> (Proposal, state)` backed by costplane.autoscale.

    `configs` and `policies` override, per service name, the config built from the spec and the policy
    named by `service.policy` (replay passes its own). `with_forecast` stores the median demand forecast
    beside each decision (the live loop does, so forecast-vs-actual can be checked; replay does not).
    """

    def __init__(self, configs: dict[str, Any] | None = None, policies: dict[str, Any] | None = None,
                 with_forecast: bool = True) -> None:
        self._configs: dict[str, Any] = dict(configs or {})
        self._policies: dict[str, Any] = dict(policies or {})
        self.with_forecast = with_forecast

    def config(self, service: ControlledService):
        from costplane.autoscale import AutoscaleConfig, parse_service_spec

        if service.name not in self._configs:
            spec = parse_service_spec({"name": service.name, **service.spec}, f"service {service.name}")
            static = spec.max_replicas if service.policy == "static-peak" else None
            self._configs[service.name] = AutoscaleConfig(spec, static_replicas=static)
        return self._configs[service.name]

    def _policy(self, service: ControlledService):
        if service.name not in self._policies:
            from costplane.autoscale import load_policy

            self._policies[service.name] = load_policy(service.policy)
        return self._policies[service.name]

    def __call__(self, service: ControlledService, obs: Observation, state: Any) -> tuple[Proposal, Any]:
        from costplane.autoscale import Observation as PolicyObservation

        cfg = self.config(service)
        current = obs.current_replicas if obs.current_replicas is not None else cfg.service.floor_replicas
        ready = current if obs.ready_replicas is None else min(obs.ready_replicas, current)
        policy_obs = PolicyObservation(obs.now_s, obs.step_s, obs.demand, ready, current - ready,
                                       0.0 if obs.queue_units is None else float(obs.queue_units))
        decision, state = self._policy(service)(policy_obs, state, cfg)
        forecast = _median_forecast(policy_obs, cfg) if self.with_forecast else None
        return Proposal(int(decision.desired_replicas), tuple(decision.reasons), forecast), state


def _median_forecast(obs, cfg) -> float | None:
    """Median demand rate (units/s) the built-in forecaster expects over the next cold start + interval,
    stored beside the decision so forecast-vs-actual can be checked later."""
    from costplane.autoscale._policies import _forecast_need

    if obs.demand.size == 0:
        return None
    _, rate = _forecast_need(obs, cfg, 0.5, 0.0)
    return round(rate, 6)
