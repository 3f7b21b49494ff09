"""Read the store into `Costs`: bill lines, or GPU series aggregated in SQL and priced from the catalog.

Where the money comes from, over the loaded span:

1. **bill lines** (`cost_records`, e.g. FOCUS ingest) when any overlaps the span: they are what was
   paid (discounts are already in their effective cost). GPU series then only give efficiency.
2. else **GPU series** (`usage_samples` of metric `gpu_util_pct`, as Prometheus/DCGM ingest and the
   agent write it): each series is one GPU of its node, priced by `costing._pricing`.

Series are aggregated per `source, series_key, hour` (count, Σ utilisation, first and last sample),
read from the hourly roll-up the store writes with the samples (raw samples only for the window's partial
edge hours), so a month of 5-minute samples of thousands of GPUs is never read row by row. From those buckets (rule, documented in docs/measure.md):

    step(s)  = the series' sampling step: median over its buckets of (last − first) / (count − 1)
    held(s)  = from its first sample to its last + step (gaps inside are paid: the GPU stayed held)
    used(s)  = Σ util/100 × step per bucket (each sample stands for one step; capped at what is held)

which equals the per-sample interval rule whenever samples come at a regular step, as Prometheus
range queries return them. Rows of the demo data (`source = demo-seed`, from `serve --seed`) are
read only when `include_demo` (never by budgets and alerts).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, func, literal_column, select, text

from costplane.attribute import BillLines, CostSet, SeriesUse, Window, bill_is_idle, with_properties
from costplane.core.types import Catalog
from costplane.costing._pricing import Pricer, price_or_nan
from costplane.costing._properties import kubernetes_inventory
from costplane.ingest._metrics import GPU_UTIL_PCT
from costplane.store import HOUR_S, CostRecord, Store, UsageHourly, UsageSample
from costplane.store._rollup import hour_index_sql

DEMO_SOURCE = "demo-seed"
# Internal charge lines (costplane hpo's trials): added on top of bills or GPU series, never a reason to
# switch a store whose money comes from GPU series over to bill lines.
CHARGE_SOURCES = ("hpo",)
BUCKET_S = HOUR_S  # the roll-up's hour (store._rollup)
BUCKET_COLUMNS = ["source", "series_key", "bucket", "n", "sum_v", "t0", "t1"]
SQL_WORK_MEM = "256MB"  # PostgreSQL, series_buckets only: a week of 4,096 GPUs' hourly groups hashes in memory
DEFAULT_STEP_S = 60.0  # a series of one sample: the usual DCGM scrape interval
EMPTY_FIX = ("fill it with `costplane ingest prometheus --url URL` (GPU use, priced from the catalog) or "
             "`costplane ingest focus BILL.csv` (billed cost), or look at the bundled sample with --sample")


@dataclass
class Costs:
    """What every cost view reads: the cost of any window, where it came from, and what has no price."""

    source: str
    cost_of: Callable[[Window], CostSet]
    newest_s: float | None = None
    oldest_s: float | None = None
    mode: str = "empty"                     # bills | series | sample | empty
    pricing: list[dict] = field(default_factory=list)   # per node: how its GPUs were priced
    unpriced: list[dict] = field(default_factory=list)  # per node: why not, and the fix
    includes_demo: bool = False
    series: SeriesUse | None = None
    properties: dict = field(default_factory=dict)  # workload -> Kubernetes properties (costing._properties)

    @property
    def empty(self) -> bool:
        return self.mode == "empty"

    def cost_set(self, window: Window) -> CostSet:
        return with_properties(self.cost_of(window), self.properties)


def _not_demo(column, include_demo: bool):
    return None if include_demo else column != DEMO_SOURCE


def _where(q, *conds):
    return q.where(*[c for c in conds if c is not None])


def newest_data_s(store: Store, include_demo: bool = True) -> float | None:
    """Newest end of a bill line or newest GPU sample (the default window end)."""
    with store.session() as s:
        a = s.scalar(_where(select(func.max(CostRecord.period_end_s)), _not_demo(CostRecord.source, include_demo)))
        b = s.scalar(_where(select(func.max(UsageSample.ts_s)).where(UsageSample.metric == GPU_UTIL_PCT),
                            _not_demo(UsageSample.source, include_demo)))
    values = [float(v) for v in (a, b) if v is not None]
    return max(values) if values else None


def holds_demo(store: Store) -> bool:
    with store.session() as s:
        return (s.scalar(select(CostRecord.id).where(CostRecord.source == DEMO_SOURCE).limit(1)) is not None or
                s.scalar(select(UsageSample.id).where(UsageSample.source == DEMO_SOURCE).limit(1)) is not None)


# ------------------------------------------------------------------ bill lines

def _bills(store: Store, start_s: float, end_s: float, include_demo: bool, charges: bool = False) -> BillLines:
    """Bill lines overlapping [start, end); with `charges`, only costplane's internal charge lines (CHARGE_SOURCES)."""
    q = _where(select(CostRecord.period_start_s, CostRecord.period_end_s, CostRecord.effective_cost_usd,
                      CostRecord.gpu_hours, CostRecord.workload, CostRecord.team, CostRecord.project,
                      CostRecord.resource_id, CostRecord.cloud, CostRecord.tags)
               .where(CostRecord.period_end_s > start_s, CostRecord.period_start_s < end_s),
               _not_demo(CostRecord.source, include_demo),
               CostRecord.source.in_(CHARGE_SOURCES) if charges else CostRecord.source.not_in(CHARGE_SOURCES))
    with store.session() as s:
        rows = s.execute(q).all()
    if not rows:
        return BillLines.empty()
    rows.sort(key=lambda r: r[0])
    labels = tuple((("workload", r[4] or ""), ("team", r[5] or ""), ("project", r[6] or ""), ("node", r[7] or ""),
                    ("cloud", r[8] or "")) for r in rows)
    col = lambda i: np.fromiter((float(r[i] or 0.0) for r in rows), float, len(rows))
    idle = np.fromiter((bill_is_idle(r[4], r[5], r[6], r[9]) for r in rows), bool, len(rows))
    return BillLines(col(0), col(1), col(2), col(3), idle, labels)


