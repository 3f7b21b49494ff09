"""Dry-run actuator: remembers the replica counts it was told to set and changes nothing outside."""

from __future__ import annotations

from costplane.actuate._base import ActuationResult, ReplicaStatus, ScaleCommand, Target


class DryRunActuator:
    name = "dry-run"

    def __init__(self, initial: dict[str, int] | None = None) -> None:
        self._replicas: dict[str, int] = dict(initial or {})

    def remember(self, target_key: str, replicas: int) -> None:
        """Set the recorded count without acting: how a restarted controller rebuilds this actuator's state."""
        self._replicas[target_key] = replicas

    def current(self, target: Target) -> int | None:
        return self._replicas.get(target.key)

    def status(self, target: Target) -> ReplicaStatus | None:
        """Nothing starts in a dry run: what was set counts as ready."""
        n = self._replicas.get(target.key)
        return None if n is None else ReplicaStatus(n, n)

    def apply(self, command: ScaleCommand) -> ActuationResult:
        before = self._replicas.get(command.target.key)
        self._replicas[command.target.key] = command.replicas
        changed = before != command.replicas
        detail = (f"would scale {command.target.key} from {before} to {command.replicas}" if changed
                  else f"{command.target.key} already at {command.replicas}")
        return ActuationResult(command.target, before, command.replicas, changed, detail)
