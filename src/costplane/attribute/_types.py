"""Cost algebra values: Window, CostKind, CostRow and CostSet (OpenCost-style, kinds as an enum, units in names).

Money inside a CostSet is integer micro-USD (`*_micro_usd`), so sums and splits are exact: the
invariant `Σ allocated + Σ idle + Σ unpriced == total` holds to the micro-dollar, and `to_cents`
turns a set into whole cents with a largest-remainder split that keeps the same sum to the cent.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from costplane.core.errors import InputError

MICRO_PER_USD = 1_000_000
MICRO_PER_CENT = 10_000
GROUP_BYS = ("team", "project", "workload", "node", "cloud")


class CostKind(enum.Enum):
    """What a cost row is. Idle is a kind, never a magic name such as `__idle__`."""

    ALLOCATED = "allocated"   # paid for by a workload (max(request, usage) × unit price)
    IDLE = "idle"             # asset cost no workload requested or used
    UNPRICED = "unpriced"     # resources with no known price: kept visible, cost 0, never dropped


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time window [start_s, end_s) in UTC epoch seconds."""

    start_s: float
    end_s: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start_s) and math.isfinite(self.end_s)) or self.end_s <= self.start_s:
            raise InputError(f"window end {self.end_s} must be after start {self.start_s}",
                             fix="pass a positive --window such as 7d")

    @property
    def hours(self) -> float:
        return (self.end_s - self.start_s) / 3600.0

    def overlap_s(self, start_s: float, end_s: float) -> float:
        return max(0.0, min(end_s, self.end_s) - max(start_s, self.start_s))


@dataclass(frozen=True, slots=True)
class CostRow:
    """Cost of one (labels, kind) over the set's window.

    `labels` maps a dimension (team, project, workload, node) to its value; an idle row has only the
    labels that apply to idle capacity (its node). `gpu_hours` are the GPU-hours charged
    (max(request, usage)); `used_gpu_hours` what was really used; efficiency = used / charged.
    """

    labels: tuple[tuple[str, str], ...]
    kind: CostKind
    cost_micro_usd: int
    gpu_cost_micro_usd: int = 0
    cpu_cost_micro_usd: int = 0
    ram_cost_micro_usd: int = 0
    gpu_hours: float = 0.0
    used_gpu_hours: float = 0.0
    usage_measured: bool = True  # False: no usage data (e.g. a bill line alone), so efficiency is unknown

    def __post_init__(self) -> None:
        if self.cost_micro_usd < 0:
            raise ValueError(f"cost must not be negative, got {self.cost_micro_usd} micro-USD")

    def label(self, name: str) -> str | None:
        return dict(self.labels).get(name)

    @property
    def cost_usd(self) -> float:
        return self.cost_micro_usd / MICRO_PER_USD

    @property
    def efficiency(self) -> float | None:
        if not self.usage_measured or self.gpu_hours <= 0:
            return None
        return self.used_gpu_hours / self.gpu_hours


@dataclass(frozen=True)
class CostSet:
    """All cost rows of one window; `total_micro_usd` is what the priced assets cost over the window."""

    window: Window
    rows: tuple[CostRow, ...] = field(default=())

    @property
    def total_micro_usd(self) -> int:
        return sum(r.cost_micro_usd for r in self.rows)

    def of_kind(self, kind: CostKind) -> tuple[CostRow, ...]:
        return tuple(r for r in self.rows if r.kind is kind)

    def micro_usd_of(self, kind: CostKind) -> int:
        return sum(r.cost_micro_usd for r in self.rows if r.kind is kind)

    def combine(self, other: CostSet) -> CostSet:
        """Rows of both sets; refuses sets of different windows (their costs are not comparable)."""
        if other.window != self.window:
            raise InputError(f"cannot combine cost sets of windows {self.window} and {other.window}",
                             fix="compute both sets over the same --window and --end")
        return CostSet(self.window, self.rows + other.rows)


def _merge(rows: Sequence[CostRow], labels: tuple[tuple[str, str], ...], kind: CostKind) -> CostRow:
    return CostRow(
        labels=labels,
        kind=kind,
        cost_micro_usd=sum(r.cost_micro_usd for r in rows),
        gpu_cost_micro_usd=sum(r.gpu_cost_micro_usd for r in rows),
        cpu_cost_micro_usd=sum(r.cpu_cost_micro_usd for r in rows),
        ram_cost_micro_usd=sum(r.ram_cost_micro_usd for r in rows),
        gpu_hours=math.fsum(r.gpu_hours for r in rows),
        used_gpu_hours=math.fsum(r.used_gpu_hours for r in rows),
        usage_measured=any(r.usage_measured for r in rows),
    )