# ------------------------------------------------------------------ GPU series

def _raw_buckets_query(dialect: str, start_s: float, end_s: float, include_demo: bool, *conds):
    bucket = literal_column(hour_index_sql(dialect, "usage_samples.ts_s")).label("bucket")  # = the roll-up's hour
    return _where(select(UsageSample.source, UsageSample.series_key, bucket, func.count().label("n"),
                         func.sum(UsageSample.value).label("sum_v"), func.min(UsageSample.ts_s).label("t0"),
                         func.max(UsageSample.ts_s).label("t1"))
                  .where(UsageSample.metric == GPU_UTIL_PCT, UsageSample.ts_s >= start_s, UsageSample.ts_s < end_s),
                  _not_demo(UsageSample.source, include_demo), *conds).group_by(UsageSample.source,
                                                                                UsageSample.series_key, bucket)


def _fetch_buckets(store: Store, q) -> pd.DataFrame:
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SET LOCAL work_mem = '{SQL_WORK_MEM}'")
        rows = conn.execute(q).all()
    return pd.DataFrame(rows, columns=BUCKET_COLUMNS)


def whole_hours(start_s: float, end_s: float) -> tuple[int | None, int | None]:
    """Hours [lo, hi) (indexes, floor(ts / 3600)) whose every sample lies in [start, end): read from the roll-up.

    None: unbounded on that side (an infinite window edge). A sample of hour h has ts < (h + 1) × 3600 exactly,
    and ts ≥ h × 3600 less a rounding error far below a second (ts / 3600 is rounded before the floor), hence
    the 1-second margin at the start; hours outside [lo, hi) come from the raw samples."""
    lo = hi = None
    if math.isfinite(start_s):
        lo = math.ceil((start_s + 1.0) / BUCKET_S)
        while lo * BUCKET_S - 1.0 < start_s:
            lo += 1
    if math.isfinite(end_s):
        hi = math.floor(end_s / BUCKET_S)
        while hi * BUCKET_S > end_s:
            hi -= 1
    return lo, hi


