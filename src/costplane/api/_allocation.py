"""OpenCost-compatible allocation API: `GET /api/v1/allocation` (and OpenCost's own paths) from the one cost path.

Query parameters and answer follow OpenCost's `/allocation` (opencost.io/docs/integrations/api):

- `window`: a duration (`7d`, `24h`, `30m`), `today`, `yesterday`, `week`, `month`, `lastweek`,
  `lastmonth`, or a pair `START,END` of RFC 3339 times or epoch seconds. Durations end at the
  current whole minute, as `GET /api/v1/cost` does, so both read the same window.
- `aggregate`: `namespace`, `cluster`, `node`, `team`, `project`, `workload` (`controller` is an alias),
  `cloud`, `label:KEY`, or several joined by commas (names joined by `/`, as OpenCost names them).
- `step`: split the window into sets of this length (one `data` entry per set; default: one set).
- `includeIdle`: add the set's idle cost as `__idle__`; `shareIdle`: spread it over the allocations
  in proportion to their cost instead (OpenCost's `shareIdle=weighted`).

Answer: `{"code": 200, "data": [{NAME: allocation, ...}, ...]}`; each allocation carries OpenCost's
field names for what costplane measures (`cpuCost`, `gpuCost`, `ramCost`, `totalCost`, `gpuHours`,
`totalEfficiency`, `properties`, ...). Allocations lacking an aggregate key are `__unallocated__`,
GPU time with no known price `__unpriced__` (cost 0). `totalCost` is in whole cents per set, summed
with the same largest-remainder rounding as `/cost`, so Σ totalCost (with idle) equals its `total_usd`.
"""

from __future__ import annotations

import calendar
import re
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from costplane.api import _core
from costplane.api._analytics import COST_END_ROUND_S
from costplane.api._deps import CatalogDep, ClockDep, StoreDep, TeamScope, get_nodes
from costplane.api._errors import error_responses
from costplane.core.errors import InputError
from costplane.core.times import parse_timestamp

IDLE = "__idle__"
UNALLOCATED = "__unallocated__"
UNPRICED = "__unpriced__"
MAX_SETS = 400
_AGGREGATE_ALIASES = {"controller": "workload"}
_DAY_S = 86400.0

router = APIRouter(tags=["allocation"], responses=error_responses(400, 401, 403, 422))
root_router = APIRouter(tags=["allocation"], responses=error_responses(400, 401, 403, 422))


def _time_s(text: str) -> float:
    """Epoch seconds or RFC 3339 (ISO 8601 with a zone, as OpenCost requires), by the project's one parser."""
    text = text.strip()
    numeric = re.fullmatch(r"\d+(\.\d+)?", text) is not None
    if not numeric and "T" in text.upper() and not re.search(r"(?:[zZ]|[+-]\d\d:?\d\d)$", text):
        raise InputError(f"window time {text!r} has no time zone", fix="end it with Z or +00:00 (RFC 3339)")
    try:
        return parse_timestamp(text)
    except ValueError:
        raise InputError(f"window time {text!r} is neither RFC 3339 nor epoch seconds",
                         fix="write window=2026-01-01T00:00:00Z,2026-01-02T00:00:00Z") from None


def parse_window(window: str, now_s: float) -> tuple[float, float]:
    """OpenCost's `window` -> (start_s, end_s); durations end at the current whole minute (like /cost)."""
    w = (window or "").strip().lower()
    minute = float(int(now_s // COST_END_ROUND_S) * COST_END_ROUND_S)
    t = time.gmtime(now_s)
    today = float(calendar.timegm((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0)))
    month = float(calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0)))
    if "," in w:
        a, b = window.split(",", 1)
        start, end = _time_s(a), _time_s(b)
    elif w == "today":
        start, end = today, minute
    elif w == "yesterday":
        start, end = today - _DAY_S, today
    elif w == "week":
        start, end = today - t.tm_wday * _DAY_S, minute
    elif w == "lastweek":
        start = today - (t.tm_wday + 7) * _DAY_S
        start, end = start, start + 7 * _DAY_S
    elif w == "month":
        start, end = month, minute
    elif w == "lastmonth":
        prev = time.gmtime(month - _DAY_S)
        start, end = float(calendar.timegm((prev.tm_year, prev.tm_mon, 1, 0, 0, 0))), month
    else:
        end = minute
        start = end - _core.parse_duration_s(w)
    if not end > start:
        raise InputError(f"window {window!r} is empty (end is not after start)",
                         fix="use e.g. window=7d or window=START,END with START before END")
    return start, end


