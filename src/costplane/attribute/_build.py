"""Turn GPU use series into allocations (pure): one GPU held per workload, charged per sampling interval.

A workload holds its GPU(s) from its first sample to its last plus one interval (the same rule as
`costplane waste`): each sample stands for the time to the next sample, the last one for the median
interval. Its request is the GPUs it holds (and the host share that comes with them); its usage is
utilisation × GPUs. Gaps between samples stay requested, with the last sample's utilisation held.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from costplane.attribute._allocate import Allocation


def series_allocations(workload: str, ts_s: np.ndarray, util_pct: np.ndarray, node: str, *,
                       gpus: float = 1.0, vcpus: float = 0.0, ram_gib: float = 0.0,
                       labels: Mapping[str, str] | None = None, interval_s: np.ndarray | None = None) -> list[Allocation]:
    """Allocations of one workload's series (sorted by time) on `node`."""
    labels = labels or {}
    if interval_s is None:
        from costplane.waste._series import intervals

        interval_s = intervals(np.asarray(ts_s, dtype=float))
    out = []
    for t, dt, u in zip(ts_s, interval_s, util_pct):
        used = min(max(float(u), 0.0), 100.0) / 100.0 * gpus
        out.append(Allocation(workload, node, float(t), float(t + dt), gpus, used, vcpus, 0.0, ram_gib, 0.0,
                              team=labels.get("team", ""), project=labels.get("project", "")))
    return out