def series_buckets(store: Store, start_s: float, end_s: float, include_demo: bool) -> pd.DataFrame:
    """One row per (source, series_key, hour) of gpu_util_pct in [start, end): n, Σ value, first and last ts.

    Whole hours inside the window come from the hourly roll-up (`usage_hourly`, written with the samples:
    4,096 GPUs × 30 days is 2.9M rows there against 35M samples of ~650 bytes); only the partial hours at the
    window's two edges are aggregated from the raw samples. The result equals `_series_buckets_raw` (every
    hour from the samples): the same rows, n, first and last sample; Σ value up to float rounding (partial
    sums added in another order).
    """
    lo, hi = whole_hours(start_s, end_s)
    if lo is not None and hi is not None and hi <= lo:
        return _series_buckets_raw(store, start_s, end_s, include_demo)
    dialect = store.engine.dialect.name
    h = UsageHourly
    rolled = _where(select(h.source, h.series_key, (h.hour_s / BUCKET_S).label("bucket"), h.n.label("n"),
                           h.sum_value.label("sum_v"), h.min_ts_s.label("t0"), h.max_ts_s.label("t1"))
                    .where(h.metric == GPU_UTIL_PCT),
                    None if lo is None else h.hour_s >= lo * BUCKET_S,
                    None if hi is None else h.hour_s < hi * BUCKET_S,
                    _not_demo(h.source, include_demo))
    frames = [_fetch_buckets(store, rolled)]
    # Each edge: a narrow range on ts (the (metric, ts_s) index), widened by the margin, then exactly by hour.
    bucket = literal_column(hour_index_sql(dialect, "usage_samples.ts_s"))
    if lo is not None:
        frames.append(_fetch_buckets(store, _raw_buckets_query(dialect, start_s, min(end_s, lo * BUCKET_S),
                                                               include_demo, bucket < lo)))
    if hi is not None:
        frames.append(_fetch_buckets(store, _raw_buckets_query(dialect, max(start_s, hi * BUCKET_S - 1.0), end_s,
                                                               include_demo, bucket >= hi)))
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame([], columns=BUCKET_COLUMNS)
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _series_buckets_raw(store: Store, start_s: float, end_s: float, include_demo: bool) -> pd.DataFrame:
    """`series_buckets` from the raw samples only (one GROUP BY over the window): the reference the roll-up is
    tested against, and the whole path for windows without a whole hour.

    On PostgreSQL with work_mem raised for this transaction only, so the groups are hashed in memory
    (batches spill beyond it) instead of the window's rows, wide keys and all, being sorted on disk."""
    return _fetch_buckets(store, _raw_buckets_query(store.engine.dialect.name, start_s, end_s, include_demo))


_PG_FIRSTS = text(
    "SELECT u.source, u.series_key, u.workload, u.team, u.project, u.labels FROM usage_samples u "
    "JOIN unnest(CAST(:src AS text[]), CAST(:key AS text[]), CAST(:ts AS float8[])) AS k(source, series_key, ts_s) "
    "ON u.source = k.source AND u.metric = :metric AND u.series_key = k.series_key AND u.ts_s = k.ts_s"
).columns(UsageSample.source, UsageSample.series_key, UsageSample.workload, UsageSample.team, UsageSample.project,
          UsageSample.labels)


