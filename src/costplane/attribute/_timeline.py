"""Spend over time (pure): the cost of consecutive buckets, grouped by a label, idle kept apart."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from costplane.attribute._types import MICRO_PER_USD, CostKind, CostSet, Window, aggregate


def spend_timeline(cost_of: Callable[[Window], CostSet], start_s: float, end_s: float, bucket_s: float,
                   by: str) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """(bucket start times, key -> USD per bucket for allocated cost, idle USD per bucket).

    The last bucket may be shorter (it ends at end_s). Each bucket is one CostSet, so every bucket's
    allocated + idle + unpriced equals what the assets cost in it.
    """
    starts = np.arange(start_s, end_s, bucket_s, dtype=float)
    by_key: dict[str, np.ndarray] = {}
    idle = np.zeros(len(starts))
    for i, s in enumerate(starts):
        agg = aggregate(cost_of(Window(float(s), float(min(s + bucket_s, end_s)))), by)
        for row in agg.rows:
            if row.kind is CostKind.ALLOCATED:
                by_key.setdefault(row.label(by) or "(none)", np.zeros(len(starts)))[i] += row.cost_micro_usd / MICRO_PER_USD
            elif row.kind is CostKind.IDLE:
                idle[i] += row.cost_micro_usd / MICRO_PER_USD
    return starts, dict(sorted(by_key.items())), idle
