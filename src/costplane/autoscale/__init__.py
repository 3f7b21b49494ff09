"""Autoscaling decisions (pure): service specs, one `decide(obs, state, cfg)` signature, guards, pool allocation.

Every policy in POLICIES is `decide(obs: Observation, state, cfg: AutoscaleConfig) -> (Decision, state)`,
already wrapped by `guarded` (bounds, scale-to-zero delay, up/down delays in seconds). The replay and
the live controller call these very function objects; time comes only from `obs.now_s`.
"""

from costplane.autoscale._allocate import ALLOCATION_RULES, allocate_pool
from costplane.autoscale._decision import AutoscaleConfig, Decision, Observation, replicas_for_rate
from costplane.autoscale._forecaster import Forecaster, QuantileForecast, RecentQuantileForecaster, default_forecaster
from costplane.autoscale._guard import GuardState, guarded
from costplane.autoscale._policies import DEFAULT_POLICY, POLICIES, RAW_POLICIES, load_policy
from costplane.autoscale._spec import ServiceSpec, parse_service_spec, read_service_spec

__all__ = [
    "ALLOCATION_RULES",
    "DEFAULT_POLICY",
    "POLICIES",
    "RAW_POLICIES",
    "AutoscaleConfig",
    "Decision",
    "Forecaster",
    "GuardState",
    "Observation",
    "QuantileForecast",
    "RecentQuantileForecaster",
    "ServiceSpec",
    "allocate_pool",
    "default_forecaster",
    "guarded",
    "load_policy",
    "parse_service_spec",
    "read_service_spec",
    "replicas_for_rate",
]