def _series_labels(store: Store, firsts: pd.DataFrame) -> dict[tuple[str, str], tuple]:
    """(source, series_key) -> (workload, team, project, labels) read from each series' first sample (by its key).

    PostgreSQL: one join against the keys as arrays (an index lookup per series on uq_usage_sample);
    a 500-tuple IN list per query cost more to plan than to run (0.35 s per 500 series). SQLite: one point
    lookup per series (the IN list made it read the metric's rows: 5.3 s for 512 series × 7 days)."""
    out: dict[tuple[str, str], tuple] = {}
    keys = list(zip(firsts.source, firsts.series_key, firsts.t0.astype(float)))
    with store.session() as s:
        if store.engine.dialect.name == "postgresql":
            src, key, ts = (list(c) for c in zip(*keys)) if keys else ([], [], [])
            batches = [s.execute(_PG_FIRSTS, {"src": src, "key": key, "ts": ts, "metric": GPU_UTIL_PCT})]
        else:  # one point lookup per series on uq_usage_sample (a 500-tuple IN list scanned the metric's rows)
            u = UsageSample
            q = select(u.source, u.series_key, u.workload, u.team, u.project, u.labels).where(
                u.source == bindparam("s"), u.metric == GPU_UTIL_PCT, u.series_key == bindparam("k"),
                u.ts_s == bindparam("t"))
            batches = (s.execute(q, {"s": src_, "k": key_, "t": ts_}) for src_, key_, ts_ in keys)
        for batch in batches:
            for src_, key_, workload, team, project, labels in batch:
                out[(src_, key_)] = (workload, team, project, labels or {})
    return out


def _steps(df: pd.DataFrame) -> pd.Series:
    """Sampling step per series id: median within-bucket step, else median gap between buckets' first samples."""
    within = df[df.n > 1]
    step = ((within.t1 - within.t0) / (within.n - 1)).groupby(within.sid).median()
    missing = df.loc[~df.sid.isin(step.index)]
    if len(missing):
        gaps = missing.sort_values(["sid", "t0"]).groupby("sid").t0.diff().dropna()
        step = pd.concat([step, gaps.groupby(missing.loc[gaps.index, "sid"]).median()])
    step = step[step > 0]
    default = float(step.median()) if len(step) else DEFAULT_STEP_S
    return step.reindex(range(int(df.sid.max()) + 1)).fillna(default)


def series_use(store: Store, pricer: Pricer, start_s: float, end_s: float,
               include_demo: bool) -> tuple[SeriesUse, list[dict], list[dict]]:
    """The store's GPU series over [start, end), priced: (SeriesUse, pricing per node, unpriced per node)."""
    df = series_buckets(store, start_s, end_s, include_demo)
    if df.empty:
        return SeriesUse.empty(), [], []
    df["t0"], df["t1"], df["n"], df["sum_v"] = (df.t0.astype(float), df.t1.astype(float), df.n.astype(float),
                                                df.sum_v.astype(float))
    df["sid"] = df.groupby(["source", "series_key"], sort=True).ngroup()
    firsts = df.loc[df.groupby("sid").t0.idxmin(), ["sid", "source", "series_key", "t0"]].sort_values("sid")
    meta = _series_labels(store, firsts)
    step = _steps(df).to_numpy()
    df = df.sort_values(["sid", "t0"], kind="stable").reset_index(drop=True)
    sid = df.sid.to_numpy()
    t0 = df.t0.to_numpy()
    last = df.groupby("sid").t1.max().to_numpy()
    # held rows: each bucket's row runs from its first sample to the next bucket's first sample, the
    # series' last one to its last sample + one step: contiguous from the first sample to the last + step.
    row_start = t0
    next_start = np.r_[row_start[1:], np.inf]
    last_of_series = np.r_[sid[1:] != sid[:-1], True]
    row_end = np.where(last_of_series, last[sid] + step[sid], next_start)
    used = np.minimum(df.sum_v.to_numpy() / 100.0 * step[sid], row_end - row_start)
    used = np.clip(used, 0.0, None)
    labels, prices, pricing, unpriced = [], [], {}, {}
    for r in firsts.itertuples():
        workload, team, project, raw = meta.get((r.source, r.series_key), (None, None, None, {}))
        p = pricer.price(raw or {})
        labels.append((("workload", workload or ""), ("team", team or ""), ("project", project or ""),
                       ("node", p.node), ("cloud", p.cloud)))
        prices.append(price_or_nan(p))
        book = pricing if p.usd_per_gpu_hour is not None else unpriced
        entry = book.setdefault((p.node, p.rule), {"node": p.node or "(no node label)", "instance_type": p.instance_type,
                                                   "cloud": p.cloud, "region": p.region, "series": 0,
                                                   "example_series": r.series_key})
        entry["series"] += 1
        if p.usd_per_gpu_hour is not None:
            entry.update(usd_per_gpu_hour=round(p.usd_per_gpu_hour, 6), rule=p.rule)
        else:
            entry.update(reason=p.rule, fix=p.fix)
    order = np.argsort(row_start, kind="stable")
    spans = row_end - row_start
    use = SeriesUse(sid[order].astype(np.int64), row_start[order], row_end[order], used[order], np.asarray(prices, float),
                    tuple(labels), max_span_s=float(spans.max()) if len(spans) else BUCKET_S)
    return use, list(pricing.values()), list(unpriced.values())


