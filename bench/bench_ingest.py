"""Ingest throughput: usage CSV (the real Alibaba GenAI trace) and a synthetic FOCUS bill into SQLite.

Baselines measured in the same process:
- store write: the store's executemany insert vs the previous one-compiled-statement-per-chunk
  multi-VALUES insert (what `Store.add_usage_samples` did before this issue);
- parsing: our row-checking parsers vs a bare `pandas.read_csv` of the same file (no validation).

Run: .venv/bin/python bench/bench_ingest.py
     .venv/bin/python bench/bench_ingest.py --concurrent 1000000   # a 1M-line FOCUS ingest (child process,
         peak RSS) while this process updates a budget every 50 ms on the same SQLite store: the longest wait
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table
from sqlalchemy.dialects import sqlite

from costplane.ingest import parse_focus, parse_usage
from costplane.store import Store, UsageSample

REPO = Path(__file__).resolve().parents[1]
GENAI = REPO / ".." / "shared" / "data" / "traces" / "alibaba-genai-2026-usage" / "pod_gpu_duty_cycle_anon.csv"
NOW_S = 1_800_000_000.0
FOCUS_ROWS = 50_000


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def old_multivalues_insert(store: Store, rows: list[dict]) -> int:
    """The store's insert before this issue: a new multi-VALUES statement compiled per 2 000-row chunk."""
    rows = [{"labels": {}, "workload": None, "team": None, "project": None, **r} for r in rows]
    added = 0
    with store.session() as s:
        for i in range(0, len(rows), 2000):
            stmt = (sqlite.insert(UsageSample).values(rows[i:i + 2000])
                    .on_conflict_do_nothing(index_elements=["source", "metric", "series_key", "ts_s"])
                    .returning(UsageSample.id))
            added += len(s.execute(stmt).all())
    return added