def parse_aggregate(aggregate: str) -> str:
    """OpenCost's `aggregate` -> the `attribute.aggregate` key (checked), aliases resolved."""
    from costplane.attribute import group_keys

    keys = [_AGGREGATE_ALIASES.get(k.strip(), k.strip()) for k in (aggregate or "").split(",") if k.strip()]
    return ",".join(group_keys(",".join(keys) or "namespace"))


def _name(row, by: str) -> str:
    from costplane.attribute import CostKind
    from costplane.attribute._types import NONE_KEY

    if row.kind is CostKind.IDLE:
        return IDLE
    if row.kind is CostKind.UNPRICED:
        return UNPRICED
    parts = [UNALLOCATED if p == NONE_KEY else p for p in (row.label(by) or NONE_KEY).split("/")]
    return UNALLOCATED if all(p == UNALLOCATED for p in parts) else "/".join(parts)


def _common_labels(cost_set, by: str) -> dict[str, dict[str, str]]:
    """Per group value of `by`: the labels every allocated row of the group shares (OpenCost's properties)."""
    from costplane.attribute import CostKind, group_keys
    from costplane.attribute._types import NONE_KEY

    keys = group_keys(by)
    common: dict[str, dict[str, str]] = {}
    for row in cost_set.rows:
        if row.kind is not CostKind.ALLOCATED:
            continue
        name = "/".join(row.label(k) or NONE_KEY for k in keys)
        labels = {k: v for k, v in row.labels if v}
        if name not in common:
            common[name] = labels
        else:
            common[name] = {k: v for k, v in common[name].items() if labels.get(k) == v}
    return common


def _allocation(row, name: str, cents: int, by: str, start_s: float, end_s: float,
                common: dict[str, str] | None = None) -> dict[str, Any]:
    from costplane.attribute import MICRO_PER_USD
    from costplane.costing import iso

    total = cents / 100
    parts = [row.cpu_cost_micro_usd, row.gpu_cost_micro_usd, row.ram_cost_micro_usd]
    if sum(parts) <= 0:
        parts = [0, row.cost_micro_usd, 0]  # a bill line names no resource split: it is GPU machine time
    scale = row.cost_micro_usd / sum(parts) if sum(parts) > 0 else 0.0  # shared idle lands in the parts
    cpu, gpu, ram = (round(p * scale / MICRO_PER_USD, 6) for p in parts)
    hours = (end_s - start_s) / 3600.0
    shared = {**(common or {}), **{k: v for k, v in row.labels if k != by}}
    props = {k: v for k, v in shared.items() if not k.startswith("label:")}
    labels = {k.removeprefix("label:"): v for k, v in shared.items() if k.startswith("label:")}
    if labels:
        props["labels"] = labels
    eff = row.efficiency
    window = {"start": iso(start_s), "end": iso(end_s)}
    return {
        "name": name, "properties": props, "window": window, "start": window["start"], "end": window["end"],
        "minutes": round(hours * 60.0, 6),
        "cpuCores": 0.0, "cpuCoreHours": 0.0, "cpuCost": cpu, "cpuCostAdjustment": 0.0, "cpuEfficiency": 0.0,
        "gpuCount": round(row.gpu_hours / hours, 6) if hours > 0 else 0.0, "gpuHours": round(row.gpu_hours, 6),
        "gpuCost": gpu, "gpuCostAdjustment": 0.0, "gpuEfficiency": None if eff is None else round(eff, 6),
        "ramBytes": 0.0, "ramByteHours": 0.0, "ramCost": ram, "ramCostAdjustment": 0.0, "ramEfficiency": 0.0,
        "pvBytes": 0.0, "pvByteHours": 0.0, "pvCost": 0.0, "pvCostAdjustment": 0.0,
        "networkTransferBytes": 0.0, "networkReceiveBytes": 0.0, "networkCost": 0.0, "networkCostAdjustment": 0.0,
        "loadBalancerCost": 0.0, "loadBalancerCostAdjustment": 0.0, "sharedCost": 0.0, "externalCost": 0.0,
        "totalCost": total, "totalEfficiency": 0.0 if eff is None else round(eff, 6),
    }


