"""Load test of the HTTP service on loopback: open-loop requests at a fixed rate, bounded in count and time.

    .venv/bin/python bench/bench_api_load.py [--rate 500] [--seconds 30] [--path /api/v1/cost?window=7d&by=team]

A server process (`create_app` on a SQLite store seeded with the bundled 7-day demo, one uvicorn
worker) listens on 127.0.0.1 only. This process sends requests on a fixed schedule (open loop:
request i is due at t0 + i/rate whatever the earlier ones did), at most `--rate × --seconds`
requests, each with a 10 s timeout; nothing is sent after the last due time + 10 s. Latency counts from the scheduled time, so a server that falls
behind shows it (no coordinated omission). The baseline is /healthz at the same rate from the same
process, so the ratio says what the endpoint itself costs over the service's floor. The sender is
a pool of 64 threads with keep-alive connections (httpx's async pool slowed down more than the
server did once hundreds of connections were open).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

REQUEST_TIMEOUT_S = 10.0
WORKERS = 64  # concurrent connections at most; more requests than that in flight wait their turn
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


def _run(base: str, path: str, token: str, rate: float, seconds: float) -> dict:
    """Open loop on a thread pool: request i is due at t0 + i/rate; a free worker sends it then or, when
    all are busy, as soon as one frees (the wait counts in its latency)."""
    n = int(rate * seconds)
    latencies = np.full(n, np.nan)
    errors = {"status": 0, "exception": 0, "unfinished": 0}
    next_index = iter(range(n))
    lock = threading.Lock()
    t0 = time.perf_counter() + 0.2
    hard_stop = t0 + seconds + REQUEST_TIMEOUT_S  # nothing runs past this, whatever the server does

    def worker() -> None:
        with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                due = t0 + i / rate
                if time.perf_counter() > hard_stop:
                    with lock:
                        errors["unfinished"] += 1
                    continue
                time.sleep(max(0.0, due - time.perf_counter()))
                try:
                    r = client.get(path)
                    if r.status_code != 200:
                        with lock:
                            errors["status"] += 1
                except httpx.HTTPError:
                    with lock:
                        errors["exception"] += 1
                latencies[i] = time.perf_counter() - due

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ok = latencies[~np.isnan(latencies)]
    completed = int(ok.size)
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
        results = [_run(base, p, token, args.rate, seconds) for p in ("/healthz", args.path)]
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
