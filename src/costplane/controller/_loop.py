"""The controller loop and its values (see the package docstring for the crash-safety rules)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from costplane.actuate import TARGET_KINDS, Actuator, ReplicaStatus, ScaleCommand, Target
from costplane.autoscale import DEFAULT_POLICY
from costplane.controller._journal import DecisionRecord, MemoryJournal, StoreJournal
from costplane.controller._observe import DemandWindow, MetricSource, StoreMetrics
from costplane.core.clock import Clock
from costplane.core.errors import CostplaneError, InputError
from costplane.core.vocabulary import REQUESTS_PER_S

DEMAND_METRIC = REQUESTS_PER_S  # the stored vocabulary's demand: units/s summed over a workload's series
HISTORY_S = 8 * 86_400.0  # demand history a live decision sees: a week and a day, for weekly seasonality
VALIDATION_S = 15.0  # a scale-down is re-decided after this wait and acted on only if it still holds (Karpenter)
STORED_POINTS = 120  # demand points kept with each stored decision: enough to explain it

log = logging.getLogger("costplane.controller")


@dataclass(frozen=True, slots=True)
class ControlledService:
    """A service the controller scales: what it is, where it runs, and the spec its policy reads."""

    name: str
    target: Target
    policy: str = DEFAULT_POLICY
    team: str | None = None
    spec: dict[str, Any] = field(default_factory=dict)
    metrics_step_s: float | None = None  # sampling interval of its demand (None: the median of the samples)


@dataclass(frozen=True, slots=True)
class Observation:
    """What a decision may see: time comes from here and nowhere else.

    `demand` holds demand units per step of `step_s`, oldest first, the last step ending at `now_s`;
    `queue_units` is what waits now (None: no queue metric); replicas come from the actuator.
    """

    now_s: float
    service: str
    step_s: float
    demand: np.ndarray
    current_replicas: int | None
    ready_replicas: int | None = None
    queue_units: float | None = None

    @property
    def starting_replicas(self) -> int:
        if self.current_replicas is None or self.ready_replicas is None:
            return 0
        return max(0, self.current_replicas - self.ready_replicas)

    def to_dict(self) -> dict[str, Any]:
        tail = self.demand[-STORED_POINTS:]
        n = tail.size
        return {"now_s": self.now_s, "service": self.service, "step_s": self.step_s,
                "demand_ts_s": [self.now_s - (n - 1 - i) * self.step_s for i in range(n)],
                "demand_per_s": [float(x) / self.step_s for x in tail],
                "current_replicas": self.current_replicas, "ready_replicas": self.ready_replicas,
                "starting_replicas": self.starting_replicas, "queue_units": self.queue_units}


@dataclass(frozen=True, slots=True)
class Proposal:
    desired_replicas: int
    reasons: tuple[str, ...] = ()
    forecast_per_s: float | None = None  # median demand forecast over the next cold start, when known


# decide(service, observation, state) -> (proposal, new state); the state is JSON-serialisable and persisted
Decide = Callable[[ControlledService, Observation, Any], tuple[Proposal, Any]]


def _target_from(raw: dict, name: str, where: str) -> Target:
    target = raw.get("target") or {}
    if isinstance(target, str):
        try:
            return Target.parse(target)
        except ValueError as exc:
            raise InputError(f"{where}: bad target {target!r}: {exc}", fix="write deployment/NAMESPACE/NAME") from None
    kind = target.get("kind", "deployment")
    if kind not in TARGET_KINDS:
        raise InputError(f"{where}: target kind {kind!r} is unknown", fix=f"use one of {', '.join(TARGET_KINDS)}")
    return Target(kind, target.get("name", name), target.get("namespace", "default"))


def load_services(path: Path) -> tuple[ControlledService, ...]:
    """Services file (YAML): `services: [{name, policy, team, target: {kind, namespace, name}, metrics_step_s,
    <service spec fields>}]`, validated by core.schema.ServicesFile: unknown keys, units and ranges are one
    error naming the file, line and key."""
    from costplane.core.files import read_structured_lines
    from costplane.core.schema import CONTROLLER_KEYS, ServicesFile, validate

    data, lines = read_structured_lines(path, "services file")
    model = validate(ServicesFile, data, str(path), lines, "docs/controller.md (services file)")
    out = []
    for i, (raw, entry) in enumerate(zip(data["services"], model.services)):
        where = f"{path}: services[{i}]"
        spec = {k: v for k, v in raw.items() if k not in CONTROLLER_KEYS}
        step = None if entry.metrics_step_s is None else float(entry.metrics_step_s)
        out.append(ControlledService(entry.name, _target_from(raw, entry.name, where), entry.policy or DEFAULT_POLICY, entry.team,
                                     spec, step))
    return tuple(out)


def _desired(proposal: Proposal, obs: Observation, service: ControlledService) -> dict[str, Any]:
    desired: dict[str, Any] = {"replicas": proposal.desired_replicas, "current": obs.current_replicas,
                               "ready": obs.ready_replicas, "policy": service.policy}
    if proposal.forecast_per_s is not None:
        desired["forecast_per_s"] = proposal.forecast_per_s
    return desired


class Controller:
    """The one driver of decisions, live and in replay: observe → decide → record → validate → act.

    Live: `Controller(store, WallClock(), actuator, services, decide)` journals to the store, reads demand
    from it, and acts only while it holds the store's lease. Replay passes `journal=MemoryJournal()`,
    `metrics=` the trace, a simulated-cluster actuator, a SimClock and `store=None`.
    """

    def __init__(self, store, clock: Clock, actuator: Actuator, services: tuple[ControlledService, ...],
                 decide: Decide, interval_s: float = 60.0, validation_s: float = VALIDATION_S,
                 actor: str = "controller", *, journal=None, metrics: MetricSource | None = None,
                 lease=None, history_s: float = HISTORY_S, log_decisions: bool = True) -> None:
        if interval_s <= 0:
            raise InputError(f"interval must be > 0 s, got {interval_s}", fix="pass --interval 60")
        if validation_s < 0:
            raise InputError(f"validation wait must be >= 0 s, got {validation_s}", fix="pass --validate-s 15 (0: off)")
        if store is None and (journal is None or metrics is None):
            raise ValueError("a controller without a store needs a journal and a metric source")
        self.store, self.clock, self.actuator = store, clock, actuator
        self.services, self.decide = services, decide
        self.interval_s, self.validation_s, self.actor = interval_s, validation_s, actor
        self.journal = journal if journal is not None else StoreJournal(store)
        self.metrics = metrics if metrics is not None else StoreMetrics(store, history_s)
        self.lease = lease
        self.log_decisions = log_decisions
        self._by_target = {s.target.key: s for s in services}
        self._policies = {s.name: s.policy for s in services}
        self._states: dict[str, Any] = self.journal.states(self._policies)
        self.last_cycle: dict[str, Any] = {}
        self._cycle_lock = threading.Lock()
        self._restore_dry_run_state()

    # ------------------------------------------------------------------ observe

    def _status(self, target: Target) -> ReplicaStatus | None:
        status = getattr(self.actuator, "status", None)
        if status is not None:
            return status(target)
        current = self.actuator.current(target)
        return None if current is None else ReplicaStatus(current, current)

    def observe_all(self, now_s: float, services=None) -> dict[str, Observation]:
        services = self.services if services is None else services
        windows = self.metrics.windows(services, now_s)
        out = {}
        for service in services:
            w: DemandWindow = windows[service.name]
            st = self._status(service.target)
            out[service.name] = Observation(now_s, service.name, w.step_s, w.units,
                                            None if st is None else st.desired, None if st is None else st.ready,
                                            w.queue_units)
        return out

    def observe(self, service: ControlledService, now_s: float) -> Observation:
        return self.observe_all(now_s, (service,))[service.name]

    # ------------------------------------------------------------------ one cycle

    def cycle_id(self, now_s: float) -> str:
        return f"cycle-{int(np.floor(now_s / self.interval_s))}"

    def _decide_and_record(self, cycle: str, now_s: float, services: tuple[ControlledService, ...]) -> None:
        """Record one decision per service for this cycle, unless a resumed cycle already has it."""
        done = self.journal.decided(cycle)
        todo = tuple(s for s in services if s.target.key not in done)
        if not todo:
            return
        observations = self.observe_all(now_s, todo)
        records, states = [], {}
        for service in todo:
            obs = observations[service.name]
            proposal, state = self.decide(service, obs, self._states.get(service.name))
            if proposal.desired_replicas < 0:
                raise CostplaneError(f"policy {service.policy} proposed {proposal.desired_replicas} replicas for "
                                     f"{service.name}", fix="a policy must return 0 or more replicas")
            states[service.name] = (service.policy, state)
            records.append(DecisionRecord(cycle, now_s, "scale", service.target.key, service.team,
                                          _desired(proposal, obs, service), obs, list(proposal.reasons),
                                          self.actuator.name))
            if self.log_decisions:
                log.info("decision service=%s target=%s current=%s ready=%s desired=%d queue=%s policy=%s why=%s",
                         service.name, service.target.key, obs.current_replicas, obs.ready_replicas,
                         proposal.desired_replicas, obs.queue_units, service.policy, "; ".join(proposal.reasons))
        self.journal.record(cycle, records)  # stored before anything is acted on
        self._states.update({name: st for name, (_, st) in states.items()})
        self.journal.save_states(states, now_s)

    def _validated(self, pending: list[DecisionRecord]) -> set[str]:
        """Targets whose scale-down no longer holds after `validation_s` (Karpenter validates consolidation).

        Scale-ups act at once (waiting costs service); all scale-downs of a cycle wait once together,
        are re-observed and re-decided (state not kept), and act only if the fresh decision is the same.
        """
        downs = [r for r in pending if self.validation_s > 0 and r.desired.get("current") is not None
                 and r.desired["replicas"] < r.desired["current"] and r.target in self._by_target]
        if not downs:
            return set()
        self.clock.sleep_until(self.clock.now_s() + self.validation_s)
        now_s = self.clock.now_s()
        services = tuple(self._by_target[r.target] for r in downs)
        fresh = self.observe_all(now_s, services)
        stale = set()
        for r, service in zip(downs, services):
            again, _ = self.decide(service, fresh[service.name], self._states.get(service.name))
            if again.desired_replicas != r.desired["replicas"]:
                stale.add(r.target)
        return stale

    def _actuate_pending(self, cycle: str, targets: set[str]) -> list[DecisionRecord]:
        pending = [r for r in self.journal.pending(cycle) if r.target in targets]
        stale = self._validated(pending)
        for r in pending:
            service = self._by_target[r.target]
            planned = int(r.desired["replicas"])
            if r.target in stale:
                r.result, r.changed = "stale: a fresh decision differs; not acted on", False
            else:
                result = self.actuator.apply(ScaleCommand(service.target, planned))
                r.result, r.changed = result.detail, result.changed
            r.actuated_at_s = self.clock.now_s()
        self.journal.mark_actuated(pending, self.actor)
        return pending

    def run_cycle(self, team: str | None = None) -> list[DecisionRecord]:
        """Decide (or resume) the current cycle and actuate what is pending; returns the decisions acted on.

        `team`: only that team's services (an operator scoped to a team runs its own cycle through the API).
        One cycle at a time per controller (the serve loop and the API share it). With a lease, a controller
        that does not hold it decides and acts on nothing (a standby)."""
        with self._cycle_lock:
            return self._run_cycle(team)

    def _run_cycle(self, team: str | None) -> list[DecisionRecord]:
        began = time.perf_counter()
        services = self.services if team is None else tuple(s for s in self.services if s.team == team)
        now_s = self.clock.now_s()
        cycle = self.cycle_id(now_s)
        if self.lease is not None and not self.lease.acquire(now_s):
            info = self.lease.info()
            self.last_cycle = {"cycle": cycle, "at_s": now_s, "standby": True,
                               "holder": None if info is None else info.holder}
            if self.log_decisions:
                log.info("cycle %s standby: the lease is held by %s", cycle, self.last_cycle["holder"])
            return []
        self._decide_and_record(cycle, now_s, services)
        acted = self._actuate_pending(cycle, {s.target.key for s in services})
        if self.log_decisions:
            changed = sum(r.changed for r in acted)
            stale = sum(1 for r in acted if (r.result or "").startswith("stale"))
            log.info("cycle %s services=%d acted=%d changed=%d stale=%d seconds=%.3f", cycle, len(services),
                     len(acted), changed, stale, time.perf_counter() - began)
        self.last_cycle = {"cycle": cycle, "at_s": now_s, "standby": False, "acted": len(acted)}
        return acted

    def run_forever(self, stop: threading.Event) -> None:
        """Run a cycle at the start of every interval slot until `stop` is set (wall-clock waiting)."""
        try:
            while not stop.is_set():
                self.run_cycle()
                next_slot = (np.floor(self.clock.now_s() / self.interval_s) + 1) * self.interval_s
                if stop.wait(timeout=max(0.0, next_slot - self.clock.now_s())):
                    break
        finally:
            self.release()

    def release(self) -> None:
        """Give the lease back (a clean stop), so a standby takes over at once."""
        if self.lease is not None:
            self.lease.release()

    # ------------------------------------------------------------------ restart

    def _restore_dry_run_state(self) -> None:
        """A dry-run actuator's state lives in memory: rebuild it from the last actuated decisions."""
        from costplane.actuate import DryRunActuator

        if not isinstance(self.actuator, DryRunActuator):
            return
        for target, replicas in self.journal.last_actuated():
            self.actuator.remember(target, replicas)


__all__ = ["ControlledService", "Controller", "DEMAND_METRIC", "MemoryJournal", "Observation", "Proposal",
           "load_services"]
