"""The live control loop: observe → decide (the same policy objects replay uses) → store → validate → act.

Crash safety (a controller SIGKILLed mid-cycle restarts without losing data or acting twice):
- a cycle is named by its scheduled slot (`cycle-<floor(now / interval)>`), so a restarted
  controller resumes the same cycle instead of starting a new one;
- every decision is stored, with the observation and reasons that produced it, in one transaction
  before anything is actuated; a unique (cycle, target, kind) key means a resumed cycle re-reads its
  decisions instead of deciding again;
- actuation reads the target's current count first and does nothing when it is already there, then
  marks the decision actuated; so the window between "acted" and "recorded" is harmless;
- one controller acts per store: it holds the store's lease (controller/_lease.py) while it runs;
- each service's policy state is stored after every cycle, so a restart resumes holds and hysteresis.

The same `Controller` drives replay (costplane.replay.inference) with a simulated clock, a simulated
cluster actuator and an in-memory journal: one driver for live and replay.
"""

from costplane.controller._autoscale import AutoscaleDecide
from costplane.controller._journal import DecisionRecord, MemoryJournal, StoreJournal
from costplane.controller._lease import KubernetesLease, StoreLease, read_lease
from costplane.controller._loop import (
    DEMAND_METRIC,
    HISTORY_S,
    VALIDATION_S,
    ControlledService,
    Controller,
    Observation,
    Proposal,
    load_services,
)
from costplane.controller._observe import DemandWindow, MetricSource, StoreMetrics, regular_grid

__all__ = ["AutoscaleDecide", "DEMAND_METRIC", "HISTORY_S", "VALIDATION_S", "ControlledService", "Controller",
           "DecisionRecord", "DemandWindow", "KubernetesLease", "MemoryJournal", "MetricSource", "Observation", "Proposal",
           "StoreJournal", "StoreLease", "StoreMetrics", "load_services", "read_lease", "regular_grid"]
