"""The loop closes on a user's own data, with real parts: a real Prometheus scrapes vLLM-named serving
metrics of two replicas and DCGM GPU use → `costplane ingest prometheus` → `costplane controller run
--once --actuator kubernetes` → the loopback Kubernetes API sees the Deployment scaled to what the demand
needs; `costplane cost` prices the GPU use at the node's instance type; the decision and the cost are
visible through the HTTP API of `costplane serve` and on its dashboard (headless Chromium).

Ledger of the scrape target: replicas chat-7d9f8c6b5d-x2kq9 and chat-7d9f8c6b5d-m4pzt each serve
5 requests/s (vllm:request_success_total = 5 t), so the service `chat` sees 10 requests/s; at
2.1 requests/s per replica it needs 5 replicas (4.76, with room for rate()'s jitter of a few percent).
Each replica holds one GPU of node-a, a GCP a3-highgpu-2g in us-central1 (node labels as relabelled onto
the DCGM series), busy 50 %: priced at the catalog's $10.76654/h / 2 GPUs = $5.38327 per GPU-hour. vllm:num_requests_waiting is 3 and 4: a queue of 7.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler

import httpx
import pytest
import yaml
from test_controller import FakeKubeAPI
from test_ingest_prometheus import _free_port, running_prometheus

PODS = ("chat-7d9f8c6b5d-x2kq9", "chat-7d9f8c6b5d-m4pzt")
SPEC = {"gpu": "H100", "gpus_per_replica": 1, "capacity_per_replica": 2.1, "cold_start_s": 120,
        "min_replicas": 1, "max_replicas": 32, "scale_to_zero": False, "max_queue_s": 10}


class _Serving(BaseHTTPRequestHandler):
    t0 = time.time()

    def do_GET(self):
        t = time.time() - self.t0
        lines = ["# TYPE vllm:request_success_total counter", "# TYPE vllm:num_requests_waiting gauge",
                 "# TYPE DCGM_FI_DEV_GPU_UTIL gauge"]
        for i, pod in enumerate(PODS):
            labels = f'namespace="serving",pod="{pod}",model_name="llama-3-8b",team="product"'
            lines += [f"vllm:request_success_total{{{labels}}} {5 * t:.6f}",
                      f"vllm:num_requests_waiting{{{labels}}} {3 + i}",
                      f'DCGM_FI_DEV_GPU_UTIL{{gpu="{i}",UUID="GPU-e2e-{i}",modelName="NVIDIA H100 80GB HBM3",'
                      f'Hostname="node-a",{labels},node_kubernetes_io_instance_type="a3-highgpu-2g",'
                      f'topology_kubernetes_io_region="us-central1"}} 50']
        data = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    # 20 scrapes: 15 s of rate() samples over a 5 s window
    with running_prometheus(_Serving, tmp_path_factory.mktemp("prom-e2e"),
                            "count_over_time(vllm:num_requests_waiting[5m])", min_samples=20) as url:
        yield url


def _cli(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "costplane", *args], capture_output=True, text=True, timeout=180,
                          env=env)


def test_ingested_serving_metrics_scale_the_deployment_and_show_in_the_api(prometheus, tmp_path):
    db = f"sqlite:///{tmp_path / 'loop.db'}"
    ingest = _cli("ingest", "prometheus", "--url", prometheus, "--start", "-5m", "--step", "1",
                  "--rate-window", "5", "--db", db, "--json")
    assert ingest.returncode == 0, ingest.stderr
    per_metric = json.loads(ingest.stdout)["per_metric"]
    assert per_metric.get("requests_per_s", 0) >= 20 and per_metric.get("queue_waiting", 0) >= 20

    services = tmp_path / "services.yaml"
    services.write_text(yaml.safe_dump({"services": [{"name": "chat", "team": "product", "policy": "hybrid",
                                                      "target": "deployment/serving/chat", **SPEC}]}))
    with FakeKubeAPI({"deployment/serving/chat": 1}) as kube:
        run = _cli("controller", "run", "--once", "--db", db, "--services", str(services), "--actuator",
                   "kubernetes", "--kube-host", kube.url, "--json")
        assert run.returncode == 0, run.stderr
        decision = json.loads(run.stdout)["decisions"][0]
        assert decision["target"] == "deployment/serving/chat"
        # 2 replicas x 5 req/s = 10 req/s at 2.1 req/s per replica: 5 replicas, and the Deployment is scaled to it
        assert decision["desired"]["replicas"] == 5, decision
        assert kube.replicas["deployment/serving/chat"] == 5 and kube.patches == [("deployment/serving/chat", 5)]

    status = _cli("controller", "status", "--db", db, "--json")
    assert status.returncode == 0, status.stderr
    st = json.loads(status.stdout)
    assert st["lease"] is None, "a --once run gives the lease back"
    assert st["targets"][0]["desired"] == 5 and st["services_with_state"] == 1

    cost = _cli("cost", "--window", "1h", "--by", "team", "--db", db, "--json")
    assert cost.returncode == 0, cost.stderr
    priced = json.loads(cost.stdout)
    product = {r["key"]: r for r in priced["rows"]}["product"]
    assert product["gpu_hours"] > 0 and not priced.get("unpriced")
    assert product["cost_usd"] == pytest.approx(product["gpu_hours"] * 10.76654 / 2, abs=0.01)
    assert product["efficiency"] == pytest.approx(0.5, abs=0.05)

    token = json.loads(_cli("token", "create", "--name", "e2e", "--role", "viewer", "--db", db, "--json").stdout)
    port = _free_port()
    env = {**os.environ, "COSTPLANE_HOME": str(tmp_path / "home")}
    server = subprocess.Popen([sys.executable, "-m", "costplane", "serve", "--db", db, "--port", str(port),
                               "--no-controller"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        body = httpx.get(f"{base}/api/v1/decisions", headers={"Authorization": f"Bearer {token['token']}"},
                         timeout=10).json()
        items = body["data"]
        assert any(d["target"] == "deployment/serving/chat" and d["desired"]["replicas"] == 5 for d in items), body
        queue = [d["observation"]["queue_units"] for d in items if d["target"] == "deployment/serving/chat"]
        assert queue == [7.0], "the observation carries the summed vLLM waiting queue"
        # the API's window ends at the current whole minute: wait for the minute the samples were taken in to end
        time.sleep(max(0.0, (time.time() // 60 + 1) * 60 - time.time() + 1.0))
        api_cost = httpx.get(f"{base}/api/v1/cost", params={"window": "1h", "by": "team"}, timeout=10,
                             headers={"Authorization": f"Bearer {token['token']}"}).json()
        # the API's window ends at the current whole minute: the CLI over that very window agrees to the cent
        api_end = api_cost["window"]["end"]
        same = json.loads(_cli("cost", "--window", "1h", "--end", str(api_end), "--by", "team", "--db", db,
                               "--json").stdout)
        assert api_cost["total_usd"] == pytest.approx(same["total_usd"], abs=0.005) and same["total_usd"] > 0
        _dashboard_shows(base, token["token"], "deployment/serving/chat")
    finally:
        server.terminate()
        server.wait(timeout=20)


def _dashboard_shows(base: str, token: str, target: str) -> None:
    """The dashboard in headless Chromium draws the controller's decision for the target and the team's spend."""
    from test_dashboard_e2e import CHROMIUM, CHROMIUM_ARGS, _need_chromium

    _need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            problems: list[str] = []
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.goto(f"{base}/?token={token}")
            try:  # the panels load independently; the replay panel may take long on a busy machine
                page.wait_for_selector(f'#forecast-charts .chart[data-target="{target}"]', timeout=90_000)
                page.wait_for_selector('[data-testid=spend-total][data-key="product"]', timeout=90_000)
            except Exception:
                raise AssertionError(f"the dashboard did not draw the decision and the spend: {problems}") from None
            totals = page.locator("[data-testid=spend-total]")
            keys = [totals.nth(i).get_attribute("data-key") for i in range(totals.count())]
            assert "product" in keys, keys
        finally:
            browser.close()
