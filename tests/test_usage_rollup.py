"""The hourly roll-up (`usage_hourly`): kept exactly in step with usage_samples at write time, and the cost path
that reads it gives what the raw samples give, to the micro-dollar, for any window edges."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, text

from costplane.costing import _store as costing_store
from costplane.costing import load_costs
from costplane.store import Store, UsageHourly, UsageSample, rebuild_sql

T0 = 1_782_864_000.0  # 2026-07-01 00:00 UTC
SERIES = (  # (source, series_key, workload, team, labels): labelled and idle GPUs, two sources
    ("prometheus", "DCGM{node-a,0}", "train-a", "research", {"Hostname": "node-a", "gpu": "0"}),
    ("prometheus", "DCGM{node-a,1}", None, None, {"Hostname": "node-a", "gpu": "1"}),
    ("agent", "DCGM{node-b,0}", "chat", "product", {"Hostname": "node-b", "gpu": "0"}),
    ("demo-seed", "DCGM{node-c,0}", "demo", "demo", {"Hostname": "node-c", "gpu": "0"}),
)


def _row(i: int, ts: float, value: float, metric: str = "gpu_util_pct") -> dict:
    source, key, workload, team, labels = SERIES[i]
    return {"source": source, "metric": metric, "series_key": key, "ts_s": ts, "value": value,
            "workload": workload, "team": team, "project": None if team is None else f"{team}-p",
            "labels": {**labels, "node_kubernetes_io_instance_type": "a2-ultragpu-8g"}}


def _rollup(store: Store) -> dict:
    with store.session() as s:
        return {(r.source, r.metric, r.series_key, r.hour_s): (r.n, r.sum_value, r.min_ts_s, r.max_ts_s)
                for r in s.scalars(select(UsageHourly))}


def _rebuilt(store: Store) -> dict:
    """The roll-up recomputed from the raw samples with the migration's INSERT ... SELECT, in a scratch table."""
    sql = rebuild_sql(store.engine.dialect.name).replace("INSERT INTO usage_hourly", "INSERT INTO rollup_check")
    with store.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TEMPORARY TABLE rollup_check (source VARCHAR(64), metric VARCHAR(128), "
                             "series_key VARCHAR(512), hour_s FLOAT, n INTEGER, sum_value FLOAT, min_ts_s FLOAT, "
                             "max_ts_s FLOAT)")
        conn.exec_driver_sql(sql)
        rows = conn.execute(text("SELECT source, metric, series_key, hour_s, n, sum_value, min_ts_s, max_ts_s "
                                 "FROM rollup_check")).all()
        conn.exec_driver_sql("DROP TABLE rollup_check")
    return {tuple(r[:4]): tuple(r[4:]) for r in rows}


def _same_rollup(store: Store) -> None:
    have, want = _rollup(store), _rebuilt(store)
    assert have.keys() == want.keys()
    for k, (n, s, lo, hi) in have.items():
        wn, ws, wlo, whi = want[k]
        assert (n, lo, hi) == (wn, wlo, whi), k
        assert s == pytest.approx(ws, rel=1e-12, abs=1e-9), k


def _costs(store: Store, catalog, start: float, end: float, include_demo: bool) -> dict:
    costs = load_costs(store, catalog, start, end, price_usd_per_gpu_hour=3.21, include_demo=include_demo)
    from costplane.attribute import Window

    cs = costs.cost_set(Window(start, end))
    return {(r.labels, r.kind): (r.cost_micro_usd, r.gpu_hours, r.used_gpu_hours) for r in cs.rows}


