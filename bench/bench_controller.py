"""One controller cycle over many services, on SQLite and PostgreSQL (issue: a cycle over 1,000 services < 10 s).

Each service has a day of per-minute demand stored as `ingest prometheus` writes it (two replica series
each, summed by the controller). Measured: one full cycle (lease, one batched demand query, 1,000 policy
decisions with the default policy, decisions and states stored, dry-run actuation, audit rows). Baseline
in the same run: the observation as the controller did it before, one query per service by workload
(timed on 100 services and scaled to all, stated in the table).

    .venv/bin/python bench/bench_controller.py [--services 1000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

import numpy as np


def _seed(store, n_services: int, now_s: float, minutes: int) -> None:
    from costplane.core.vocabulary import REQUESTS_PER_S

    rng = np.random.default_rng(7)
    rows = []
    for i in range(n_services):
        base = rng.uniform(1, 20)
        for pod in range(2):
            key = f'vllm:request_success_total{{pod="svc{i}-p{pod}"}}'
            rates = base / 2 * (1 + 0.3 * np.sin(np.arange(minutes) * 2 * np.pi / 1440)) + rng.normal(0, 0.2, minutes)
            rows.extend({"source": "bench", "metric": REQUESTS_PER_S, "series_key": key, "workload": f"svc{i}",
                         "ts_s": now_s - 60.0 * (minutes - 1 - k), "value": max(0.0, float(r))}
                        for k, r in enumerate(rates))
        if len(rows) > 200_000:
            store.add_usage_samples(rows)
            rows = []
    store.add_usage_samples(rows)


def _observe_one_service_as_before(store, name: str, now_s: float) -> list:
    """The former per-service observation: one query for one workload's demand samples."""
    from sqlalchemy import select

    from costplane.core.vocabulary import REQUESTS_PER_S
    from costplane.store import UsageSample

    with store.session() as s:
        return s.execute(select(UsageSample.ts_s, UsageSample.value)
                         .where(UsageSample.metric == REQUESTS_PER_S, UsageSample.workload == name,
                                UsageSample.ts_s > now_s - 8 * 86_400.0, UsageSample.ts_s <= now_s)
                         .order_by(UsageSample.ts_s)).all()


def run(url: str, n_services: int, minutes: int) -> dict:
    from costplane.actuate import DryRunActuator, Target
    from costplane.autoscale import DEFAULT_POLICY
    from costplane.controller import AutoscaleDecide, ControlledService, Controller, StoreLease, StoreMetrics
    from costplane.core.clock import SimClock
    from costplane.store import Store

    store = Store.open(url)
    now_s = 1_800_000_000.0
    t = time.perf_counter()
    _seed(store, n_services, now_s, minutes)
    seed_s = time.perf_counter() - t
    spec = {"gpu": "H100", "gpus_per_replica": 1, "capacity_per_replica": 2.0, "cold_start_s": 120,
            "min_replicas": 1, "max_replicas": 64, "scale_to_zero": False, "max_queue_s": 10}
    services = tuple(ControlledService(f"svc{i}", Target("deployment", f"svc{i}", "serving"), DEFAULT_POLICY, "team",
                                       dict(spec)) for i in range(n_services))
    clock = SimClock(now_s)
    ctl = Controller(store, clock, DryRunActuator(), services, AutoscaleDecide(), validation_s=0.0,
                     lease=StoreLease(store, 180.0), log_decisions=False)
    t = time.perf_counter()
    acted = ctl.run_cycle()
    cycle_s = time.perf_counter() - t
    assert len(acted) == n_services
    metrics = StoreMetrics(store, 8 * 86_400.0)
    t = time.perf_counter()
    metrics.windows(services, now_s)
    batched_s = time.perf_counter() - t
    sample = services[:100]
    t = time.perf_counter()
    for s in sample:
        _observe_one_service_as_before(store, s.name, now_s)
    per_service_s = (time.perf_counter() - t) * len(services) / len(sample)
    return {"backend": store.engine.dialect.name, "services": n_services, "samples": 2 * n_services * minutes,
            "seed_s": seed_s, "cycle_s": cycle_s, "observe_batched_s": batched_s,
            "observe_per_service_s": per_service_s}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--minutes", type=int, default=1440)
    ap.add_argument("--postgres", default=os.environ.get("COSTPLANE_TEST_POSTGRES_URL"))
    args = ap.parse_args()
    import tempfile

    urls = [f"sqlite:///{tempfile.mkdtemp()}/bench.db"]
    pg = args.postgres
    if pg is None:
        try:
            pg = subprocess.run(["bash", "scripts/postgres.sh"], capture_output=True, text=True, check=True).stdout.strip()
        except (subprocess.CalledProcessError, FileNotFoundError):
            pg = None
    if pg:
        from sqlalchemy import create_engine, text

        base, _, _ = pg.rpartition("/")
        eng = create_engine(pg, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(text("DROP DATABASE IF EXISTS costplane_bench_ctl"))
            c.execute(text("CREATE DATABASE costplane_bench_ctl"))
        eng.dispose()
        urls.append(f"{base}/costplane_bench_ctl")
    print("| backend | services | stored samples | one cycle (s) | observe, one query (s) | observe, a query per service (s) | ratio |")
    print("|---|---|---|---|---|---|---|")
    for url in urls:
        r = run(url, args.services, args.minutes)
        print(f"| {r['backend']} | {r['services']} | {r['samples']:,} | {r['cycle_s']:.2f} | {r['observe_batched_s']:.2f} "
              f"| {r['observe_per_service_s']:.2f} | {r['observe_per_service_s'] / r['observe_batched_s']:.1f}x |",
              flush=True)


if __name__ == "__main__":
    main()