def synthetic_focus(path: Path, n: int) -> None:
    """A FOCUS bill of `n` distinct hourly lines, written as it is generated (memory independent of n)."""
    rng = random.Random(7)
    header = ("BillingCurrency,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,BilledCost,EffectiveCost,ListCost,"
              "ConsumedQuantity,ConsumedUnit,ProviderName,ServiceName,RegionId,ResourceId,SkuId,Tags,x_InstanceType")
    with path.open("w") as fh:
        fh.write(header + "\n")
        for i in range(n):
            hour = 1_700_000_000 + 3600 * (i // 50)
            cost = round(rng.uniform(0.5, 98.0), 4)
            tags = json.dumps({"team": rng.choice(["ml", "inference", "search"]), "workload": f"w{i % 40}"})
            fh.write(f"USD,{hour},{hour + 3600},Usage,{cost},{cost * 0.8:.4f},{cost},1,Hours,AWS,EC2,us-east-1,"
                     f"i-{i % 50:04d},sku-{i % 7},\"{tags.replace(chr(34), chr(34) * 2)}\",p5.48xlarge\n")


def writes_during_ingest(ingest, write, interval_s: float = 0.05) -> dict:
    """Run `ingest()` in a thread while this thread calls `write()` every `interval_s`; per-write latency.

    Returns {"writes", "failed", "max_wait_s", "p50_wait_s", "ingest_s"}: what a service writing during a
    large ingest sees (the API's budget changes, the controller's decisions).
    """
    import threading

    result: dict = {}

    def run():
        t = time.perf_counter()
        result["report"] = ingest()
        result["ingest_s"] = time.perf_counter() - t

    thread = threading.Thread(target=run)
    thread.start()
    waits, failed = [], 0
    while thread.is_alive():
        t = time.perf_counter()
        try:
            ok = write()
        except Exception:  # a write that fails is what this measures, whatever the exception
            ok = False
        waits.append(time.perf_counter() - t)
        failed += not ok
        time.sleep(interval_s)
    thread.join()
    waits.sort()
    return {"writes": len(waits), "failed": failed, "max_wait_s": waits[-1] if waits else 0.0,
            "p50_wait_s": waits[len(waits) // 2] if waits else 0.0, "ingest_s": result.get("ingest_s"),
            "report": result.get("report")}


def concurrent_bench(rows: int) -> None:
    """`costplane ingest focus` of `rows` lines in a child process (its peak RSS measured) while this process
    writes to the same SQLite store every 50 ms through the API's core (a budget update, audited)."""
    import resource
    import subprocess

    from costplane.api._core import create_budget, update_budget
    from costplane.api._tokens import Principal

    with tempfile.TemporaryDirectory() as tmp:
        focus = Path(tmp) / "focus.csv"
        t_gen, _ = timed(lambda: synthetic_focus(focus, rows))
        db = f"sqlite:///{tmp}/c.db"
        store = Store.open(db)
        admin = Principal(1, "bench", "admin", None)
        bid = create_budget(store, {"scope": "team", "name": "ml", "period": "month", "amount_usd": 1.0,
                                    "alert_thresholds": [0.5]}, admin, NOW_S)["id"]
        counter = iter(range(1, 10**9))
        exe = str(Path(sys.executable).parent / "costplane")

        def ingest():
            return subprocess.run([exe, "ingest", "focus", str(focus), "--db", db, "--json"], capture_output=True,
                                  text=True)

        def write():
            update_budget(store, bid, {"amount_usd": float(next(counter))}, admin, NOW_S)
            return True

        out = writes_during_ingest(ingest, write)
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        report = json.loads(out["report"].stdout)
        file_mib = round(focus.stat().st_size / 2**20, 1)
    print(json.dumps({"rows": rows, "file_mib": file_mib,
                      "generate_s": round(t_gen, 1), "ingest_s": round(out["ingest_s"], 1),
                      "ingested": report["ingested"], "ingest_peak_rss_mib": round(peak_mib),
                      "writes": out["writes"], "failed_writes": out["failed"],
                      "max_write_wait_s": round(out["max_wait_s"], 3), "p50_write_wait_s": round(out["p50_wait_s"], 4)}))


def main() -> int:
    if "--concurrent" in sys.argv:  # e.g. --concurrent 1000000
        concurrent_bench(int(sys.argv[sys.argv.index("--concurrent") + 1]))
        return 0
    console = Console(width=140)
    table = Table(title="ingest throughput (SQLite file, this 2-core shared machine, best of 1)")
    for col in ("step", "rows", "seconds", "rows/s", "vs baseline"):
        table.add_column(col, justify="left" if col == "step" else "right")
    with tempfile.TemporaryDirectory() as tmp:
        if GENAI.is_file():
            t_parse, (rows, _) = timed(lambda: parse_usage(GENAI, NOW_S))
            t_pd, _ = timed(lambda: pd.read_csv(GENAI))
            table.add_row("usage CSV parse+check (GenAI trace)", f"{len(rows):,}", f"{t_parse:.2f}",
                          f"{len(rows) / t_parse:,.0f}", f"{t_parse / t_pd:.1f}× pandas.read_csv")
            new = Store.open(f"sqlite:///{tmp}/new.db")
            old = Store.open(f"sqlite:///{tmp}/old.db")
            t_new, n_new = timed(lambda: new.add_usage_samples(rows))
            t_old, n_old = timed(lambda: old_multivalues_insert(old, rows))
            assert n_new == n_old == len(rows)
            table.add_row("store write, executemany (new)", f"{n_new:,}", f"{t_new:.2f}", f"{n_new / t_new:,.0f}",
                          f"{t_old / t_new:.1f}× faster")
            table.add_row("store write, multi-VALUES (old)", f"{n_old:,}", f"{t_old:.2f}", f"{n_old / t_old:,.0f}",
                          "baseline")
            t_again, n_again = timed(lambda: new.add_usage_samples(rows))
            table.add_row("re-ingest, all duplicates", f"{len(rows):,}", f"{t_again:.2f}",
                          f"{len(rows) / t_again:,.0f}", f"{n_again} added")
        focus = Path(tmp) / "focus.csv"
        synthetic_focus(focus, FOCUS_ROWS)
        gpus = {"p5.48xlarge": 8}
        t_focus, (frows, _) = timed(lambda: parse_focus(focus, NOW_S, gpus_per_instance=gpus))
        t_fpd, _ = timed(lambda: pd.read_csv(focus))
        table.add_row("FOCUS parse+check (synthetic)", f"{len(frows):,}", f"{t_focus:.2f}",
                      f"{len(frows) / t_focus:,.0f}", f"{t_focus / t_fpd:.1f}× pandas.read_csv")
        store = Store.open(f"sqlite:///{tmp}/focus.db")
        t_fw, n_fw = timed(lambda: store.add_cost_records(frows))
        table.add_row("FOCUS store write", f"{n_fw:,}", f"{t_fw:.2f}", f"{n_fw / t_fw:,.0f}", "")
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
