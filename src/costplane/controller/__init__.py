"""The live control loop: observe → decide (the same policy objects replay uses) → store → validate → act.

Crash safety (a controller SIGKILLed mid-cycle restarts without losing data or acting twice):
- a cycle is named by its scheduled slot (`cycle-<floor(now / interval)>`), so a restarted
  controller resumes the same cycle instead of starting a new one;
- every decision is stored, with the observation and reasons that produced it, in one transaction
  before anything is actuated; a unique (cycle, target, kind) key means a resumed cycle re-reads its
  decisions instead of deciding again;
- actuation reads the target's current count first and does nothing when it is already there, then
  marks the decision actuated; so the window between "acted" and "recorded" is harmless.
"""

from costplane.controller._autoscale import AutoscaleDecide
from costplane.controller._loop import (
    DEMAND_METRIC,
    ControlledService,
    Controller,
    Observation,
    Proposal,
    load_services,
)

__all__ = ["AutoscaleDecide", "DEMAND_METRIC", "ControlledService", "Controller", "Observation", "Proposal", "load_services"]
