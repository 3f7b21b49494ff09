"""Benchmark: attribution of a GPU fleet's month from the store through the one cost path (issue 12, point 6).

Run:
    URL=$(bash scripts/postgres.sh)   # starts PostgreSQL; the bench uses its own database costplane_bench
    .venv/bin/python bench/bench_attribution.py --gpus 4096 --days 30 [--sqlite-gpus 512] [--naive-gpus 256]

What it does:

1. Generates `--gpus` GPUs (nodes of 8) × `--days` at `--step-s` (300 s) resolution of `gpu_util_pct`
   (integer percent, as DCGM exports it), with the labels `costplane ingest prometheus` stores for DCGM
   series: Hostname, gpu, UUID, modelName, pod, namespace and the node's relabelled Kubernetes labels
   `node_kubernetes_io_instance_type` and `topology_kubernetes_io_region` (AWS p4d/p5, GCP a2-ultragpu/a3,
   Azure ND A100), workload/team/project columns; 1 GPU in 10 has no pod (idle). Series keys are what
   `ingest prometheus` builds (`DCGM_FI_DEV_GPU_UTIL{...}`).
2. Loads them into PostgreSQL with COPY (psycopg `cursor.copy`), into a store created by `Store.open`
   (the Alembic schema). Like pg_restore, the secondary indexes and the unique constraint are dropped
   for the load and rebuilt afterwards with their schema names (checked against the schema's index list).
   COPY bypasses `Store.add_usage_samples`, so the hourly roll-up (`usage_hourly`) is then filled with the
   INSERT ... SELECT of migration 0004 (`store._rollup.rebuild_sql`), timed apart: the ingest-side cost.
   `--reuse` skips the load when the database already holds the same number of rows.
3. Times the one cost path end to end as `costplane cost --window 30d --by team --json` runs it
   (`cli._measure._measure`: newest data point, `costing.load_costs`, then `cost_view` by team), best of
   `--repeats`, wall seconds (this is I/O + SQL + Python; the machine may be shared, see the note printed).
4. Baseline in the same run: the naive path on the first `--naive-gpus` GPUs: every raw row fetched into
   pandas (`read_sql`), labels parsed per series, held/used GPU-hours and cost per team computed there.
   Reported per GPU against the cost path per GPU (the naive path cannot hold the whole month in memory:
   35M rows with their labels).
5. SQLite at `--sqlite-gpus` GPUs (same generator, executemany inserts): the same cost path timed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
START_S = 1_782_864_000.0  # 2026-07-01 00:00 UTC
GPUS_PER_NODE = 8
TEAMS = ("search", "ads", "research", "creative", "platform", "speech", "vision", "recsys")
# (instance type, cloud, region, modelName): every node's relabelled Kubernetes labels name one of these
NODE_KINDS = (
    ("p4d.24xlarge", "aws", "us-east-1", "NVIDIA A100-SXM4-40GB"),
    ("p5.48xlarge", "aws", "us-east-1", "NVIDIA H100 80GB HBM3"),
    ("a2-ultragpu-8g", "gcp", "us-central1", "NVIDIA A100-SXM4-80GB"),
    ("a3-highgpu-8g", "gcp", "us-central1", "NVIDIA H100 80GB HBM3"),
    ("Standard_ND96amsr_A100_v4", "azure", "eastus", "NVIDIA A100-SXM4-80GB"),
)
COLUMNS = ("source", "metric", "series_key", "ts_s", "value", "workload", "team", "project", "labels")


def series_meta(gpus: int, seed: int = 7) -> list[dict]:
    """One dict per GPU: series_key, workload/team/project (None when idle), labels as DCGM ingest stores them."""
    from costplane.ingest._prometheus import series_key

    rng = np.random.default_rng(seed)
    out = []
    for g in range(gpus):
        node, slot = divmod(g, GPUS_PER_NODE)
        itype, _cloud, region, model = NODE_KINDS[node % len(NODE_KINDS)]
        host = f"gpu-node-{node:04d}"
        idle = rng.random() < 0.1
        team = TEAMS[int(rng.integers(len(TEAMS)))]
        project = f"{team}-p{int(rng.integers(4))}"
        workload = None if idle else f"{project}-w{int(rng.integers(64)):02d}"
        labels = {"Hostname": host, "gpu": str(slot), "UUID": f"GPU-{node:08x}-{slot:04x}-4a1b-9c2d-{g:012x}",
                  "modelName": model, "node_kubernetes_io_instance_type": itype,
                  "topology_kubernetes_io_region": region}
        if not idle:
            labels.update(pod=f"{workload}-7f9c{g % 1000:03d}-x{slot}", namespace=team)
        out.append({"series_key": series_key("DCGM_FI_DEV_GPU_UTIL", labels), "workload": workload,
                    "team": None if idle else team, "project": None if idle else project, "labels": labels,
                    "level": 0.0 if idle else float(rng.uniform(5, 95)), "phase": float(rng.uniform(0, 2 * np.pi))})
    return out


def utilisation(meta: dict, ts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Integer percent: the series' level, a daily swing and noise (idle GPUs read 0 with rare blips)."""
    if meta["level"] == 0.0:
        return (rng.random(len(ts)) < 0.01).astype(np.int64) * rng.integers(1, 5, len(ts))
    day = np.sin(2 * np.pi * (ts - START_S) / 86400.0 + meta["phase"])
    v = meta["level"] + 0.3 * meta["level"] * day + rng.normal(0, 5, len(ts))
    return np.clip(np.rint(v), 0, 100).astype(np.int64)


