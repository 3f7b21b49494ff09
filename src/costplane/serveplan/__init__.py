"""Inference device choice (pure): which GPU, replica size and purchase serves a trace at its SLO for least.

`prepare` resolves a profile's candidates against a catalog (memory fit, offers, specs to replay);
an adapter replays each through the default autoscaling policy (`costplane.replay.serve_plan`);
`plan_from_replays` prices every option (on demand, spot, mixed), picks the choice and the frontier.
No I/O here but reading the profile file through `core.files`.
"""

from costplane.serveplan._plan import (
    FLAGSHIP_GPUS_NEWEST_FIRST,
    CandidateSetup,
    ReplayOutcome,
    ServeOption,
    ServePlan,
    plan_from_replays,
    prepare,
    require_choice,
    service_spec,
    spec_for_option,
)
from costplane.serveplan._pricing import ReplicaOffer, on_demand_offer, spot_offer, spot_overhead
from costplane.serveplan._profile import Candidate, HostMinimum, ServePlanProfile, Slo, parse_profile, read_profile

__all__ = [
    "FLAGSHIP_GPUS_NEWEST_FIRST",
    "Candidate",
    "CandidateSetup",
    "HostMinimum",
    "ReplayOutcome",
    "ReplicaOffer",
    "ServeOption",
    "ServePlan",
    "ServePlanProfile",
    "Slo",
    "on_demand_offer",
    "parse_profile",
    "plan_from_replays",
    "prepare",
    "read_profile",
    "require_choice",
    "service_spec",
    "spec_for_option",
    "spot_offer",
    "spot_overhead",
]
