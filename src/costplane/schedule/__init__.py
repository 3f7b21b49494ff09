"""Scheduling of GPU training and batch jobs: job model, GPU ledger and policies (pure: no I/O, no clock).

`POLICIES` maps the CLI's `--policy NAME` to a `decide(obs, state, cfg) -> (Decision, state)` function;
`costplane.replay.jobs` drives them over a trace with an event-driven simulator.
"""

from costplane.schedule._ledger import Ledger
from costplane.schedule._model import (
    MILLI_PER_GPU,
    PRIORITY_HIGH,
    PRIORITY_LOW,
    PRIORITY_NORMAL,
    QOS_PRIORITY,
    Decision,
    Job,
    JobSet,
    NodeOffer,
    NodeView,
    QueuedJob,
    Rejection,
    RunningJob,
    TeamQuota,
)
from costplane.schedule._policies import (
    ELASTIC_POLICIES,
    LAS_THRESHOLDS_GPU_S,
    POLICIES,
    Observation,
    Policy,
    SchedConfig,
    choose_offer,
    expected_spot_s,
    las_level,
)

__all__ = [
    "ELASTIC_POLICIES",
    "LAS_THRESHOLDS_GPU_S",
    "MILLI_PER_GPU",
    "POLICIES",
    "PRIORITY_HIGH",
    "PRIORITY_LOW",
    "PRIORITY_NORMAL",
    "QOS_PRIORITY",
    "Decision",
    "Job",
    "JobSet",
    "Ledger",
    "NodeOffer",
    "NodeView",
    "Observation",
    "Policy",
    "QueuedJob",
    "Rejection",
    "RunningJob",
    "SchedConfig",
    "TeamQuota",
    "choose_offer",
    "expected_spot_s",
    "las_level",
]