# ------------------------------------------------------------------ the one loader

def _plus(cost_of: Callable[[Window], CostSet], charges: BillLines) -> Callable[[Window], CostSet]:
    """`cost_of` with the charge lines' rows added (same window)."""
    if not len(charges):
        return cost_of
    return lambda w: cost_of(w).combine(charges.cost_set(w))


def load_costs(store: Store, catalog: Catalog, start_s: float, end_s: float, *,
               nodes: Mapping[str, Mapping[str, str]] | None = None, gpu: str | None = None,
               price_usd_per_gpu_hour: float | None = None, include_demo: bool = True) -> Costs:
    """The store's costs over [start, end): bill lines if any overlap it, else priced GPU series, else empty."""
    if gpu:
        from costplane.core.gpus import resolve_gpu

        gpu = resolve_gpu(gpu, catalog.gpu_models)
    kube_nodes, props = kubernetes_inventory(store)  # what `costplane ingest kubernetes` stored
    pricer = Pricer(catalog, {**kube_nodes, **dict(nodes or {})}, gpu, price_usd_per_gpu_hour)
    series, pricing, unpriced = series_use(store, pricer, start_s - BUCKET_S, end_s, include_demo)
    bills = _bills(store, start_s, end_s, include_demo)
    charges = _bills(store, start_s, end_s, include_demo, charges=True)
    if not len(bills) and not len(series):
        bills, charges = charges, BillLines.empty()
    demo = include_demo and holds_demo(store)
    demo_note = " (includes demo data from `serve --seed`; `costplane db purge-demo` removes it)" if demo else ""
    if len(bills):
        def cost_of(w: Window, _b=bills, _s=series) -> CostSet:
            return _b.cost_set(w, _s.used_ratio(w))

        return Costs(f"store {store.url}: {len(bills)} bill lines" + demo_note, _plus(cost_of, charges),
                     float(bills.end_s.max()), float(bills.start_s.min()), "bills", includes_demo=demo, series=series,
                     properties=props)
    if len(series):
        n = len(series.labels)
        return Costs(f"store {store.url}: {n} GPU series ({GPU_UTIL_PCT}) priced from {catalog.source}" + demo_note,
                     _plus(series.cost_set, charges), float(series.end_s.max()), float(series.start_s.min()), "series",
                     pricing, unpriced, demo, series, props)
    return Costs(f"store {store.url} holds no cost data for this window: {EMPTY_FIX}",
                 lambda w: CostSet(w, ()), None, None, "empty", includes_demo=demo, properties=props)
