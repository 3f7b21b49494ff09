"""Actuators: the only code that changes the world. Dry-run (default) records; Kubernetes scales for real.

Every actuator has the same two calls: `current(target)` reads the replica count now, and
`apply(command)` makes it so and returns what happened. `apply` is idempotent — setting a count that
is already set is a no-op reported as such — which is what lets a controller killed mid-cycle
re-run its cycle without acting twice.
"""

from __future__ import annotations

from costplane.actuate._base import TARGET_KINDS, ActuationResult, Actuator, ReplicaStatus, ScaleCommand, Target
from costplane.actuate._dry_run import DryRunActuator
from costplane.actuate._kubernetes import KubernetesActuator

__all__ = ["TARGET_KINDS", "ActuationResult", "Actuator", "DryRunActuator", "KubernetesActuator", "ReplicaStatus", "ScaleCommand", "Target"]
