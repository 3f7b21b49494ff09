"""What the controller sees of a service: its demand history, waiting queue and ready vs. starting replicas.

One observation builder for live and replay. A `MetricSource` answers `windows(services, now_s)` with a
`DemandWindow` per service: demand units per step on a regular grid ending at `now_s`, and the queue.
- `StoreMetrics` (live) reads the stored vocabulary (costplane.core.vocabulary): the sum of
  `requests_per_s` over a workload's series (one per replica) at each sample time, and the sum of
  `queue_waiting` at the newest sample within the staleness window. Samples are placed on the grid of
  the median sampling interval; a missing sample holds the previous rate for at most the Prometheus
  staleness window (300 s), then counts as no demand.
- replay's `TraceMetrics` hands the trace's own per-step counts (costplane.replay.cluster).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from costplane.core.vocabulary import QUEUE_WAITING, REQUESTS_PER_S

if TYPE_CHECKING:
    from costplane.controller._loop import ControlledService

STALENESS_S = 300.0  # Prometheus' lookback delta: a sample older than this is no longer current
DEFAULT_STEP_S = 60.0  # a service with fewer than two samples: assume one-minute scrapes
MAX_HISTORY_STEPS = 200_000  # bound the grid whatever the sampling interval
FEW_SERVICES = 20  # up to this many services are read by workload; more by one range scan over time


@dataclass(frozen=True)
class DemandWindow:
    """A service's demand on a regular grid: `units[i]` arrived in the step ending at `end_s - (n-1-i) * step_s`."""

    end_s: float
    step_s: float
    units: np.ndarray
    queue_units: float | None = None  # None: no queue metric is known for this service

    @property
    def rates_per_s(self) -> np.ndarray:
        return self.units / self.step_s


class MetricSource(Protocol):
    def windows(self, services: Sequence[ControlledService], now_s: float) -> dict[str, DemandWindow]: ...


def regular_grid(ts: np.ndarray, rates: np.ndarray, now_s: float, step_s: float | None = None) -> DemandWindow:
    """Rate samples at times `ts` (sorted) -> demand units per step on a grid of the median interval."""
    if ts.size == 0:
        return DemandWindow(now_s, step_s or DEFAULT_STEP_S, np.zeros(0))
    step = step_s or (float(np.median(np.diff(ts))) if ts.size >= 2 else DEFAULT_STEP_S)
    step = step if step > 0 else DEFAULT_STEP_S
    last = float(ts[-1])
    n = min(MAX_HISTORY_STEPS, int(round((last - float(ts[0])) / step)) + 1)
    idx = np.rint((ts - last) / step).astype(np.int64) + (n - 1)
    keep = idx >= 0
    grid = np.full(n, np.nan)
    grid[idx[keep]] = rates[keep]
    # hold a missing sample's predecessor for at most the staleness window, then no demand
    hold = max(0, int(math.floor(STALENESS_S / step)))
    seen = ~np.isnan(grid)
    last_seen = np.maximum.accumulate(np.where(seen, np.arange(n), -1))
    fill = (~seen) & (last_seen >= 0) & (np.arange(n) - last_seen <= hold)
    grid[fill] = grid[last_seen[fill]]
    grid[np.isnan(grid)] = 0.0
    np.maximum(grid, 0.0, out=grid)  # a negative rate is a broken exporter, not negative demand
    # steps between the newest sample and now: the newest rate holds within the staleness window
    gap = int(math.floor((now_s - last) / step + 1e-9))
    if gap > 0:
        tail = np.where(np.arange(1, gap + 1) * step <= STALENESS_S, grid[-1], 0.0)
        grid = np.concatenate([grid, tail])[-MAX_HISTORY_STEPS:]
    return DemandWindow(last + max(gap, 0) * step, step, grid * step)


class StoreMetrics:
    """Live demand from the store: one query per cycle for all services, summed over each workload's series."""

    def __init__(self, store, history_s: float) -> None:
        self.store, self.history_s = store, history_s

    def windows(self, services: Sequence[ControlledService], now_s: float) -> dict[str, DemandWindow]:
        """Two range scans on (metric, time) for all services at once; summing per workload and time in numpy
        (a GROUP BY per workload made SQLite sort the whole window: 4 s for 1,000 services)."""
        names = [s.name for s in services]
        demand = self._sum_by_workload_and_time(REQUESTS_PER_S, names, now_s - self.history_s, now_s)
        queued = self._sum_by_workload_and_time(QUEUE_WAITING, names, now_s - STALENESS_S, now_s)
        out = {}
        for service in services:
            ts, vals = demand.get(service.name, (np.zeros(0), np.zeros(0)))
            window = regular_grid(ts, vals, now_s, service.metrics_step_s)
            q = queued.get(service.name)
            queue = None if q is None else max(0.0, float(q[1][-1]))  # the newest sample of the summed queue
            out[service.name] = DemandWindow(window.end_s, window.step_s, window.units, queue)
        return out

    def _sum_by_workload_and_time(self, metric: str, names: list[str], after_s: float,
                                  until_s: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        from sqlalchemy import select

        from costplane.store import UsageSample

        wanted = set(names)
        query = (select(UsageSample.workload, UsageSample.ts_s, UsageSample.value)
                 .where(UsageSample.metric == metric, UsageSample.ts_s > after_s, UsageSample.ts_s <= until_s))
        if len(names) <= FEW_SERVICES:  # a few services (one team's cycle): their rows by the workload index
            query = query.where(UsageSample.workload.in_(names))
        with self.store.session() as s:
            rows = s.execute(query).all()
        rows = [r for r in rows if r[0] in wanted]
        if not rows:
            return {}
        workload = np.array([r[0] for r in rows], dtype=object)
        ts = np.fromiter((r[1] for r in rows), float, len(rows))
        value = np.fromiter((r[2] for r in rows), float, len(rows))
        keys, inverse = np.unique(workload, return_inverse=True)
        order = np.lexsort((ts, inverse))
        inverse, ts, value = inverse[order], ts[order], value[order]
        # one entry per (workload, time): the sum over that workload's series (one per replica)
        new_group = np.ones(ts.size, dtype=bool)
        new_group[1:] = (inverse[1:] != inverse[:-1]) | (ts[1:] != ts[:-1])
        starts = np.flatnonzero(new_group)
        sums = np.add.reduceat(value, starts)
        g_workload, g_ts = inverse[starts], ts[starts]
        bounds = np.searchsorted(g_workload, np.arange(keys.size + 1))
        return {str(keys[k]): (g_ts[bounds[k]:bounds[k + 1]], sums[bounds[k]:bounds[k + 1]])
                for k in range(keys.size)}