def _same_costs(store: Store, catalog, start: float, end: float, include_demo: bool, monkeypatch) -> None:
    via_rollup = _costs(store, catalog, start, end, include_demo)
    with monkeypatch.context() as m:
        m.setattr(costing_store, "series_buckets", costing_store._series_buckets_raw)
        via_raw = _costs(store, catalog, start, end, include_demo)
    assert via_rollup.keys() == via_raw.keys()
    for k, (micro, held, used) in via_rollup.items():
        raw_micro, raw_held, raw_used = via_raw[k]
        assert abs(micro - raw_micro) <= 1, k  # micro-USD: the same to the cent (Σ util in another order)
        assert held == pytest.approx(raw_held, rel=1e-12, abs=1e-12), k
        assert used == pytest.approx(raw_used, rel=1e-9, abs=1e-9), k


def _same_buckets(store: Store, start: float, end: float, include_demo: bool) -> None:
    key = ["source", "series_key", "t0"]
    a = costing_store.series_buckets(store, start, end, include_demo).sort_values(key).reset_index(drop=True)
    b = costing_store._series_buckets_raw(store, start, end, include_demo).sort_values(key).reset_index(drop=True)
    assert len(a) == len(b)
    for col in ("source", "series_key"):
        assert list(a[col]) == list(b[col])
    for col in ("n", "t0", "t1"):
        assert a[col].astype(float).tolist() == b[col].astype(float).tolist()
    pd.testing.assert_series_equal(a.sum_v.astype(float), b.sum_v.astype(float), rtol=1e-12, atol=1e-9)


# ------------------------------------------------------------------ write path: exact and idempotent

def test_rollup_holds_each_hours_count_sum_first_and_last_and_reingest_adds_nothing(db_url):
    store = Store.open(db_url)
    rows = [_row(0, T0 + 300.0 * k, float(k % 7) * 10.5) for k in range(30)]  # 12 + 12 + 6 over three hours
    assert store.add_usage_samples(rows) == 30
    assert store.add_usage_samples(rows) == 0  # re-ingest: nothing twice
    # one new sample before the first (new first), one duplicate with another value (skipped, not added)
    assert store.add_usage_samples([_row(0, T0 + 299.5, 50.0), {**rows[0], "value": 99.0}]) == 1
    hours = {k[3]: v for k, v in _rollup(store).items()}
    assert hours == {T0: (13, 0 + 10.5 + 21 + 31.5 + 42 + 52.5 + 63 + 0 + 10.5 + 21 + 31.5 + 42 + 50.0, T0, T0 + 3300.0),
                     T0 + 3600.0: (12, sum(float(k % 7) * 10.5 for k in range(12, 24)), T0 + 3600.0, T0 + 6900.0),
                     T0 + 7200.0: (6, sum(float(k % 7) * 10.5 for k in range(24, 30)), T0 + 7200.0, T0 + 8700.0)}
    _same_rollup(store)


def test_a_failed_write_leaves_neither_samples_nor_rollup(db_url):
    from costplane.core.errors import InputError

    store = Store.open(db_url)
    store.add_usage_samples([_row(0, T0, 10.0)])
    with pytest.raises(InputError):
        store.add_usage_samples([_row(0, T0 + 60.0, 20.0), {**_row(0, T0 + 120.0, 1.0), "value": float("nan")}])
    assert store.count(UsageSample) == 1
    assert _rollup(store) == {("prometheus", "gpu_util_pct", "DCGM{node-a,0}", T0): (1, 10.0, T0, T0)}


def test_migration_backfills_the_rollup_from_stored_samples(tmp_path):
    """A store at revision 0003 with samples: upgrading to head fills usage_hourly from them."""
    from alembic import command

    from costplane.store._engine import _alembic_config, make_engine

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    cfg = _alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "i14_0003_security")
        conn.execute(UsageSample.__table__.insert(), [_row(i % 3, T0 - 1000.0 + 250.0 * i, float(i)) for i in range(40)])
    store = Store.open(url)
    assert sum(v[0] for v in _rollup(store).values()) == 40
    _same_rollup(store)