def _copy_text(meta: dict, ts: np.ndarray, util: np.ndarray) -> str:
    pre = f"prometheus\tgpu_util_pct\t{meta['series_key']}\t"
    nul = "\\N"
    suf = (f"\t{meta['workload'] or nul}\t{meta['team'] or nul}\t{meta['project'] or nul}\t"
           f"{json.dumps(meta['labels'], separators=(',', ':'))}\n")
    return "".join([f"{pre}{t}\t{v}{suf}" for t, v in zip(ts.tolist(), util.tolist())])


# ------------------------------------------------------------------ PostgreSQL

def ensure_database(url: str) -> None:
    """Create the bench database (the role has CREATEDB) through the server's `postgres` database."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    admin = u.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (u.database,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{u.database}"')


def _indexes(conn) -> list[str]:
    rows = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'usage_samples' "
                        "AND indexname <> 'usage_samples_pkey' ORDER BY indexname").fetchall()
    return [r[0] for r in rows]


def _schema_indexes(url: str) -> list[str]:
    """CREATE INDEX statements of usage_samples' secondary indexes, from the store's models (what Alembic made)."""
    from sqlalchemy.schema import CreateIndex

    from costplane.store import UsageSample, make_engine

    engine = make_engine(url)
    return [str(CreateIndex(ix).compile(engine)) for ix in sorted(UsageSample.__table__.indexes, key=lambda i: i.name)]


def load_postgres(url: str, gpus: int, days: float, step_s: float, reuse: bool) -> tuple[int, float, float]:
    """(rows, load seconds, roll-up seconds): the store created by Store.open, filled with COPY, indexes rebuilt
    after, then the hourly roll-up filled with the migration's INSERT ... SELECT (what ingest maintains row by row)."""
    import psycopg
    from sqlalchemy.engine import make_url

    from costplane.store import Store

    ensure_database(url)
    Store.open(url).engine.dispose()  # the Alembic schema at head
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    ts = START_S + np.arange(int(days * 86400 / step_s)) * step_s
    want = gpus * len(ts)
    with psycopg.connect(dsn, autocommit=True) as conn:
        have = conn.execute("SELECT count(*) FROM usage_samples").fetchone()[0]
        hours = conn.execute("SELECT count(*) FROM usage_hourly").fetchone()[0]
        if reuse and have == want and hours and len(_indexes(conn)) == 1 + len(_schema_indexes(url)):
            return want, 0.0, 0.0
        t = time.perf_counter()
        conn.execute("TRUNCATE usage_samples, usage_hourly")
        schema = _indexes(conn)  # as Alembic made them (a killed earlier load may have left fewer)
        conn.execute("ALTER TABLE usage_samples DROP CONSTRAINT IF EXISTS uq_usage_sample")
        for name in _indexes(conn):
            conn.execute(f'DROP INDEX IF EXISTS "{name}"')
        conn.execute("SET synchronous_commit = off")
        meta = series_meta(gpus)
        rng = np.random.default_rng(11)
        ts_int = ts.astype(np.int64)
        with conn.cursor() as cur:
            with cur.copy(f"COPY usage_samples ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for i, m in enumerate(meta):
                    copy.write(_copy_text(m, ts_int, utilisation(m, ts, rng)))
                    if i % 256 == 255:
                        print(f"  copied {i + 1}/{gpus} GPUs ({time.perf_counter() - t:.0f} s)", file=sys.stderr)
        print(f"  rebuilding indexes ({time.perf_counter() - t:.0f} s)", file=sys.stderr)
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("ALTER TABLE usage_samples ADD CONSTRAINT uq_usage_sample "
                     "UNIQUE (source, metric, series_key, ts_s)")
        for ddl in _schema_indexes(url):
            conn.execute(ddl)
        rebuilt = _indexes(conn)
        assert set(schema) <= set(rebuilt), f"indexes {schema} before the load, {rebuilt} after"
        conn.execute("VACUUM ANALYZE usage_samples")
        load_s = time.perf_counter() - t
        return want, load_s, fill_rollup(conn, "postgresql")


def fill_rollup(conn, dialect: str) -> float:
    """The hourly roll-up from the loaded samples, as migration 0004 backfills it (store._rollup.rebuild_sql):
    the ingest-side cost of the roll-up for a bulk load, in seconds."""
    from costplane.store import rebuild_sql

    t = time.perf_counter()
    if dialect == "postgresql":
        conn.execute("SET work_mem = '256MB'")
    conn.execute(rebuild_sql(dialect))
    if dialect == "postgresql":
        conn.execute("VACUUM ANALYZE usage_hourly")
    return time.perf_counter() - t


# ------------------------------------------------------------------ SQLite

def load_sqlite(url: str, gpus: int, days: float, step_s: float) -> tuple[int, float]:
    from costplane.store import Store

    store = Store.open(url)
    ts = START_S + np.arange(int(days * 86400 / step_s)) * step_s
    t = time.perf_counter()
    rng = np.random.default_rng(11)
    n = 0
    with store.engine.begin() as conn:
        raw = conn.connection.driver_connection
        sql = f"INSERT INTO usage_samples ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
        for m in series_meta(gpus):
            lab = json.dumps(m["labels"], separators=(",", ":"))
            util = utilisation(m, ts, rng)
            raw.executemany(sql, [("prometheus", "gpu_util_pct", m["series_key"], t_, float(v), m["workload"], m["team"],
                                   m["project"], lab) for t_, v in zip(ts.tolist(), util.tolist())])
            n += len(ts)
        fill_rollup(raw, "sqlite")
    store.engine.dispose()
    return n, time.perf_counter() - t


# ------------------------------------------------------------------ the timed paths

def cost_path(url: str, days: float) -> tuple[float, dict]:
    """`costplane cost --window {days}d --by team --json`, as the CLI runs it: (wall seconds, the JSON)."""
    from costplane.cli._measure import _measure, cost_report

    t = time.perf_counter()
    _, costs, window = _measure(url, None, days * 86400.0, None, False)
    out = cost_report(costs, window, "team", False)
    return time.perf_counter() - t, out


def naive_path(url: str, gpus: int) -> tuple[float, int, dict]:
    """Every raw row of the first `gpus` GPUs into pandas; held = n × step, used = Σ util/100 × step, priced
    per instance type from the catalog (÷ 8 GPUs), summed per team. (seconds, rows, USD per team)."""
    import pandas as pd
    from sqlalchemy import create_engine, text

    from costplane.catalog import load_catalog

    cat = load_catalog()
    hosts = sorted({m["labels"]["Hostname"] for m in series_meta(gpus)})
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://") if url.startswith("postgresql://")
                           else url)
    t = time.perf_counter()
    with engine.connect() as conn:
        keys = [m["series_key"] for m in series_meta(gpus)]
        frames = [pd.read_sql(text("SELECT series_key, ts_s, value, team, labels FROM usage_samples "
                                   "WHERE metric = 'gpu_util_pct' AND series_key = ANY(:k)" if "postgres" in url else
                                   "SELECT series_key, ts_s, value, team, labels FROM usage_samples "
                                   "WHERE metric = 'gpu_util_pct' AND series_key IN "
                                   f"({','.join(':k' + str(i) for i in range(len(chunk)))})"),
                              conn, params={"k": chunk} if "postgres" in url else
                              {f"k{i}": k for i, k in enumerate(chunk)})
                  for chunk in (keys[i:i + 256] for i in range(0, len(keys), 256))]
    df = pd.concat(frames, ignore_index=True)
    df = df.sort_values(["series_key", "ts_s"])
    df["step"] = df.groupby("series_key").ts_s.diff().fillna(300.0)
    labels = df.groupby("series_key").labels.first().map(lambda v: v if isinstance(v, dict) else json.loads(v))
    per = df.groupby("series_key").agg(held_s=("step", "sum"), util=("value", "sum"), team=("team", "first"))
    per["held_s"] = df.groupby("series_key").size() * 300.0
    price = {}
    for key, lab in labels.items():
        itype, region = lab["node_kubernetes_io_instance_type"], lab["topology_kubernetes_io_region"]
        if itype not in price:
            offers = [o for o in cat.offers if o.instance_type == itype and o.region == region
                      and o.price_usd_per_hour is not None]
            price[itype] = min(o.price_usd_per_hour for o in offers) / 8 if offers else 0.0
    per["usd"] = per.held_s / 3600.0 * [price[labels[k]["node_kubernetes_io_instance_type"]] for k in per.index]
    per["team"] = per.team.fillna("(idle)")
    teams = per.groupby("team").usd.sum().round(2).to_dict()
    dt = time.perf_counter() - t
    assert len(hosts) == -(-gpus // GPUS_PER_NODE)
    return dt, len(df), teams


def _pg_url() -> str:
    out = subprocess.run(["bash", str(REPO / "scripts" / "postgres.sh")], capture_output=True, text=True, check=True)
    base = out.stdout.strip().splitlines()[-1]
    return base.rsplit("/", 1)[0] + "/costplane_bench"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gpus", type=int, default=4096)
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--step-s", type=float, default=300.0)
    ap.add_argument("--naive-gpus", type=int, default=256)
    ap.add_argument("--sqlite-gpus", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--url", default=None, help="PostgreSQL URL of the bench database (default: scripts/postgres.sh's "
                                                "server, database costplane_bench)")
    ap.add_argument("--reuse", action="store_true", help="skip the load when the row count already matches")
    ap.add_argument("--skip-sqlite", action="store_true")
    args = ap.parse_args()
    os.environ.pop("COSTPLANE_DB_URL", None)

    url = args.url or _pg_url()
    rows, load_s, rollup_s = load_postgres(url, args.gpus, args.days, args.step_s, args.reuse)
    print(f"PostgreSQL: {rows:,} gpu_util_pct samples ({args.gpus} GPUs × {args.days:g} d at {args.step_s:g} s), "
          f"loaded in {load_s:.0f} s" + (" (reused)" if load_s == 0 else
                                         f"; hourly roll-up filled from them in {rollup_s:.1f} s (ingest side)"))
    times = []
    for _ in range(args.repeats):
        dt, out = cost_path(url, args.days)
        times.append(dt)
    best = min(times)
    print(f"  cost path (load_costs + cost_view by team, {args.days:g}-day window): best {best:.1f} s of "
          f"{', '.join(f'{t:.1f}' for t in times)}; total ${out['total_usd']:,.2f}, idle ${out['idle_usd']:,.2f}, "
          f"{len(out['rows'])} teams, unpriced {len(out.get('unpriced') or [])}")
    naive_s, naive_rows, _ = naive_path(url, args.naive_gpus)
    per_gpu_fast, per_gpu_naive = best / args.gpus, naive_s / args.naive_gpus
    print(f"  naive (raw rows into pandas) on {args.naive_gpus} GPUs ({naive_rows:,} rows): {naive_s:.1f} s = "
          f"{per_gpu_naive * 1e3:.1f} ms/GPU vs cost path {per_gpu_fast * 1e3:.2f} ms/GPU: "
          f"{per_gpu_naive / per_gpu_fast:.1f}x")
    if not args.skip_sqlite:
        path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_attribution_{os.getpid()}.db"
        try:
            n, sl_load = load_sqlite(f"sqlite:///{path}", args.sqlite_gpus, args.days, args.step_s)
            sl = [cost_path(f"sqlite:///{path}", args.days) for _ in range(args.repeats)]
            print(f"SQLite: {n:,} samples ({args.sqlite_gpus} GPUs × {args.days:g} d), loaded in {sl_load:.0f} s; "
                  f"cost path best {min(t for t, _ in sl):.1f} s; total ${sl[0][1]['total_usd']:,.2f}")
        finally:
            for p in (path, Path(str(path) + "-wal"), Path(str(path) + "-shm")):
                p.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
