"""Core functions of the optional routes: cost allocation and waste from the store, forecasts, replays.

Each wraps one domain package (costplane.attribute, .waste, .forecast, .replay) and is imported
only when that package exists. Cost allocation reads stored cost lines: a line prorated to the
window becomes one CostRow (integer micro-USD), idle when it names no workload and no team or is
tagged `kind: idle`; rows are grouped with `attribute.aggregate` and rounded with `to_cents`, so
`sum(rows.cost_usd) + idle_usd == total_usd` to the cent. Used GPU-hours (for efficiency) are each
line's GPU-hours × its workload's mean `gpu_util_pct` over the window, when samples exist.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
from sqlalchemy import func, select

from costplane.core.errors import InputError
from costplane.core.types import Catalog
from costplane.store import CostRecord, Store, UsageSample

UTIL_METRIC = "gpu_util_pct"
VERSION_TTL_S = 1.0  # new rows show in cached answers within a second
COST_END_ROUND_S = 60.0  # cost windows end at the current whole minute (so answers can be cached a minute)
MAX_REPLAY_STEPS = 20_000
_compare_lock = threading.Lock()


def _mean_util(store: Store, start_s: float, end_s: float, team: str | None) -> dict[str, float]:
    query = (select(UsageSample.workload, func.avg(UsageSample.value))
             .where(UsageSample.metric == UTIL_METRIC, UsageSample.ts_s >= start_s, UsageSample.ts_s < end_s,
                    UsageSample.workload.is_not(None)).group_by(UsageSample.workload))
    if team is not None:
        query = query.where(UsageSample.team == team)
    with store.session() as s:
        return {w: min(max(float(v) / 100.0, 0.0), 1.0) for w, v in s.execute(query)}


def cost_allocation(store: Store, start_s: float, end_s: float, by: str, team: str | None) -> dict[str, Any]:
    """The contract's `costplane cost` JSON over [start, end) from stored cost lines (team-scoped)."""
    from costplane.attribute import GROUP_BYS, MICRO_PER_USD, CostKind, CostRow, CostSet, Window, aggregate, to_cents

    if by not in GROUP_BYS:
        raise InputError(f"by={by!r} is not one of {', '.join(GROUP_BYS)}", fix="use by=team")
    window = Window(start_s, end_s)
    # Columns, not ORM objects: a week of hourly lines is ~6 000 rows, and loading entities costs 5× more.
    query = (select(CostRecord.period_start_s, CostRecord.period_end_s, CostRecord.effective_cost_usd,
                    CostRecord.gpu_hours, CostRecord.tags, CostRecord.team, CostRecord.project,
                    CostRecord.workload, CostRecord.resource_id)
             .where(CostRecord.period_end_s > start_s, CostRecord.period_start_s < end_s))
    if team is not None:  # a team's view: its own lines; cluster idle belongs to no team
        query = query.where(CostRecord.team == team)
    util = _mean_util(store, start_s, end_s, team)
    rows = []
    with store.session() as s:
        for p_start, p_end, cost, line_gpu_hours, tags, l_team, l_project, l_workload, node in s.execute(query):
            share = window.overlap_s(p_start, p_end) / max(p_end - p_start, 1e-9)
            idle = (tags or {}).get("kind") == "idle" or (l_workload is None and l_team is None)
            gpu_hours = float(line_gpu_hours or 0.0) * share
            labels = tuple((k, v) for k, v in (("team", l_team), ("project", l_project),
                                               ("workload", l_workload), ("node", node)) if v)
            rows.append(CostRow(labels, CostKind.IDLE if idle else CostKind.ALLOCATED,
                                max(int(round(cost * share * MICRO_PER_USD)), 0),
                                gpu_hours=0.0 if idle else gpu_hours,
                                used_gpu_hours=0.0 if idle else gpu_hours * util.get(l_workload or "", 0.0)))
    grouped = aggregate(CostSet(window, tuple(rows)), by)
    cents = to_cents(r.cost_micro_usd for r in grouped.rows)
    out_rows, idle_cents = [], 0
    for row, c in zip(grouped.rows, cents):
        if row.kind is CostKind.ALLOCATED:
            eff = row.used_gpu_hours / row.gpu_hours if row.gpu_hours > 0 and row.label(by) else None
            out_rows.append({"key": row.label(by), "cost_usd": c / 100, "gpu_hours": round(row.gpu_hours, 6),
                             "efficiency": None if eff is None else round(eff, 6)})
        else:
            idle_cents += c
    out_rows.sort(key=lambda r: -r["cost_usd"])
    return {"window": {"start": start_s, "end": end_s}, "by": by, "rows": out_rows, "idle_usd": idle_cents / 100,
            "total_usd": sum(cents) / 100}