def test_purge_demo_removes_the_demo_rollup_rows(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("COSTPLANE_DB_URL", raising=False)
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    store = Store.open(url)
    store.add_usage_samples([_row(3, T0 + 300.0 * k, 40.0) for k in range(24)] +
                            [_row(0, T0 + 300.0 * k, 60.0) for k in range(24)])
    out = cli("db", "purge-demo", "--db", url, "--json").json()
    assert out["removed"] == {"cost_records": 0, "usage_samples": 24, "usage_hourly": 2}
    assert {k[0] for k in _rollup(store)} == {"prometheus"}
    _same_rollup(store)


# ------------------------------------------------------------------ read path: roll-up = raw, any window

def test_whole_hours_lie_inside_the_window():
    assert costing_store.whole_hours(T0, T0 + 7200.0) == (T0 // 3600 + 1, T0 // 3600 + 2)  # first hour from raw (margin)
    assert costing_store.whole_hours(T0 - 1.0, T0 + 7199.0) == (T0 // 3600, T0 // 3600 + 1)
    lo, hi = costing_store.whole_hours(T0 + 10.0, T0 + 3000.0)
    assert hi <= lo


samples = st.lists(st.tuples(st.integers(0, len(SERIES) - 1),
                             st.floats(0.0, 4 * 3600.0, allow_nan=False),  # irregular times over ~4 hours
                             st.integers(0, 10_000).map(lambda v: v / 100.0)),
                   min_size=1, max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(samples, min_size=1, max_size=3), again=st.integers(0, 2),
       start=st.floats(-3600.0, 4 * 3600.0), length=st.floats(1.0, 6 * 3600.0),
       snap=st.sampled_from([None, "start", "both"]), include_demo=st.booleans())
def test_the_cost_path_via_the_rollup_equals_the_raw_samples(tmp_path_factory, bundled_catalog, monkeypatch,
                                                             batches, again, start, length, snap, include_demo):
    store = _shared_sqlite(tmp_path_factory)
    for batch in batches:
        store.add_usage_samples([_row(i, T0 + dt, v) for i, dt, v in batch])
    for batch in itertools.islice(itertools.cycle(batches), again):  # re-ingested duplicates (values may differ)
        store.add_usage_samples([_row(i, T0 + dt, v + 1.0) for i, dt, v in batch])
    start = T0 + start
    end = start + length
    if snap:  # windows on hour boundaries as well as arbitrary ones
        start = (start // 3600.0) * 3600.0
        end = (end // 3600.0 + 1) * 3600.0 if snap == "both" else end
    try:
        _same_rollup(store)
        _same_buckets(store, start, end, include_demo)
        _same_costs(store, bundled_catalog, start, end, include_demo, monkeypatch)
    finally:
        with store.session() as s:
            s.execute(delete(UsageSample))
            s.execute(delete(UsageHourly))


_STORES: dict = {}


def _shared_sqlite(tmp_path_factory) -> Store:
    """One migrated SQLite store for all examples (emptied after each)."""
    if "s" not in _STORES:
        _STORES["s"] = Store.open(f"sqlite:///{tmp_path_factory.mktemp('rollup') / 'h.db'}")
    return _STORES["s"]


def test_postgresql_cost_path_via_the_rollup_equals_the_raw_samples(fresh_postgres_url, bundled_catalog,
                                                                    monkeypatch):
    store = Store.open(fresh_postgres_url)
    rows = [_row(i, T0 - 1800.0 + 287.0 * k + 13.0 * i, float((k * 37 + i) % 101)) for i in range(4) for k in range(60)]
    store.add_usage_samples(rows[::2])
    store.add_usage_samples(rows)  # half of them again
    store.add_usage_samples([{**r, "value": 0.0} for r in rows[:50]])  # duplicates with other values: skipped
    _same_rollup(store)
    for start, end in ((T0 - 1800.0, T0 + 4 * 3600.0), (T0 + 1234.5, T0 + 3 * 3600.0 + 17.25), (T0, T0 + 7200.0),
                       (T0 + 100.0, T0 + 200.0)):
        for include_demo in (False, True):
            _same_buckets(store, start, end, include_demo)
            _same_costs(store, bundled_catalog, start, end, include_demo, monkeypatch)
