"""The simulated world replay runs the controller in: a cluster actuator and the trace as metric source.

`SimulatedCluster` is an actuator (same `current`/`status`/`apply` as the dry-run and Kubernetes ones)
that owns what a real cluster does on its own, in steps of the series' `step_s`:
- replicas it is told to add are paid from that step and ready `ceil(cold_start_s / step_s)` steps later;
  replicas it is told to remove go newest-warming first, then ready ones, and stop being paid at once;
- each step, ready replicas serve `capacity_per_replica x step_s` units from a FIFO queue, oldest first;
  demand served within `max_queue_s` of its arrival step counts as served, older demand leaves unserved.
`TraceMetrics` answers the controller's metric queries from the trace (demand before now) and the
cluster (the queue now), as the store answers them live.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from costplane.actuate import ActuationResult, ReplicaStatus, ScaleCommand, Target
from costplane.autoscale import ServiceSpec
from costplane.controller import DemandWindow
from costplane.replay.oracle import cold_start_steps, queue_steps
from costplane.traces import DemandSeries


class _Queue:
    """FIFO of (arrival step, units) with a deadline of `d` steps; tracks the delay of served units."""

    __slots__ = ("d", "items", "units", "unserved", "delay_units")

    def __init__(self, d: int) -> None:
        self.d = d
        self.items: deque[list[float]] = deque()
        self.units = 0.0
        self.unserved = 0.0
        self.delay_units = np.zeros(d + 1)

    def run(self, t0: int, arrivals: np.ndarray, capacity: float) -> float:
        """Steps t0.. with constant capacity; while nothing waits, steps that fit are served in one numpy pass."""
        served = 0.0
        i, n = 0, arrivals.size
        while i < n:
            if not self.items:
                over = np.flatnonzero(arrivals[i:] > capacity)
                j = n if over.size == 0 else i + int(over[0])
                if j > i:
                    fit = float(arrivals[i:j].sum())
                    self.delay_units[0] += fit
                    served += fit
                    i = j
                    continue
            served += self.step(t0 + i, float(arrivals[i]), capacity)
            i += 1
        return served

    def step(self, t: int, arrived: float, capacity: float) -> float:
        items = self.items
        if not items and arrived <= capacity:  # fast path: nothing waits, all served now
            self.delay_units[0] += arrived
            return arrived
        while items and items[0][0] < t - self.d:
            self.unserved += items[0][1]
            self.units -= items[0][1]
            items.popleft()
        if arrived > 0:
            items.append([t, arrived])
            self.units += arrived
        served = 0.0
        while capacity > 1e-12 and items:
            head = items[0]
            take = head[1] if head[1] <= capacity else capacity
            head[1] -= take
            capacity -= take
            served += take
            self.delay_units[t - int(head[0])] += take
            if head[1] <= 1e-12:
                items.popleft()
        self.units -= served
        if not items:
            self.units = 0.0
        return served


class SimulatedCluster:
    """An actuator over simulated replicas of one service serving one demand series (see module docstring)."""

    name = "simulated"

    def __init__(self, series: DemandSeries, spec: ServiceSpec, initial_replicas: int, target: Target) -> None:
        self.series, self.spec, self.target = series, spec, target
        self.step_s = series.step_s
        self.counts = series.counts
        n = self.counts.size
        self.per_step = spec.capacity_per_replica * self.step_s
        self.cold_steps = cold_start_steps(spec, self.step_s)
        self.queue = _Queue(queue_steps(spec, self.step_s)) if queue_steps(spec, self.step_s) > 0 else None
        self.up = np.zeros(n, dtype=np.int64)
        self.ready_per_step = np.zeros(n, dtype=np.int64)
        self.ready = int(initial_replicas)
        self.warming: deque[int] = deque()  # ready-at steps, oldest first
        self.t = 0  # the next step to simulate
        self.cold_starts = 0
        self.served = 0.0

    # ---------------------------------------------------------------- the actuator protocol

    def current(self, target: Target) -> int | None:
        return self.ready + len(self.warming)

    def status(self, target: Target) -> ReplicaStatus | None:
        return ReplicaStatus(self.ready + len(self.warming), self.ready)

    def apply(self, command: ScaleCommand) -> ActuationResult:
        desired = int(command.replicas)
        current = self.ready + len(self.warming)
        if desired > current:
            self.warming.extend([self.t + self.cold_steps] * (desired - current))
            self.cold_starts += desired - current
        elif desired < current:
            drop = current - desired
            while drop and self.warming:
                self.warming.pop()
                drop -= 1
            self.ready -= drop
        return ActuationResult(command.target, current, desired, desired != current, "")

    # ---------------------------------------------------------------- time

    @property
    def queue_units(self) -> float | None:
        return None if self.queue is None else self.queue.units

    def run_until(self, t1: int) -> None:
        """Simulate steps [self.t, t1): warm-ups complete, ready replicas serve the queue."""
        counts, t = self.counts, self.t
        while t < t1:  # constant fleet between warm-ups: fill per segment
            while self.warming and self.warming[0] <= t:
                self.warming.popleft()
                self.ready += 1
            nxt = min(t1, self.warming[0]) if self.warming else t1
            self.ready_per_step[t:nxt] = self.ready
            self.up[t:nxt] = self.ready + len(self.warming)
            if self.queue is not None:
                self.served += self.queue.run(t, counts[t:nxt], self.ready * self.per_step)
            t = nxt
        self.t = t1

    def finish(self) -> tuple[float, float, np.ndarray]:
        """(served, unserved, delay histogram) at the end of the trace.

        Demand that arrived in the last D steps is still within budget at the end: the fleet left running
        serves it (unpaid, like the oracle, which need not serve it at all)."""
        if self.queue is None:
            served = float(np.minimum(self.counts, self.ready_per_step * self.per_step).sum())
            return served, float(self.counts.sum()) - served, np.array([served])
        n = self.counts.size
        cap = int(self.ready_per_step[-1]) * self.per_step if n else 0.0
        for s in range(n, n + self.queue.d):
            self.served += self.queue.step(s, 0.0, cap)
        return self.served, self.queue.unserved + self.queue.units, self.queue.delay_units


class TraceMetrics:
    """The controller's metric source in replay: the trace's counts before now (a view, no copy) and the queue."""

    def __init__(self, series: DemandSeries, cluster: SimulatedCluster) -> None:
        self.series, self.cluster = series, cluster

    def windows(self, services: Sequence, now_s: float) -> dict[str, DemandWindow]:
        t0 = self.cluster.t
        w = DemandWindow(now_s, self.series.step_s, self.series.counts[:t0], self.cluster.queue_units)
        return {s.name: w for s in services}