class ResultCache:
    """Results of read-only queries keyed by their arguments and the store's data version (bounded, thread-safe).

    The version is the newest row id of the tables a result reads: any insert changes it, so a cached
    answer misses new data for at most VERSION_TTL_S. Keys also carry the window end rounded to the minute by the caller,
    so a dashboard polling every few seconds costs one computation a minute, and a deletion shows
    within that minute.
    """

    def __init__(self, max_entries: int = 256) -> None:
        self._data: dict = {}
        self._lock = threading.Lock()
        self._compute_lock = threading.Lock()
        self._version: tuple | None = None
        self.max_entries = max_entries

    def version(self, store: Store) -> tuple:
        """`data_version`, read at most once per VERSION_TTL_S (monotonic): keeps the hot path off the database."""
        now = time.monotonic()
        with self._lock:
            if self._version is not None and self._version[1] > now:
                return self._version[0]
        version = data_version(store)
        with self._lock:
            self._version = (version, now + VERSION_TTL_S)
        return version

    def get_or_compute(self, key, compute):
        with self._lock:
            if key in self._data:
                return self._data[key]
        # Single flight: requests arriving while a result is computed wait for it instead of
        # computing it again (a cold minute under 500 req/s would otherwise start hundreds at once).
        with self._compute_lock:
            with self._lock:
                if key in self._data:
                    return self._data[key]
            value = compute()
            with self._lock:
                if len(self._data) >= self.max_entries:
                    self._data.pop(next(iter(self._data)))  # oldest first: dicts keep insertion order
                self._data[key] = value
            return value


def data_version(store: Store) -> tuple:
    """Newest row id of the tables a cached result reads: O(1) on the primary key, unlike count(*)."""
    with store.engine.connect() as conn:
        return tuple(conn.execute(select(func.max(m.id))).scalar() for m in (CostRecord, UsageSample))


def cost_allocation_cached(cache: ResultCache, store: Store, now_s: float, window_s: float, by: str,
                           team: str | None) -> dict[str, Any]:
    """`cost_allocation` over the window ending at the current whole minute, cached per data version."""
    end_s = float(np.floor(now_s / COST_END_ROUND_S) * COST_END_ROUND_S)
    key = ("cost", end_s, window_s, by, team, cache.version(store))
    return cache.get_or_compute(key, lambda: cost_allocation(store, end_s - window_s, end_s, by, team))


def _price_per_gpu_hour(store: Store, catalog: Catalog, gpu: str | None, price: float | None,
                        start_s: float, end_s: float, team: str | None) -> float:
    """The given price; else the cheapest on-demand per-GPU price of `gpu`; else what stored lines paid per GPU-hour."""
    if price is not None:
        return price
    if gpu:
        from costplane.core.gpus import resolve_gpu

        model = resolve_gpu(gpu, catalog.gpu_models)
        per_gpu = [o.price_usd_per_hour / o.gpus for o in catalog.offers
                   if o.gpu == model and o.price_usd_per_hour and o.gpus > 0]
        if per_gpu:
            return min(per_gpu)
    query = (select(func.sum(CostRecord.effective_cost_usd), func.sum(CostRecord.gpu_hours))
             .where(CostRecord.period_end_s > start_s, CostRecord.period_start_s < end_s,
                    CostRecord.workload.is_not(None), CostRecord.gpu_hours > 0))
    if team is not None:
        query = query.where(CostRecord.team == team)
    with store.session() as s:
        cost, hours = s.execute(query).one()
    if not hours:
        raise InputError("no GPU price: no gpu, no price_usd_per_gpu_hour, and no stored cost lines with GPU-hours",
                         fix="pass gpu=A100-80GB or price_usd_per_gpu_hour=2.5")
    return float(cost) / float(hours)


def waste_findings(store: Store, catalog: Catalog, start_s: float, end_s: float, team: str | None,
                   gpu: str | None, price: float | None, gpus_per_workload: int, idle_below_pct: float) -> dict:
    """`costplane waste` JSON on the stored `gpu_util_pct` samples of the window (team-scoped)."""
    from costplane.waste import UsageSeries, WasteConfig, find_waste, waste_report

    query = (select(UsageSample.workload, UsageSample.ts_s, UsageSample.value)
             .where(UsageSample.metric == UTIL_METRIC, UsageSample.ts_s >= start_s, UsageSample.ts_s < end_s,
                    UsageSample.workload.is_not(None)).order_by(UsageSample.workload, UsageSample.ts_s))
    if team is not None:
        query = query.where(UsageSample.team == team)
    with store.session() as s:
        rows = s.execute(query).all()
    if not rows:  # nothing measured: nothing wasted, and no price needed
        empty = WasteConfig(price or 0.0, gpus_per_workload, idle_below_pct, gpu=gpu)
        return {**waste_report([], empty), "window": {"start": start_s, "end": end_s}}
    cfg = WasteConfig(_price_per_gpu_hour(store, catalog, gpu, price, start_s, end_s, team), gpus_per_workload,
                      idle_below_pct, gpu=gpu)
    series = UsageSeries(np.array([r[0] for r in rows], dtype=object), np.array([r[1] for r in rows], dtype=float),
                         np.array([r[2] for r in rows], dtype=float))
    report = waste_report(find_waste(series, cfg, catalog=catalog), cfg)
    return {**report, "window": {"start": start_s, "end": end_s}}


