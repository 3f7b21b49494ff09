"""Prometheus ingest against a REAL Prometheus server scraping DCGM-format metrics the test serves on loopback.

Ledger of the scrape target (values the test asserts):
  GPU 0 (pod llama-chat-7d9f8c6b5d-x2kq9, namespace team-infer): util = 10 × (scrape number mod 10) %,
        FB used 40 000 MiB, FB free 41 559 MiB, power 350.5 W
  GPU 1 (no pod: idle): util 0 %, FB used 0 MiB
  vllm:request_success_total = 5 × t            -> rate 5 requests/s
  latency buckets ∝ t: le=0.1: 50 %, le=0.5: 90 %, le=1: 100 %
        -> p50 = 0.1 s, p95 = 0.5 + 0.5 × (0.95 − 0.9)/(1.0 − 0.9) = 0.75 s, p99 = 0.5 + 0.5 × 0.09/0.1 = 0.95 s
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from costplane.ingest import (
    LabelMapping,
    PrometheusClient,
    SourceUnreachableError,
    collect_samples,
    dcgm_queries,
    ingest_prometheus,
    serving_queries,
)
from costplane.store import Store, UsageSample

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
MIB = 1024 * 1024
POD = "llama-chat-7d9f8c6b5d-x2kq9"
GPU0 = (f'gpu="0",UUID="GPU-0f6c1a2b-aaaa",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="node-a",'
        f'DCGM_FI_DRIVER_VERSION="550.54.15",container="server",namespace="team-infer",pod="{POD}"')
GPU1 = ('gpu="1",UUID="GPU-0f6c1a2b-bbbb",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",Hostname="node-a",'
        'DCGM_FI_DRIVER_VERSION="550.54.15",container="",namespace="",pod=""')
SERVE = f'namespace="team-infer",pod="{POD}",model_name="llama-3-8b"'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Target(BaseHTTPRequestHandler):
    """dcgm-exporter + vLLM exposition text, values computed at scrape time."""

    scrapes = 0
    t0 = time.time()

    def do_GET(self):  # noqa: N802
        cls = type(self)
        cls.scrapes += 1
        t = time.time() - cls.t0
        util0 = 10 * (cls.scrapes % 10)
        body = "\n".join([
            "# TYPE DCGM_FI_DEV_GPU_UTIL gauge", f"DCGM_FI_DEV_GPU_UTIL{{{GPU0}}} {util0}",
            f"DCGM_FI_DEV_GPU_UTIL{{{GPU1}}} 0",
            "# TYPE DCGM_FI_DEV_FB_USED gauge", f"DCGM_FI_DEV_FB_USED{{{GPU0}}} 40000",
            f"DCGM_FI_DEV_FB_USED{{{GPU1}}} 0",
            "# TYPE DCGM_FI_DEV_FB_FREE gauge", f"DCGM_FI_DEV_FB_FREE{{{GPU0}}} 41559",
            "# TYPE DCGM_FI_DEV_POWER_USAGE gauge", f"DCGM_FI_DEV_POWER_USAGE{{{GPU0}}} 350.5",
            "# TYPE vllm:request_success_total counter", f"vllm:request_success_total{{{SERVE}}} {5 * t:.6f}",
            "# TYPE vllm:e2e_request_latency_seconds histogram",
            *(f'vllm:e2e_request_latency_seconds_bucket{{{SERVE},le="{le}"}} {frac * 5 * t:.6f}'
              for le, frac in (("0.1", 0.5), ("0.5", 0.9), ("1.0", 1.0), ("+Inf", 1.0))),
            f"vllm:e2e_request_latency_seconds_sum{{{SERVE}}} {1.0 * t:.6f}",
            f"vllm:e2e_request_latency_seconds_count{{{SERVE}}} {5 * t:.6f}",
        ]) + "\n"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def _serve(handler) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@contextlib.contextmanager
def running_prometheus(handler, tmp, ready_query: str, min_samples: int = 8):
    """A real Prometheus (Debian package) scraping `handler`'s loopback target every second; yields its URL
    once `ready_query` (a count_over_time) reaches `min_samples` for every series."""
    binary = shutil.which("prometheus")
    if binary is None:
        reason = "prometheus binary not found (apt-get install prometheus; scripts/test.sh does it in CI)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    target = _serve(handler)
    config = tmp / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n  - job_name: test\n    static_configs:\n      - targets: ['127.0.0.1:{target.server_port}']\n")
    port = _free_port()
    proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                            stdout=subprocess.DEVNULL, stderr=open(tmp / "prometheus.log", "w"))
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_samples(url, proc, tmp / "prometheus.log", ready_query, min_samples)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        target.shutdown()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    with running_prometheus(_Target, tmp_path_factory.mktemp("prometheus"),
                            "count_over_time(DCGM_FI_DEV_GPU_UTIL[5m])") as url:
        yield url


def _wait_for_samples(url: str, proc: subprocess.Popen, log, query: str, min_samples: int,
                      timeout_s: float = 60.0) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prometheus exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            r = httpx.get(f"{url}/api/v1/query", params={"query": query}, timeout=2)
            result = r.json()["data"]["result"]
            if result and min(float(x["value"][1]) for x in result) >= min_samples:
                return
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"no samples in Prometheus after {timeout_s} s: {log.read_text()[-2000:]}")


def _first_sample_s(url: str) -> float:
    r = httpx.get(f"{url}/api/v1/query", params={"query": "DCGM_FI_DEV_GPU_UTIL[5m]"}, timeout=5)
    return min(float(v[0]) for s in r.json()["data"]["result"] for v in s["values"])


def _rows(store: Store, metric: str) -> list[UsageSample]:
    from sqlalchemy import select

    with store.session() as s:
        return list(s.scalars(select(UsageSample).where(UsageSample.metric == metric).order_by(UsageSample.ts_s)))


def test_ingest_dcgm_and_serving_metrics_from_real_prometheus(prometheus, db_url):
    start_s, end_s = _first_sample_s(prometheus), time.time()
    store = Store.open(db_url)
    # rate() divides by its whole window: a 5 s window reads true after 5 s of data (60 s would take a minute).
    queries = dcgm_queries() + serving_queries(1.0, rate_window_s=5)
    with PrometheusClient(prometheus) as client:
        report = ingest_prometheus(client, store, start_s, end_s, 1.0, queries)
    assert report.ingested > 0 and report.ingested == store.count(UsageSample)

    util = _rows(store, "gpu_util_pct")
    busy = [r for r in util if r.labels["gpu"] == "0"]
    idle = [r for r in util if r.labels["gpu"] == "1"]
    assert len(busy) >= 6 and len(idle) >= 6
    assert {r.value for r in busy} <= {10.0 * k for k in range(10)} and len({r.value for r in busy}) >= 3
    assert {r.value for r in idle} == {0.0}
    assert {(r.workload, r.team) for r in busy} == {("llama-chat", "team-infer")}
    assert {r.workload for r in idle} == {None}  # a GPU without a pod is nobody's: idle cost
    assert all(r.ts_s == int(r.ts_s) for r in util)  # aligned to the 1 s step
    assert busy[0].series_key.startswith('DCGM_FI_DEV_GPU_UTIL{') and 'UUID="GPU-0f6c1a2b-aaaa"' in busy[0].series_key

    used = [r for r in _rows(store, "gpu_memory_used_bytes") if r.labels["gpu"] == "0"]
    assert used and {r.value for r in used} == {40000.0 * MIB}
    assert {r.value for r in _rows(store, "gpu_memory_free_bytes")} == {41559.0 * MIB}
    assert {r.value for r in _rows(store, "gpu_power_w")} == {350.5}

    rates = [r for r in _rows(store, "requests_per_s") if r.ts_s >= start_s + 6]
    assert rates and all(abs(r.value - 5.0) < 0.25 for r in rates), [r.value for r in rates]
    assert {(r.workload, r.team) for r in rates} == {("llama-chat", "team-infer")}
    for metric, expected in (("latency_p50_s", 0.1), ("latency_p95_s", 0.75), ("latency_p99_s", 0.95)):
        values = [r.value for r in _rows(store, metric)]
        assert values and all(abs(v - expected) < 1e-6 for v in values), (metric, values)

    # Idempotent: the same window again adds nothing.
    with PrometheusClient(prometheus) as client:
        again = ingest_prometheus(client, store, start_s, end_s, 1.0, queries)
    assert again.ingested == 0 and again.duplicates == again.read == report.read
    assert store.count(UsageSample) == report.ingested


def test_chunked_window_equals_one_query(prometheus):
    start_s, end_s = _first_sample_s(prometheus), time.time()
    queries = dcgm_queries()[:2]
    with PrometheusClient(prometheus) as whole, PrometheusClient(prometheus, max_points=3) as chunked:
        a = collect_samples(whole, queries, start_s, end_s, 1.0)
        b = collect_samples(chunked, queries, start_s, end_s, 1.0)
    key = lambda r: (r["series_key"], r["ts_s"])  # noqa: E731
    assert sorted(a.rows, key=key) == sorted(b.rows, key=key) and len(a.rows) >= 12
    assert whole.requests_made == 2 and chunked.requests_made >= 2 * 3


def test_label_mapping_from_namespace_override(prometheus):
    mapping = LabelMapping(namespaces={"team-infer": {"team": "inference", "project": "chat"}})
    start_s = _first_sample_s(prometheus)
    with PrometheusClient(prometheus) as client:
        out = collect_samples(client, dcgm_queries()[:1], start_s, start_s + 5, 1.0, mapping)
    attributed = {(r["workload"], r["team"], r["project"]) for r in out.rows if r["labels"]["gpu"] == "0"}
    assert attributed == {("llama-chat", "inference", "chat")}


def test_cli_ingest_prometheus_json(prometheus, cli, tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    args = ["ingest", "prometheus", "--url", prometheus, "--start", "-20s", "--end", "now", "--step", "2",
            "--db", db, "--json"]
    first = cli(*args)
    assert first.code == 0, first.err
    out = first.json()
    assert out["ingested"] > 0 and out["per_metric"]["gpu_util_pct"] >= 2 and out["rejected"] == 0
    assert out["window"]["step_s"] == 2 and out["window"]["start_s"] % 2 == 0
    fixed = ["--start", str(out["window"]["start_s"]), "--end", str(out["window"]["end_s"])]
    again = cli("ingest", "prometheus", "--url", prometheus, *fixed, "--step", "2", "--db", db)
    assert again.code == 0, again.err
    assert f"{out['read']} read, 0 ingested, {out['read']} duplicate(s) skipped" in again.out
    assert "samples by metric" in again.out and "gpu_util_pct" in again.out


# ---------------------------------------------------------------- failures: down, flaky, half-way


def test_prometheus_down_is_one_clear_line_and_store_unchanged(cli, db_url):
    store = Store.open(db_url)
    store.add_usage_samples([{"source": "usage_csv", "metric": "gpu_util_pct", "series_key": "workload=w",
                              "ts_s": 1.0, "value": 50.0}])
    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    result = cli("ingest", "prometheus", "--url", url, "--retries", "2", "--db", db_url)
    assert result.code == 3
    assert len(result.err_lines) == 1
    line = result.err_lines[0]
    assert f"Prometheus at {url} is unreachable after 2 attempt(s)" in line and "To fix:" in line
    assert "Traceback" not in result.err
    assert store.count(UsageSample) == 1


def _matrix(ts_values, labels=None) -> dict:
    return {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": labels or {"__name__": "DCGM_FI_DEV_GPU_UTIL", "gpu": "0", "pod": POD, "namespace": "ns"},
         "values": [[t, str(v)] for t, v in ts_values]}]}}


def _api_server(answers: list[tuple[int, dict | str]]):
    """A real HTTP server replaying canned Prometheus answers in order (the last one repeats)."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            from urllib.parse import parse_qs, urlparse

            seen.append({k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()})
            status, body = answers[min(len(seen) - 1, len(answers) - 1)]
            data = (json.dumps(body) if isinstance(body, dict) else body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return _serve(Handler), seen


def test_retries_5xx_with_exponential_backoff_and_jitter():
    ok = _matrix([(120, 40), (180, 60)])
    server, seen = _api_server([(503, "overloaded"), (502, "bad gateway"), (200, ok)])
    sleeps: list[float] = []
    try:
        client = PrometheusClient(f"http://127.0.0.1:{server.server_port}", attempts=4, backoff_base_s=1.0,
                                  sleep=sleeps.append)
        out = collect_samples(client, dcgm_queries()[:1], 100, 200, 60)
    finally:
        server.shutdown()
    assert [r["value"] for r in out.rows] == [40.0, 60.0]
    assert len(seen) == 3 and seen[0]["start"] == "120" and seen[0]["end"] == "180" and seen[0]["step"] == "60"
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 1.0 and 0 <= sleeps[1] <= 2.0


def test_failure_half_way_writes_nothing(db_url):
    store = Store.open(db_url)
    first_chunk = _matrix([(0, 10), (60, 20)])
    server, seen = _api_server([(200, first_chunk), (500, "storage failure")])
    try:
        client = PrometheusClient(f"http://127.0.0.1:{server.server_port}", attempts=2, max_points=2,
                                  sleep=lambda s: None)
        with pytest.raises(SourceUnreachableError, match="HTTP 500"):
            ingest_prometheus(client, store, 0, 600, 60, dcgm_queries()[:1])
    finally:
        server.shutdown()
    assert len(seen) == 3  # chunk 1 answered, chunk 2 failed twice
    assert store.count(UsageSample) == 0


def test_bad_query_is_input_error_not_retried():
    from costplane.core.errors import InputError

    server, seen = _api_server([(400, {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"})])
    try:
        client = PrometheusClient(f"http://127.0.0.1:{server.server_port}", sleep=lambda s: None)
        with pytest.raises(InputError, match="parse error at char 5"):
            client.query_range("rate(x[", 0, 60, 60)
    finally:
        server.shutdown()
    assert len(seen) == 1


def test_serving_queries_promql():
    q = {x.name: (x.metric, x.promql) for x in serving_queries(30.0)}
    assert q["vllm:request_success_total"] == ("requests_per_s", "rate(vllm:request_success_total[60s])")
    assert q["tgi_request_success"] == ("requests_per_s", "rate(tgi_request_success[60s])")
    # queue gauges are stored as they are, under the one queue name the controller reads
    assert q["vllm:num_requests_waiting"] == ("queue_waiting", "vllm:num_requests_waiting")
    assert q["tgi_queue_size"] == ("queue_waiting", "tgi_queue_size")
    assert q["vllm:e2e_request_latency_seconds:p95"] == (
        "latency_p95_s", "histogram_quantile(0.95, rate(vllm:e2e_request_latency_seconds_bucket[60s]))")
    wide = {x.metric: x.promql for x in serving_queries(300.0, ["http_requests_total"], [], queue_gauges=())}
    assert wide == {"requests_per_s": "rate(http_requests_total[300s])"}
    assert serving_queries(1.0, ["x_total"], [], rate_window_s=5)[0].promql == "rate(x_total[5s])"
