"""Job, quota and decision values for batch/training scheduling (frozen, units in field names).

A job is a gang: it holds all of its GPUs or none. `gpus` is a whole count (1, 2, 8, ...) or a
fraction below 1 for a shareable GPU (0.47 = 470 milli-GPUs of one device). Durations are seconds.
`duration_s` is the truth the simulator uses; policies read `estimate_s` (defaults to the truth,
which makes SJF and backfill an upper bound on what estimates can buy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MILLI_PER_GPU = 1000

# Priority classes: higher runs first and may preempt lower. Alibaba qos values map onto them.
PRIORITY_HIGH = 2
PRIORITY_NORMAL = 1
PRIORITY_LOW = 0
QOS_PRIORITY: dict[str, int] = {
    "guaranteed": PRIORITY_HIGH,
    "ls": PRIORITY_HIGH,          # latency-sensitive
    "high": PRIORITY_HIGH,
    "burstable": PRIORITY_NORMAL,
    "normal": PRIORITY_NORMAL,
    "be": PRIORITY_LOW,           # best-effort
    "besteffort": PRIORITY_LOW,
    "low": PRIORITY_LOW,
}


@dataclass(frozen=True, slots=True)
class Job:
    """One gang-scheduled job. `allowed_gpus` empty = any GPU model; `min_gpu_memory_gib` filters models."""

    id: str
    submit_s: float
    duration_s: float
    gpus: float
    allowed_gpus: tuple[str, ...] = ()
    min_gpu_memory_gib: float = 0.0
    estimate_s: float | None = None
    priority: int = PRIORITY_NORMAL
    team: str = "default"
    deadline_s: float | None = None
    checkpointable: bool = False

    @property
    def est_s(self) -> float:
        return self.duration_s if self.estimate_s is None else self.estimate_s

    # derived once (the scheduler reads them millions of times): whole GPUs held (0 for a fractional
    # job) and milli-GPUs per device (1000 for whole jobs, the share of one GPU for a fractional one)
    whole_gpus: int = field(init=False, repr=False, compare=False)
    milli: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        whole = int(round(self.gpus)) if self.gpus >= 1 else 0
        object.__setattr__(self, "whole_gpus", whole)
        object.__setattr__(self, "milli", MILLI_PER_GPU if whole else int(round(self.gpus * MILLI_PER_GPU)))

    @property
    def gpu_units(self) -> float:
        """GPUs the job occupies, fractions included (what quotas and utilisation count)."""
        return self.whole_gpus if self.gpus >= 1 else self.milli / MILLI_PER_GPU


@dataclass(frozen=True, slots=True)
class TeamQuota:
    """`guaranteed_gpus` always available to the team; it may borrow idle GPUs up to `max_gpus`.

    GPUs a team holds above its guarantee are borrowed: a team still under its guarantee may preempt them.
    """

    team: str
    guaranteed_gpus: float
    max_gpus: float


@dataclass(frozen=True, slots=True)
class NodeOffer:
    """A machine the elastic cluster may buy: one catalog offer, on-demand or spot, priced per hour."""

    gpu: str
    gpus: int
    hourly_usd: float
    spot: bool
    cloud: str
    region: str
    instance_type: str
    gpu_memory_gib: float = 0.0


@dataclass(frozen=True, slots=True)
class NodeView:
    """A node as a policy sees it. `ready_s` > now means it is still provisioning."""

    id: int
    gpu: str
    gpus: int
    hourly_usd: float
    spot: bool
    elastic: bool
    ready_s: float
    idle_since_s: float | None  # None while any job holds one of its GPUs


@dataclass(frozen=True, slots=True)
class QueuedJob:
    job: Job
    attained_s: float = 0.0          # seconds of service received so far (LAS)
    first_start_s: float | None = None


@dataclass(frozen=True, slots=True)
class RunningJob:
    job: Job
    start_s: float                    # this run's start
    attained_s: float                 # service before this run started
    node_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    """What a policy wants now. Applied in order: preempt, release, buy, start.

    `wake_at_s`: the policy asks to be called again then (e.g. LAS demotion thresholds, idle grace ends).
    """

    start: tuple[str, ...] = ()
    preempt: tuple[str, ...] = ()
    buy: tuple[NodeOffer, ...] = ()
    release: tuple[int, ...] = ()
    wake_at_s: float | None = None
    reasons: tuple[str, ...] = ()
    # GPU indices of each start, as the policy placed them (same order as `start`; empty: the driver
    # places them). A pass that starts a job and then evicts others for a later one relies on these:
    # placed after the evictions, the first job could take the GPUs it freed for the second.
    gpus: tuple[tuple[int, ...], ...] = ()

    @property
    def kind(self) -> str:
        if not (self.start or self.preempt or self.buy or self.release):
            return "noop"
        return "+".join(k for k in ("preempt", "release", "buy", "start") if getattr(self, k))


@dataclass(frozen=True, slots=True)
class Rejection:
    job_id: str
    reason: str


@dataclass(frozen=True)
class JobSet:
    """Jobs read from a trace plus everything that was not simulated, each counted with its reason."""

    jobs: tuple[Job, ...]
    source: str
    window_start_s: float = 0.0
    malformed: tuple[tuple[int, str], ...] = ()           # (line number, why)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count (e.g. never scheduled)

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "jobs": len(self.jobs),
            "malformed_rows": len(self.malformed),
            "malformed_examples": [f"line {n}: {why}" for n, why in self.malformed[:5]],
            "skipped": dict(self.skipped),
        }
