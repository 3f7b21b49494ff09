"""Load test of the HTTP service on loopback: open-loop requests at a fixed rate, bounded in count and time.

    .venv/bin/python bench/bench_api_load.py [--rate 500] [--seconds 30] [--path /api/v1/cost?window=7d&by=team]

A server process (`create_app` on a SQLite store seeded with the bundled 7-day demo, one uvicorn
worker) listens on 127.0.0.1 only. This process sends requests on a fixed schedule (open loop:
request i is due at t0 + i/rate whatever the earlier ones did), at most `--rate × --seconds`
requests, each with a 10 s timeout. Latency counts from the scheduled time, so a server that falls
behind shows it (no coordinated omission). The baseline is /healthz at the same rate from the same
process, so the ratio says what the endpoint itself costs over the service's floor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

REQUEST_TIMEOUT_S = 10.0
MAX_IN_FLIGHT = 512
SERVER = """
import sys, uvicorn
from costplane.api import Settings, create_app, create_token
from costplane.api._seed import seed_demo
from costplane.catalog import load_catalog
from costplane.core.clock import WallClock
from costplane.store import Store
store = Store.open(sys.argv[1]); clock = WallClock()
seed_demo(store, load_catalog(), clock.now_s())
print(create_token(store, "bench", "viewer", None, clock.now_s()).secret, flush=True)
uvicorn.run(create_app(Settings(), store, clock), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _run(base: str, path: str, token: str, rate: float, seconds: float) -> dict:
    n = int(rate * seconds)
    latencies = np.full(n, np.nan)
    errors = {"status": 0, "exception": 0, "unfinished": 0}
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
    in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=REQUEST_TIMEOUT_S,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        t0 = time.perf_counter() + 0.2

        async def one(i: int) -> None:
            due = t0 + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            async with in_flight:
                try:
                    r = await client.get(path)
                    if r.status_code != 200:
                        errors["status"] += 1
                except httpx.HTTPError:
                    errors["exception"] += 1
            latencies[i] = time.perf_counter() - due

        tasks = [asyncio.ensure_future(one(i)) for i in range(n)]
        # Hard bound: whatever has not finished `REQUEST_TIMEOUT_S` after the last request was due is
        # cancelled and counted as an error (a server that falls behind cannot stretch the run).
        done, pending = await asyncio.wait(tasks, timeout=seconds + REQUEST_TIMEOUT_S + 0.2)
        for t in pending:
            t.cancel()
        errors["unfinished"] = len(pending)
        await asyncio.gather(*pending, return_exceptions=True)
        wall = time.perf_counter() - t0
    ok = latencies[~np.isnan(latencies)]
    completed = int((~np.isnan(latencies)).sum())
    return {"path": path, "requests": n, "rate_target": rate, "achieved_rps": completed / wall, "wall_s": wall,
            "p50_ms": float(np.percentile(ok, 50) * 1e3), "p99_ms": float(np.percentile(ok, 99) * 1e3),
            "max_ms": float(ok.max() * 1e3), "errors": sum(errors.values()), "error_kinds": errors}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=500.0, help="requests per second (open loop)")
    ap.add_argument("--seconds", type=float, default=30.0, help="how long to send, s (max 120)")
    ap.add_argument("--path", default="/api/v1/cost?window=7d&by=team")
    args = ap.parse_args()
    seconds = min(args.seconds, 120.0)
    port = _free_port()
    db = Path(tempfile.mkdtemp(prefix="cp-bench-")) / "bench.db"
    server = subprocess.Popen([sys.executable, "-c", SERVER, f"sqlite:///{db}", str(port)], stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        token = server.stdout.readline().strip()
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        httpx.get(base + args.path, headers={"Authorization": f"Bearer {token}"}, timeout=30)  # warm caches
        results = [asyncio.run(_run(base, p, token, args.rate, seconds)) for p in ("/healthz", args.path)]
    finally:
        server.terminate()
        server.wait(timeout=15)
    base_p50 = results[0]["p50_ms"]
    print(f"{'path':40s} {'req':>6s} {'rps':>7s} {'p50 ms':>8s} {'p99 ms':>8s} {'max ms':>8s} {'errors':>6s}")
    for r in results:
        print(f"{r['path']:40s} {r['requests']:6d} {r['achieved_rps']:7.1f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
              f"{r['max_ms']:8.1f} {r['errors']:6d}")
    print(f"p50 ratio endpoint/healthz: {results[1]['p50_ms'] / base_p50:.1f}x; errors: "
          + "; ".join(f"{r['path']} {r['error_kinds']}" for r in results))
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
