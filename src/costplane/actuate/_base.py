"""Actuator protocol and the command/result values it exchanges."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

TargetKind = Literal["deployment", "nodepool", "inferenceservice", "ksvc", "scaledobject", "karpenter"]
# deployment: apps/v1 Deployment; nodepool: Cluster API MachineDeployment; the rest are scaled through their
# autoscaler's bounds (actuate._autoscalers): KServe InferenceService, Knative Service, KEDA ScaledObject,
# Karpenter NodePool (cluster-scoped: its key's namespace part is ignored, e.g. karpenter/-/gpu).
TARGET_KINDS: tuple[str, ...] = ("deployment", "nodepool", "inferenceservice", "ksvc", "scaledobject", "karpenter")


@dataclass(frozen=True, slots=True)
class Target:
    """What is scaled: a Deployment, or a node pool (a Cluster API MachineDeployment)."""

    kind: TargetKind
    name: str
    namespace: str = "default"

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"

    @classmethod
    def parse(cls, key: str) -> Target:
        kind, namespace, name = key.split("/", 2)
        if kind not in TARGET_KINDS:
            raise ValueError(f"unknown target kind {kind!r} (known: {', '.join(TARGET_KINDS)})")
        return cls(kind, name, namespace)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ScaleCommand:
    target: Target
    replicas: int


@dataclass(frozen=True, slots=True)
class ActuationResult:
    target: Target
    before: int | None
    after: int
    changed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class ReplicaStatus:
    """A target's replicas as the cluster sees them: asked for (`spec.replicas`) and ready to serve."""

    desired: int
    ready: int

    @property
    def starting(self) -> int:
        return max(0, self.desired - self.ready)


class Actuator(Protocol):
    """`current` reads the asked-for count, `status` adds how many are ready, `apply` makes it so."""

    name: str

    def current(self, target: Target) -> int | None: ...

    def status(self, target: Target) -> ReplicaStatus | None: ...

    def apply(self, command: ScaleCommand) -> ActuationResult: ...
