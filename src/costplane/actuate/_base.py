"""Actuator protocol and the command/result values it exchanges."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

TargetKind = Literal["deployment", "nodepool"]


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
        if kind not in ("deployment", "nodepool"):
            raise ValueError(f"unknown target kind {kind!r}")
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


class Actuator(Protocol):
    name: str

    def current(self, target: Target) -> int | None: ...

    def apply(self, command: ScaleCommand) -> ActuationResult: ...
