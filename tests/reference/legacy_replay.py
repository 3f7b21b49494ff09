"""Parity reference: replay's own step loop over the policy function, as it stood before replay ran the
live Controller (commit 3a6099e). tests/test_replay_parity.py checks that the Controller-driven replay
gives identical fleets, service and cost; nothing in the package uses this module."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from costplane.autoscale import AutoscaleConfig, Observation, ServiceSpec, load_policy
from costplane.replay.cluster import _Queue  # the FIFO queue is shared; the step loop around it is the reference
from costplane.replay.inference import initial_replicas, static_peak_replicas
from costplane.replay.oracle import cold_start_steps, queue_steps
from costplane.traces import DemandSeries


def legacy_replay(series: DemandSeries, spec: ServiceSpec, policy: str | Callable[..., Any],
                  cfg: AutoscaleConfig | None = None, *,
                  start_replicas: int | None = None) -> dict[str, Any]:
    """The replay step loop as it was before replay drove the Controller (kept only as the parity reference)."""
    name = policy if isinstance(policy, str) else getattr(policy, "__name__", "policy")
    decide = load_policy(policy) if isinstance(policy, str) else policy
    cfg = cfg or AutoscaleConfig(service=spec)
    if cfg.service is not spec:
        cfg = replace(cfg, service=spec)
    if name == "static-peak" and cfg.static_replicas is None:
        cfg = replace(cfg, static_replicas=static_peak_replicas(series, spec))
    step = series.step_s
    counts = series.counts
    n = counts.size
    per_step = spec.capacity_per_replica * step
    c = cold_start_steps(spec, step)
    d = queue_steps(spec, step)
    every = max(1, int(round(cfg.decision_interval_s / step)))
    n0 = initial_replicas(series, spec, cfg.decision_interval_s) if start_replicas is None else start_replicas

    up = np.zeros(n, dtype=np.int64)
    ready_arr = np.zeros(n, dtype=np.int64)
    ready = n0
    warming: deque[int] = deque()  # ready-at steps, oldest first
    queue = _Queue(d) if d > 0 else None
    state: Any = None
    cold_starts = decisions = 0
    served = 0.0
    for t0 in range(0, n, every):
        obs = Observation(series.start_s + t0 * step, step, counts[:t0], ready, len(warming),
                          queue.units if queue else 0.0)
        decision, state = decide(obs, state, cfg)
        decisions += 1
        desired = int(decision.desired_replicas)
        current = ready + len(warming)
        if desired > current:
            warming.extend([t0 + c] * (desired - current))
            cold_starts += desired - current
        elif desired < current:
            drop = current - desired
            while drop and warming:
                warming.pop()
                drop -= 1
            ready -= drop
        t1 = min(t0 + every, n)
        t = t0
        while t < t1:  # constant fleet between warm-ups: fill per segment
            while warming and warming[0] <= t:
                warming.popleft()
                ready += 1
            nxt = min(t1, warming[0]) if warming else t1
            ready_arr[t:nxt] = ready
            up[t:nxt] = ready + len(warming)
            if queue is not None:
                served += queue.run(t, counts[t:nxt], ready * per_step)
            t = nxt
    if queue is None:
        served_per_step = np.minimum(counts, ready_arr * per_step)
        served = float(served_per_step.sum())
        unserved = float(counts.sum()) - served
        delays = np.array([served])
    else:
        # Demand that arrived in the last D steps is still within budget at the end: the fleet left
        # running serves it (unpaid, like the oracle, which need not serve it at all).
        cap = int(ready_arr[-1]) * per_step
        for s in range(n, n + d):
            served += queue.step(s, 0.0, cap)
        unserved = queue.unserved + queue.units
        delays = queue.delay_units
    return {"up": up, "ready": ready_arr, "served": served, "unserved": max(0.0, unserved),
            "cold_starts": cold_starts, "decisions": decisions, "delays": delays}
