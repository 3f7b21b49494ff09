"""Cost allocation (OpenCost's model): assets are priced nodes, allocations are workloads on them.

For each asset (node) and each resource r ∈ {GPU, CPU, RAM} over the window W:

    asset cost        C      = price_usd_per_hour × hours(node lifetime ∩ W)
    resource cost     C_r    = unit_r × capacity_r × hours(...)            (unit prices: see _split.py)
    charged(a, r)            = max(request_a,r, usage_a,r) × hours(a ∩ node lifetime ∩ W)
    allocation cost   A(a,r) = unit_r × charged(a, r) × s_r
    idle              I_r    = C_r − Σ_a A(a, r)

where s_r = min(1, capacity_r·hours / Σ_a charged(a, r)) scales charges down when workloads claim
more than the node has (over-commit), so idle is never negative. Money is then made exact: C is
rounded once to integer micro-USD and split over (allocations…, idle) by the largest-remainder
method, so Σ allocations + idle == C holds exactly for every node, and summed over nodes.

A node without a price (not in the catalog) is never dropped: its allocations become UNPRICED rows
(cost 0, GPU-hours kept), and so does an allocation naming a node that is not an asset.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from costplane.attribute._split import split_node_price
from costplane.attribute._types import MICRO_PER_USD, CostKind, CostRow, CostSet, Window, apportion


@dataclass(frozen=True, slots=True)
class Asset:
    """A node that was paid for from `start_s` to `end_s`; `price_usd_per_hour` None = unpriced."""

    name: str
    gpus: int
    vcpus: float
    memory_gib: float
    price_usd_per_hour: float | None
    start_s: float
    end_s: float
    gpu: str = ""
    cloud: str = ""
    region: str = ""
    instance_type: str = ""


@dataclass(frozen=True, slots=True)
class Allocation:
    """A workload's hold on one node from `start_s` to `end_s` (one sampling interval, or a whole run).

    Requests and usage are averages over the interval: `gpus_used` = utilisation × GPUs held.
    """

    workload: str
    node: str
    start_s: float
    end_s: float
    gpus_requested: float
    gpus_used: float = 0.0
    vcpus_requested: float = 0.0
    vcpus_used: float = 0.0
    ram_gib_requested: float = 0.0
    ram_gib_used: float = 0.0
    team: str = ""
    project: str = ""

    def labels(self) -> tuple[tuple[str, str], ...]:
        return (("workload", self.workload), ("team", self.team), ("project", self.project), ("node", self.node))


_RESOURCES = ("gpu", "cpu", "ram")


def _unpriced_row(a: Allocation, hours: float) -> CostRow:
    held = max(a.gpus_requested, a.gpus_used, 0.0) * hours
    return CostRow(a.labels(), CostKind.UNPRICED, 0, gpu_hours=held,
                   used_gpu_hours=min(max(a.gpus_used, 0.0) * hours, held))


def _columns(allocs: Sequence[Allocation]) -> dict[str, np.ndarray]:
    n = len(allocs)
    cols = {name: np.fromiter((getattr(a, name) for a in allocs), float, n)
            for name in ("start_s", "end_s", "gpus_requested", "gpus_used", "vcpus_requested", "vcpus_used",
                         "ram_gib_requested", "ram_gib_used")}
    return cols


def _asset_rows(asset: Asset, allocs: Sequence[Allocation], window: Window) -> list[CostRow]:
    """Allocated rows (one per distinct labels) and one idle row for one node; their micro-USD sum to its cost.

    Vectorised over allocations with numpy; the integer split then runs over label groups, so a
    workload's thousands of sampling intervals on a node become one row.
    """
    start, end = max(asset.start_s, window.start_s), min(asset.end_s, window.end_s)
    node_hours = max(0.0, end - start) / 3600.0
    if not allocs:
        allocs = []
    col = _columns(allocs)
    hours = np.maximum(0.0, np.minimum(col["end_s"], end) - np.maximum(col["start_s"], start)) / 3600.0
    live = np.flatnonzero(hours > 0)
    if asset.price_usd_per_hour is None:
        return [_unpriced_row(allocs[i], float(hours[i])) for i in live]
    if node_hours <= 0:
        return []
    units = split_node_price(asset.price_usd_per_hour, asset.gpus, asset.vcpus, asset.memory_gib)
    unit = {"gpu": units.gpu_usd_per_gpu_hour, "cpu": units.cpu_usd_per_vcpu_hour, "ram": units.ram_usd_per_gib_hour}
    capacity_hours = {"gpu": asset.gpus * node_hours, "cpu": asset.vcpus * node_hours,
                      "ram": asset.memory_gib * node_hours}
    h = hours[live]
    charged = {
        "gpu": np.maximum(np.maximum(col["gpus_requested"][live], col["gpus_used"][live]), 0.0) * h,
        "cpu": np.maximum(np.maximum(col["vcpus_requested"][live], col["vcpus_used"][live]), 0.0) * h,
        "ram": np.maximum(np.maximum(col["ram_gib_requested"][live], col["ram_gib_used"][live]), 0.0) * h,
    }
    for r in _RESOURCES:  # over-commit: scale charges down so they fit what the node has
        claimed = math.fsum(charged[r])
        if claimed > capacity_hours[r] > 0 or (capacity_hours[r] <= 0 < claimed):
            charged[r] = charged[r] * (capacity_hours[r] / claimed)
    used = np.minimum(np.maximum(col["gpus_used"][live], 0.0) * h, charged["gpu"])
    groups: dict[tuple[tuple[str, str], ...], int] = {}
    gid = np.fromiter((groups.setdefault(allocs[i].labels(), len(groups)) for i in live), np.int64, len(live))
    n_groups = len(groups)
    total_micro = round(asset.price_usd_per_hour * node_hours * MICRO_PER_USD)
    resource_usd = [unit[r] * capacity_hours[r] for r in _RESOURCES]
    resource_micro = dict(zip(_RESOURCES, apportion(total_micro, resource_usd)))
    parts: dict[str, list[int]] = {}
    for r in _RESOURCES:
        group_usd = (unit[r] * np.bincount(gid, weights=charged[r], minlength=n_groups)).tolist()
        idle_usd = max(0.0, unit[r] * capacity_hours[r] - math.fsum(group_usd))
        parts[r] = apportion(resource_micro[r], group_usd + [idle_usd])  # last part = idle
    held = np.bincount(gid, weights=charged["gpu"], minlength=n_groups)
    used_g = np.bincount(gid, weights=used, minlength=n_groups)
    rows = []
    for labels, g_i in groups.items():
        g, c, m = parts["gpu"][g_i], parts["cpu"][g_i], parts["ram"][g_i]
        rows.append(CostRow(labels, CostKind.ALLOCATED, g + c + m, g, c, m, gpu_hours=float(held[g_i]),
                            used_gpu_hours=float(min(used_g[g_i], held[g_i]))))
    g, c, m = parts["gpu"][-1], parts["cpu"][-1], parts["ram"][-1]
    idle_gpu_hours = max(0.0, capacity_hours["gpu"] - math.fsum(charged["gpu"]))
    rows.append(CostRow((("node", asset.name),), CostKind.IDLE, g + c + m, g, c, m, gpu_hours=idle_gpu_hours))
    return rows


def allocate(assets: Iterable[Asset], allocations: Iterable[Allocation], window: Window) -> CostSet:
    """The CostSet of `window`: allocated rows per allocation, one idle row per priced node, unpriced rows."""
    by_node: dict[str, list[Allocation]] = {}
    for a in allocations:
        by_node.setdefault(a.node, []).append(a)
    rows: list[CostRow] = []
    asset_names = set()
    for asset in assets:
        asset_names.add(asset.name)
        rows.extend(_asset_rows(asset, by_node.get(asset.name, []), window))
    for node, allocs in by_node.items():
        if node in asset_names:
            continue
        for a in allocs:  # a workload on a node nobody priced: visible, unpriced
            h = window.overlap_s(a.start_s, a.end_s) / 3600.0
            if h > 0:
                rows.append(_unpriced_row(a, h))
    return CostSet(window, tuple(rows))


class AllocationIndex:
    """Allocations sorted by start, so the ones overlapping a window are found by bisection.

    Costing many short windows (an hourly spend timeline over a week) then touches each allocation a
    few times instead of once per window: O(N + windows × overlap) instead of O(N × windows).
    """

    def __init__(self, allocations: Iterable[Allocation]) -> None:
        self._allocs = sorted(allocations, key=lambda a: a.start_s)
        self._starts = [a.start_s for a in self._allocs]
        self._max_len_s = max((a.end_s - a.start_s for a in self._allocs), default=0.0)

    def __len__(self) -> int:
        return len(self._allocs)

    def overlapping(self, window: Window) -> list[Allocation]:
        import bisect

        lo = bisect.bisect_left(self._starts, window.start_s - self._max_len_s)
        hi = bisect.bisect_left(self._starts, window.end_s)
        return [a for a in self._allocs[lo:hi] if a.end_s > window.start_s]

    def cost_set(self, assets: Sequence[Asset], window: Window) -> CostSet:
        return allocate(assets, self.overlapping(window), window)