def allocation_sets(costs, start_s: float, end_s: float, step_s: float | None, aggregate: str, team: str | None,
                    include_idle: bool, share_idle: bool) -> list[dict[str, dict[str, Any]]]:
    """OpenCost's `data`: one {name: allocation} per step of [start, end) from a `costing.Costs`."""
    from costplane.attribute import CostKind, Window, to_cents
    from costplane.attribute import aggregate as group
    from costplane.attribute import share_idle as share
    from costplane.costing import scoped

    by = parse_aggregate(aggregate)
    step = step_s if step_s and step_s < end_s - start_s else end_s - start_s
    if (end_s - start_s) / step > MAX_SETS:
        raise InputError(f"step gives {int((end_s - start_s) / step)} sets, more than {MAX_SETS}",
                         fix="use a longer step or a shorter window")
    out = []
    s = start_s
    while s < end_s - 1e-9:
        e = min(s + step, end_s)
        cs = scoped(costs.cost_set(Window(s, e)), team)
        if share_idle:
            cs = share(cs)
        agg = group(cs, by)
        common = _common_labels(cs, by)
        cents = to_cents([r.cost_micro_usd for r in agg.rows])  # the set's total to the cent, as /cost rounds
        entries: dict[str, dict[str, Any]] = {}
        for row, c in zip(agg.rows, cents):
            if row.kind is CostKind.IDLE and not include_idle:
                continue
            if row.kind is CostKind.UNPRICED and row.gpu_hours <= 0:
                continue
            name = _name(row, by)
            if name in entries:  # idle split under several rows by aggregate: one __idle__
                prev = entries[name]
                prev["totalCost"] = round(prev["totalCost"] + c / 100, 2)
                continue
            entries[name] = _allocation(row, name, c, by, s, e, common.get(row.label(by) or "", {}))
        out.append(entries)
        s = e
    return out


def _flag(value: str | None) -> bool:
    return str(value or "").strip().lower() in ("true", "1", "yes", "weighted", "even")


def _answer(request: Request, team: str | None, store, clock, catalog, window: str, aggregate: str,
            step: str | None, include_idle: str | None, share_idle: str | None) -> dict[str, Any]:
    from costplane.costing import load_costs

    start_s, end_s = parse_window(window, clock.now_s())
    step_s = _core.parse_duration_s(step, "step") if step else None
    idle, shared = _flag(include_idle), _flag(share_idle)
    cache = request.app.state.cache
    key = ("allocation", start_s, end_s, step_s, aggregate, team, idle, shared, id(catalog), cache.version(store))

    def compute():
        costs = load_costs(store, catalog, start_s, end_s, nodes=get_nodes(request))
        return {"code": 200, "data": allocation_sets(costs, start_s, end_s, step_s, aggregate, team, idle, shared)}

    return cache.get_or_compute(key, compute)


Window = Annotated[str, Query(max_length=128, description="7d, 24h, today, lastweek, or START,END (RFC 3339)")]
Aggregate = Annotated[str, Query(max_length=512, description="namespace, cluster, team, project, workload, node, "
                                                             "cloud, label:KEY; several joined by commas")]
Step = Annotated[str | None, Query(max_length=16, description="length of each set, e.g. 1d (default: whole window)")]
Flag = Annotated[str | None, Query(max_length=16, description="true or false")]


@router.get("/allocation")
def get_allocation(team: TeamScope, store: StoreDep, clock: ClockDep, catalog: CatalogDep, request: Request,
                   window: Window = "7d", aggregate: Aggregate = "namespace", step: Step = None,
                   includeIdle: Flag = None, shareIdle: Flag = None) -> dict:  # noqa: N803 (OpenCost's names)
    """Cost allocations in OpenCost's shape (`{code, data: [{name: allocation}]}`), team-scoped like /cost."""
    return _answer(request, team, store, clock, catalog, window, aggregate, step, includeIdle, shareIdle)


@router.get("/allocation/compute")
def get_allocation_compute(team: TeamScope, store: StoreDep, clock: ClockDep, catalog: CatalogDep, request: Request,
                           window: Window = "7d", aggregate: Aggregate = "namespace", step: Step = None,
                           includeIdle: Flag = None, shareIdle: Flag = None) -> dict:  # noqa: N803
    """OpenCost's `/allocation/compute` path: the same answer as /allocation."""
    return _answer(request, team, store, clock, catalog, window, aggregate, step, includeIdle, shareIdle)


@root_router.get("/allocation")
def opencost_allocation(team: TeamScope, store: StoreDep, clock: ClockDep, catalog: CatalogDep, request: Request,
                        window: Window = "7d", aggregate: Aggregate = "namespace", step: Step = None,
                        includeIdle: Flag = None, shareIdle: Flag = None) -> dict:  # noqa: N803
    """OpenCost's own path (a client pointed at this host as if it were OpenCost); needs a token like /api/v1."""
    return _answer(request, team, store, clock, catalog, window, aggregate, step, includeIdle, shareIdle)


@root_router.get("/allocation/compute")
def opencost_allocation_compute(team: TeamScope, store: StoreDep, clock: ClockDep, catalog: CatalogDep,
                                request: Request, window: Window = "7d", aggregate: Aggregate = "namespace",
                                step: Step = None, includeIdle: Flag = None,  # noqa: N803
                                shareIdle: Flag = None) -> dict:  # noqa: N803
    """OpenCost's own `/allocation/compute` path."""
    return _answer(request, team, store, clock, catalog, window, aggregate, step, includeIdle, shareIdle)