LABEL_PREFIX = "label:"  # `label:KEY` groups by a Kubernetes label of the workload (OpenCost's aggregate syntax)
PROPERTY_BYS = ("namespace", "cluster")  # filled from the workload's Kubernetes properties (attribute.with_properties)
NONE_KEY = "(none)"


def group_keys(by: str) -> tuple[str, ...]:
    """`team`, `namespace,label:app` -> the keys to group by; InputError naming the bad one."""
    keys = tuple(k.strip() for k in str(by).split(",") if k.strip())
    allowed = GROUP_BYS + PROPERTY_BYS
    for k in keys:
        if k not in allowed and not (k.startswith(LABEL_PREFIX) and len(k) > len(LABEL_PREFIX)):
            raise InputError(f"cannot group costs by {k!r}",
                             fix=f"use one of {', '.join(allowed)}, label:KEY, or several joined by commas")
    if not keys:
        raise InputError("nothing to group costs by", fix="use e.g. --by team or --by namespace,label:app")
    return keys


def aggregate(cost_set: CostSet, by: str) -> CostSet:
    """A new set with one row per (value of label `by`, kind); idle and unpriced rows keep their kind.

    `by` may name several keys joined by commas (`namespace,team`): a row per combination, labelled
    with each key and with `by` itself as the values joined by `/` (OpenCost's multi-aggregate name).
    Rows without a label are grouped under "(none)" so nothing is dropped. Totals are preserved
    exactly (integer micro-USD).
    """
    keys = group_keys(by)
    groups: dict[tuple[tuple[str, ...], CostKind], list[CostRow]] = {}
    for row in cost_set.rows:
        if row.kind is CostKind.ALLOCATED:
            key = tuple(row.label(k) or NONE_KEY for k in keys)
        else:
            key = (row.kind.value,)
        groups.setdefault((key, row.kind), []).append(row)

    def labels(key: tuple[str, ...], kind: CostKind) -> tuple[tuple[str, str], ...]:
        if kind is not CostKind.ALLOCATED:
            return ()
        if len(keys) == 1:
            return ((by, key[0]),)
        return tuple(zip(keys, key)) + ((by, "/".join(key)),)

    merged = tuple(_merge(rows, labels(key, kind), kind)
                   for (key, kind), rows in sorted(groups.items(), key=lambda kv: (kv[0][1].value, kv[0][0])))
    return CostSet(cost_set.window, merged)


def apportion(total: int, weights: Sequence[float]) -> list[int]:
    """Split integer `total` into parts proportional to `weights` that sum exactly to `total`.

    Largest-remainder (Hamilton) method: floor each exact share, then give the leftover units to the
    largest fractional parts (ties to the earlier index, so the split is deterministic).
    Zero total weight puts everything in the first part.
    """
    n = len(weights)
    if n == 0:
        if total:
            raise ValueError("cannot apportion a non-zero total over no parts")
        return []
    w_sum = math.fsum(weights)
    if w_sum <= 0:
        return [total] + [0] * (n - 1)
    exact = [total * w / w_sum for w in weights]
    parts = [math.floor(x) for x in exact]
    leftover = total - sum(parts)
    order = sorted(range(n), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:leftover]:
        parts[i] += 1
    return parts


def share_idle(cost_set: CostSet) -> CostSet:
    """A new set where idle cost is shared back over allocated rows in proportion to their cost.

    With no allocated cost to weigh by, idle stays idle (nothing to share it with).
    """
    allocated = cost_set.of_kind(CostKind.ALLOCATED)
    idle_micro = cost_set.micro_usd_of(CostKind.IDLE)
    if not allocated or idle_micro == 0 or sum(r.cost_micro_usd for r in allocated) == 0:
        return cost_set
    extra = apportion(idle_micro, [r.cost_micro_usd for r in allocated])
    shared = tuple(replace(r, cost_micro_usd=r.cost_micro_usd + e) for r, e in zip(allocated, extra))
    rest = tuple(r for r in cost_set.rows if r.kind not in (CostKind.ALLOCATED, CostKind.IDLE))
    return CostSet(cost_set.window, shared + rest)


def to_cents(micro_values: Iterable[int]) -> list[int]:
    """Round micro-USD amounts to whole cents so the cents sum to the rounded total exactly."""
    values = list(micro_values)
    total_cents = round(sum(values) / MICRO_PER_CENT)
    return apportion(total_cents, [max(v, 0) for v in values]) if any(values) else [0] * len(values)
