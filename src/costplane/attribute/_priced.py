"""Cost of measured GPU series and of bill lines over any window (pure, vectorised over rows).

Two kinds of input reach the one cost path (costplane.costing) from the store:

**GPU series** (`SeriesUse`): one row per (series, time bucket) with the span the series held its
GPU inside that bucket and the GPU-seconds it used there. Each series is one GPU, priced at its
node's per-GPU share (instance price ÷ GPUs on the instance; `price_usd_per_gpu_hour`, NaN = no
price). Over a window W, for series s:

    held_s(s)  = Σ_rows |row span ∩ W|                 used_s(s) = Σ_rows used_gpu_s × |row span ∩ W| / |row span|
    cost(s)    = price(s) × held_s(s) / 3600            (rounded once to integer micro-USD)

A series with a workload label is ALLOCATED to it (efficiency = used / held); a series without one
is a GPU nobody claimed: IDLE on its node; a series without a price is UNPRICED (cost 0, GPU-hours
kept). So allocated + idle == what the priced GPUs cost over W, to the micro-dollar.

**Bill lines** (`BillLines`): each line's effective cost prorated by its overlap with W. A line
tagged with a workload, team or project is ALLOCATED to it, unless it is tagged `kind: idle`; an
untagged line is IDLE. Its used GPU-hours are its GPU-hours × the mean utilisation its workload's
series show over W (`used_ratio`), and efficiency is unknown (None) when that workload has none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from costplane.attribute._types import MICRO_PER_USD, CostKind, CostRow, CostSet, Window

Labels = tuple[tuple[str, str], ...]


def _overlap(start: np.ndarray, end: np.ndarray, window: Window) -> np.ndarray:
    return np.clip(np.minimum(end, window.end_s) - np.maximum(start, window.start_s), 0.0, None)


def _label(labels: Labels, name: str) -> str:
    return dict(labels).get(name, "")


@dataclass(frozen=True)
class SeriesUse:
    """GPU series aggregated per (series, bucket), sorted by `start_s`; per-series prices and labels."""

    series: np.ndarray            # int, index into labels / price_usd_per_gpu_hour
    start_s: np.ndarray           # held span inside the bucket: [start_s, end_s)
    end_s: np.ndarray
    used_gpu_s: np.ndarray        # GPU-seconds used in that span
    price_usd_per_gpu_hour: np.ndarray  # per series; NaN = unpriced
    labels: tuple[Labels, ...]    # per series: workload, team, project, node, cloud (missing workload -> idle)
    max_span_s: float = 3600.0    # longest row span (the bucket width): rows overlapping W are found by bisection

    @classmethod
    def empty(cls) -> SeriesUse:
        z = np.zeros(0)
        return cls(np.zeros(0, dtype=np.int64), z, z, z, z, ())

    def __len__(self) -> int:
        return len(self.series)

    def per_series(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """(held GPU-seconds, used GPU-seconds) of every series inside `window`."""
        n = len(self.labels)
        lo = int(np.searchsorted(self.start_s, window.start_s - self.max_span_s, side="left"))
        hi = int(np.searchsorted(self.start_s, window.end_s, side="left"))
        if hi <= lo:
            return np.zeros(n), np.zeros(n)
        s, e = self.start_s[lo:hi], self.end_s[lo:hi]
        held = _overlap(s, e, window)
        span = e - s
        frac = np.divide(held, span, out=np.zeros_like(held), where=span > 0)
        idx = self.series[lo:hi]
        return (np.bincount(idx, weights=held, minlength=n),
                np.bincount(idx, weights=self.used_gpu_s[lo:hi] * frac, minlength=n))

    def cost_set(self, window: Window) -> CostSet:
        held, used = self.per_series(window)
        rows = []
        for i in np.flatnonzero(held > 0):
            labels = self.labels[i]
            gpu_hours = float(held[i]) / 3600.0
            used_h = min(float(used[i]) / 3600.0, gpu_hours)
            price = float(self.price_usd_per_gpu_hour[i])
            if math.isnan(price):
                rows.append(CostRow(labels, CostKind.UNPRICED, 0, gpu_hours=gpu_hours, used_gpu_hours=used_h))
                continue
            micro = max(0, round(price * gpu_hours * MICRO_PER_USD))
            kind = CostKind.ALLOCATED if _label(labels, "workload") else CostKind.IDLE
            if kind is CostKind.IDLE:
                labels = tuple((k, v) for k, v in labels if k in ("node", "cloud"))
            rows.append(CostRow(labels, kind, micro, gpu_cost_micro_usd=micro, gpu_hours=gpu_hours,
                                used_gpu_hours=used_h))
        return CostSet(window, tuple(rows))

    def used_ratio(self, window: Window) -> dict[str, float]:
        """Used / held GPU-seconds per workload inside `window` (the mean utilisation bill lines borrow)."""
        held, used = self.per_series(window)
        h_by: dict[str, float] = {}
        u_by: dict[str, float] = {}
        for i in np.flatnonzero(held > 0):
            w = _label(self.labels[i], "workload")
            if w:
                h_by[w] = h_by.get(w, 0.0) + float(held[i])
                u_by[w] = u_by.get(w, 0.0) + float(used[i])
        return {w: min(u_by[w] / h, 1.0) for w, h in h_by.items() if h > 0}


@dataclass(frozen=True)
class BillLines:
    """Billed cost lines (FOCUS), sorted by `start_s`; labels per line."""

    start_s: np.ndarray
    end_s: np.ndarray
    cost_usd: np.ndarray
    gpu_hours: np.ndarray
    idle: np.ndarray              # bool: untagged, or tagged kind: idle
    labels: tuple[Labels, ...]

    @classmethod
    def empty(cls) -> BillLines:
        z = np.zeros(0)
        return cls(z, z, z, z, np.zeros(0, dtype=bool), ())

    def __post_init__(self) -> None:
        object.__setattr__(self, "_max_span_s", float(np.max(self.end_s - self.start_s)) if len(self.start_s) else 0.0)

    def __len__(self) -> int:
        return len(self.start_s)

    def cost_set(self, window: Window, used_ratio: Mapping[str, float] | None = None) -> CostSet:
        used_ratio = used_ratio or {}
        lo = int(np.searchsorted(self.start_s, window.start_s - self._max_span_s, side="left"))
        hi = int(np.searchsorted(self.start_s, window.end_s, side="left"))
        rows = []
        if hi > lo:
            s, e = self.start_s[lo:hi], self.end_s[lo:hi]
            span = e - s
            ov = _overlap(s, e, window)
            frac = np.where(span > 0, ov / np.where(span > 0, span, 1.0), (s >= window.start_s) & (s < window.end_s))
            micro = np.maximum(0, np.round(self.cost_usd[lo:hi] * frac * MICRO_PER_USD)).astype(np.int64)
            gpu_h = self.gpu_hours[lo:hi] * frac
            for k in np.flatnonzero(frac > 0):
                i = lo + int(k)
                labels = self.labels[i]
                if self.idle[i]:
                    rows.append(CostRow(tuple((a, b) for a, b in labels if a in ("node", "cloud")), CostKind.IDLE,
                                        int(micro[k]), int(micro[k]), gpu_hours=float(gpu_h[k])))
                    continue
                ratio = used_ratio.get(_label(labels, "workload"))
                rows.append(CostRow(labels, CostKind.ALLOCATED, int(micro[k]), int(micro[k]), gpu_hours=float(gpu_h[k]),
                                    used_gpu_hours=float(gpu_h[k]) * (ratio or 0.0), usage_measured=ratio is not None))
        return CostSet(window, tuple(rows))


def bill_is_idle(workload: str | None, team: str | None, project: str | None, tags: Mapping | None) -> bool:
    """The one rule for a bill line: idle when tagged `kind: idle` or when it names no workload, team or project."""
    if str((tags or {}).get("kind", "")).lower() == "idle":
        return True
    return not (workload or team or project)
