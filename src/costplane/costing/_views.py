"""The views every surface shows, computed from one `Costs`: the cost table, spend per bucket, budget spend.

`cost_view` is the contract's `costplane cost` JSON (and `GET /api/v1/cost`): rows in whole cents
that, with idle, add up to the total exactly. `spend_buckets` is spend over time (`/api/v1/spend`,
the report's chart, budgets' hourly spend): each bucket is the same CostSet computation over a
shorter window, so the buckets of a window add up to its cost.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from costplane.attribute import (
    MICRO_PER_USD,
    CostKind,
    CostSet,
    Window,
    aggregate,
    share_idle,
    to_cents,
)
from costplane.costing._store import Costs

UNPRICED_KEY = "(unpriced)"


def iso(ts_s: float) -> str:
    return datetime.fromtimestamp(ts_s, tz=UTC).isoformat().replace("+00:00", "Z")


def scoped(cs: CostSet, team: str | None) -> CostSet:
    """A team's view: its own allocated and unpriced rows; idle capacity belongs to no team."""
    if team is None:
        return cs
    return CostSet(cs.window, tuple(r for r in cs.rows if r.kind is not CostKind.IDLE and r.label("team") == team))


def _unpriced_by_node(cs: CostSet, costs: Costs) -> list[dict]:
    hours: dict[str, float] = {}
    for r in cs.of_kind(CostKind.UNPRICED):
        node = r.label("node") or ""
        hours[node] = hours.get(node, 0.0) + r.gpu_hours
    return [{**u, "gpu_hours": round(hours.get("" if u["node"] == "(no node label)" else u["node"], 0.0), 4)}
            for u in costs.unpriced]


def cost_view(costs: Costs, window: Window, by: str, shared_idle: bool = False,
              team: str | None = None) -> dict[str, Any]:
    """The `cost` JSON over `window` grouped by `by`; rows + idle == total to the cent."""
    cs = scoped(costs.cost_set(window), team)
    unpriced = _unpriced_by_node(cs, costs)
    if shared_idle:
        cs = share_idle(cs)
    agg = aggregate(cs, by)
    cents = to_cents([r.cost_micro_usd for r in agg.rows])
    rows, idle_cents = [], 0
    for r, c in zip(agg.rows, cents):
        if r.kind is CostKind.IDLE:
            idle_cents += c
            continue
        key = r.label(by) if r.kind is CostKind.ALLOCATED else UNPRICED_KEY
        rows.append({"key": key, "kind": r.kind.value, "cost_usd": c / 100, "gpu_hours": round(r.gpu_hours, 4),
                     "used_gpu_hours": round(r.used_gpu_hours, 4),
                     "efficiency": None if r.efficiency is None else round(r.efficiency, 4),
                     "gpu_cost_usd": round(r.gpu_cost_micro_usd / MICRO_PER_USD, 4),
                     "cpu_cost_usd": round(r.cpu_cost_micro_usd / MICRO_PER_USD, 4),
                     "ram_cost_usd": round(r.ram_cost_micro_usd / MICRO_PER_USD, 4)})
    rows.sort(key=lambda r: (r["kind"] != "allocated", -r["cost_usd"], r["key"] or ""))
    idle_gpu_hours = sum(r.gpu_hours for r in agg.rows if r.kind is CostKind.IDLE)
    return {
        "window": {"start": iso(window.start_s), "end": iso(window.end_s), "start_s": window.start_s,
                   "end_s": window.end_s, "hours": round(window.hours, 4)},
        "by": by, "source": costs.source, "share_idle": shared_idle, "empty": costs.empty,
        "includes_demo": costs.includes_demo,
        "rows": rows,
        "idle_usd": idle_cents / 100,
        "idle_gpu_hours": round(idle_gpu_hours, 4),
        "total_usd": sum(cents) / 100,
        "pricing": costs.pricing,
        "unpriced": unpriced,
    }


def spend_buckets(costs: Costs, start_s: float, end_s: float, bucket_s: float, by: str,
                  team: str | None = None) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """(bucket starts, key -> allocated USD per bucket, idle USD per bucket) over [start, end).

    The last bucket may be shorter (it ends at end_s). Rows without the `by` label count under "(none)".
    """
    starts = np.arange(start_s, end_s, bucket_s, dtype=float)
    by_key: dict[str, np.ndarray] = {}
    idle = np.zeros(len(starts))
    if costs.empty:
        return starts, by_key, idle
    for i, s in enumerate(starts):
        cs = scoped(costs.cost_set(Window(float(s), float(min(s + bucket_s, end_s)))), team)
        for row in cs.rows:
            if row.kind is CostKind.ALLOCATED:
                key = row.label(by) or "(none)"
                by_key.setdefault(key, np.zeros(len(starts)))[i] += row.cost_micro_usd / MICRO_PER_USD
            elif row.kind is CostKind.IDLE:
                idle[i] += row.cost_micro_usd / MICRO_PER_USD
    return starts, dict(sorted(by_key.items())), idle


def hourly_spend(costs: Costs, scope: str, name: str, start_s: float, end_s: float) -> np.ndarray:
    """Allocated spend of one team or project per hour from `start_s` to `end_s` (budgets)."""
    if end_s <= start_s:
        return np.zeros(0)
    _, by_key, _ = spend_buckets(costs, start_s, end_s, 3600.0, scope)
    return by_key.get(name, np.zeros(len(np.arange(start_s, end_s, 3600.0))))
