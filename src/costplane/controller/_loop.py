"""The controller loop and its values (see the package docstring for the crash-safety rules)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from costplane.actuate import Actuator, ScaleCommand, Target
from costplane.core.clock import Clock
from costplane.core.errors import CostplaneError, InputError
from costplane.core.files import read_structured
from costplane.store import AuditLog, DecisionRow, Store, UsageSample

DEMAND_METRIC = "request_rate"  # demand units per second, one series per workload (= service name)
LOOKBACK_S = 3 * 3600.0  # how much demand history a decision sees
VALIDATION_S = 0.0  # wait before re-deciding and acting (Karpenter validates after 15 s); 0 = act at once


@dataclass(frozen=True, slots=True)
class ControlledService:
    """A service the controller scales: what it is, where it runs, and the spec its policy reads."""

    name: str
    target: Target
    policy: str = "hybrid"
    team: str | None = None
    spec: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Observation:
    """What a decision may see: time comes from here and nowhere else."""

    now_s: float
    service: str
    demand_ts_s: tuple[float, ...]
    demand_per_s: tuple[float, ...]
    current_replicas: int | None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        # Keep stored observations small: the last 120 points explain a decision.
        d["demand_ts_s"] = list(self.demand_ts_s[-120:])
        d["demand_per_s"] = list(self.demand_per_s[-120:])
        return d


@dataclass(frozen=True, slots=True)
class Proposal:
    desired_replicas: int
    reasons: tuple[str, ...] = ()
    forecast_per_s: float | None = None  # median demand forecast over the next cold start, when known


Decide = Callable[[ControlledService, Observation], Proposal]


def _target_from(raw: dict, name: str, where: str) -> Target:
    target = raw.get("target") or {}
    if isinstance(target, str):
        try:
            return Target.parse(target)
        except ValueError as exc:
            raise InputError(f"{where}: bad target {target!r}: {exc}", fix="write deployment/NAMESPACE/NAME") from None
    kind = target.get("kind", "deployment")
    if kind not in ("deployment", "nodepool"):
        raise InputError(f"{where}: target kind {kind!r} is not deployment or nodepool", fix="pick one of those")
    return Target(kind, target.get("name", name), target.get("namespace", "default"))


def load_services(path: Path) -> tuple[ControlledService, ...]:
    """Services file (YAML): `services: [{name, policy, team, target: {kind, namespace, name}, <spec fields>}]`."""
    data = read_structured(path, "services file")
    items = data.get("services") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise InputError(f"{path}: needs a non-empty `services:` list", fix="see docs/controller.md")
    out = []
    for i, raw in enumerate(items):
        where = f"{path}: services[{i}]"
        if not isinstance(raw, dict) or not raw.get("name"):
            raise InputError(f"{where}: every service needs a name", fix="add `name:`")
        spec = {k: v for k, v in raw.items() if k not in ("target", "policy", "team")}
        out.append(ControlledService(raw["name"], _target_from(raw, raw["name"], where), raw.get("policy", "hybrid"),
                                     raw.get("team"), spec))
    return tuple(out)


def _desired(proposal: Proposal, obs: Observation, service: ControlledService) -> dict[str, Any]:
    desired: dict[str, Any] = {"replicas": proposal.desired_replicas, "current": obs.current_replicas,
                               "policy": service.policy}
    if proposal.forecast_per_s is not None:
        desired["forecast_per_s"] = proposal.forecast_per_s
    return desired


class Controller:
    """One controller: pass it a store, a clock, an actuator and a decide function (the policy adapter)."""

    def __init__(self, store: Store, clock: Clock, actuator: Actuator, services: tuple[ControlledService, ...],
                 decide: Decide, interval_s: float = 60.0, validation_s: float = VALIDATION_S,
                 actor: str = "controller") -> None:
        if interval_s <= 0:
            raise InputError(f"interval must be > 0 s, got {interval_s}", fix="pass --interval 60")
        self.store, self.clock, self.actuator = store, clock, actuator
        self.services, self.decide = services, decide
        self.interval_s, self.validation_s, self.actor = interval_s, validation_s, actor
        self._restore_dry_run_state()

    # ------------------------------------------------------------------ observe

    def observe(self, service: ControlledService, now_s: float) -> Observation:
        with self.store.session() as s:
            rows = s.execute(
                select(UsageSample.ts_s, UsageSample.value)
                .where(UsageSample.metric == DEMAND_METRIC, UsageSample.workload == service.name,
                       UsageSample.ts_s > now_s - LOOKBACK_S, UsageSample.ts_s <= now_s)
                .order_by(UsageSample.ts_s)
            ).all()
        ts = tuple(float(r[0]) for r in rows)
        values = tuple(float(r[1]) for r in rows)
        return Observation(now_s, service.name, ts, values, self.actuator.current(service.target))

    # ------------------------------------------------------------------ one cycle

    def cycle_id(self, now_s: float) -> str:
        return f"cycle-{int(np.floor(now_s / self.interval_s))}"

    def _decide_and_store(self, cycle: str, now_s: float) -> None:
        """Store one decision per service for this cycle, unless a resumed cycle already has it."""
        for service in self.services:
            with self.store.session() as s:
                exists = s.scalar(select(DecisionRow.id).where(
                    DecisionRow.cycle_id == cycle, DecisionRow.target == service.target.key,
                    DecisionRow.kind == "scale"))
            if exists is not None:
                continue
            obs = self.observe(service, now_s)
            proposal = self.decide(service, obs)
            if proposal.desired_replicas < 0:
                raise CostplaneError(f"policy {service.policy} proposed {proposal.desired_replicas} replicas for "
                                     f"{service.name}", fix="a policy must return 0 or more replicas")
            with self.store.session() as s:
                s.add(DecisionRow(cycle_id=cycle, created_at_s=now_s, kind="scale", target=service.target.key,
                                  team=service.team, desired=_desired(proposal, obs, service),
                                  observation=obs.to_dict(), reasons=list(proposal.reasons),
                                  actuator=self.actuator.name))

    def _still_valid(self, service: ControlledService, planned: int) -> bool:
        """Simulate again after `validation_s`; act only if the decision has not changed (Karpenter)."""
        if self.validation_s <= 0:
            return True
        self.clock.sleep_until(self.clock.now_s() + self.validation_s)
        again = self.decide(service, self.observe(service, self.clock.now_s()))
        return again.desired_replicas == planned

    def _actuate_pending(self, cycle: str) -> list[DecisionRow]:
        by_target = {s.target.key: s for s in self.services}
        with self.store.session() as s:
            pending = s.scalars(select(DecisionRow).where(DecisionRow.cycle_id == cycle,
                                                          DecisionRow.actuated_at_s.is_(None))
                                .order_by(DecisionRow.id)).all()
        done = []
        for row in pending:
            service = by_target.get(row.target)
            if service is None:
                continue
            planned = int(row.desired["replicas"])
            if not self._still_valid(service, planned):
                result_text, changed = "stale: a fresh decision differs; not acted on", False
            else:
                result = self.actuator.apply(ScaleCommand(service.target, planned))
                result_text, changed = result.detail, result.changed
            with self.store.session() as s:
                fresh = s.get(DecisionRow, row.id)
                fresh.actuated_at_s = self.clock.now_s()
                fresh.result = result_text
                s.add(AuditLog(at_s=self.clock.now_s(), actor=self.actor, action="actuate" if changed else "noop",
                               target=row.target, detail={"cycle": cycle, "replicas": planned,
                                                          "actuator": self.actuator.name, "result": result_text}))
                done.append(fresh)
        return done

    def run_cycle(self) -> list[DecisionRow]:
        """Decide (or resume) the current cycle and actuate what is pending; returns the decisions acted on."""
        now_s = self.clock.now_s()
        cycle = self.cycle_id(now_s)
        self._decide_and_store(cycle, now_s)
        return self._actuate_pending(cycle)

    def run_forever(self, stop: threading.Event) -> None:
        """Run a cycle at the start of every interval slot until `stop` is set (wall-clock waiting)."""
        while not stop.is_set():
            self.run_cycle()
            next_slot = (np.floor(self.clock.now_s() / self.interval_s) + 1) * self.interval_s
            if stop.wait(timeout=max(0.0, next_slot - self.clock.now_s())):
                break

    # ------------------------------------------------------------------ restart

    def _restore_dry_run_state(self) -> None:
        """A dry-run actuator's state lives in memory: rebuild it from the last actuated decisions."""
        from costplane.actuate import DryRunActuator

        if not isinstance(self.actuator, DryRunActuator):
            return
        with self.store.session() as s:
            rows = s.execute(select(DecisionRow.target, DecisionRow.desired)
                             .where(DecisionRow.actuated_at_s.is_not(None)).order_by(DecisionRow.id)).all()
        for target, desired in rows:
            self.actuator.remember(target, int(desired["replicas"]))