def forecast_series(values: list[float], horizon: int, model: str, season: int, level: list[float]) -> dict:
    from costplane.forecast import get_model

    fc = get_model(model, season=season).forecast(np.asarray(values, dtype=float), h=horizon, level=tuple(level))
    return {"model": fc.model or model, "horizon": horizon, "season": season, "mean": fc.mean.tolist(),
            "lo": {str(k): v.tolist() for k, v in fc.lo.items()}, "hi": {str(k): v.tolist() for k, v in fc.hi.items()}}


def backtest_series(series: dict[str, list[float]], horizon: int, windows: int, model: str, season: int) -> dict:
    from costplane.forecast import backtest

    names = list(series)
    result = backtest([np.asarray(series[n], dtype=float) for n in names], horizon, windows, model, season)
    scored = {n for i, n in enumerate(names) if i not in {k for k, _ in result.skipped}}
    clean = lambda x: None if not np.isfinite(x) else round(float(x), 6)  # noqa: E731  (JSON has no NaN)
    return {"model": model, "series": len(scored), "horizon": horizon, "windows": windows,
            "mase": clean(result.mase), "smape": clean(result.smape),
            "skipped": [{"series": names[i], "reason": why} for i, why in result.skipped]}


def _replica_price(spec, catalog: Catalog) -> tuple[float, str]:
    if spec.price_usd_per_hour is not None:
        return spec.price_usd_per_hour, "service spec price_usd_per_hour"
    from costplane.placement import PlacementRequest, place

    best = place(PlacementRequest(gpu=spec.gpu, gpus_per_node=spec.gpus_per_replica, hours=1.0), catalog, limit=1)[0]
    return best.hourly_usd, f"{best.cloud} {best.region} {best.instance_type} on-demand"


def _public(result) -> dict:
    d = result.to_dict()
    ratio = d.get("cost_ratio_to_oracle")
    if ratio is not None and not np.isfinite(ratio):
        d["cost_ratio_to_oracle"] = None
    return {k: v for k, v in d.items() if k not in ("service", "trace")}


def replay_one(counts: list[float], step_s: float, service: dict, policy: str, catalog: Catalog,
               decision_interval_s: float) -> dict:
    from costplane.autoscale import POLICIES, AutoscaleConfig, parse_service_spec
    from costplane.replay.inference import replay_inference
    from costplane.traces import DemandSeries

    if policy not in POLICIES:
        raise InputError(f"unknown policy {policy!r}", fix=f"use one of {', '.join(POLICIES)}")
    spec = parse_service_spec(service, "service")
    price, _ = _replica_price(spec, catalog)
    series = DemandSeries(0.0, step_s, np.asarray(counts, dtype=float), source="request body")
    cfg = AutoscaleConfig(service=spec, decision_interval_s=decision_interval_s)
    return _public(replay_inference(series, spec, policy, price, cfg))


def compare_bundled(state: Any, catalog: Catalog) -> dict:
    """Every policy on the bundled trace and service, computed once per app (it is deterministic)."""
    with _compare_lock:
        cached = getattr(state, "replay_compare", None)
        if cached is not None:
            return cached
        from costplane.autoscale import AutoscaleConfig, read_service_spec
        from costplane.examples import example_path
        from costplane.replay.inference_compare import compare_policies
        from costplane.traces import load_trace

        series = load_trace(example_path("azure-conv-requests-per-s.csv"), None, "requests")
        spec = read_service_spec(example_path("replay-service.yaml"))
        price, source = _replica_price(spec, catalog)
        results = [_public(r) for r in compare_policies(series, spec, price, cfg=AutoscaleConfig(service=spec),
                                                          price_source=source)]
        state.replay_compare = {"trace": "examples/azure-conv-requests-per-s.csv", "service": spec.to_dict(),
                                "price_usd_per_hour": price, "price_source": source,
                                "oracle_cost_usd": results[0]["oracle_cost_usd"], "results": results}
        return state.replay_compare
