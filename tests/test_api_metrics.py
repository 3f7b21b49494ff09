"""/metrics: Prometheus text from the store, every name prefixed costplane_, one registry per app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from api_fixtures import build_world
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

GRAFANA = Path(__file__).resolve().parents[1] / "grafana" / "costplane-dashboard.json"


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


@pytest.fixture
def scraped(tmp_path):
    w = build_world(f"sqlite:///{tmp_path / 'm.db'}")
    with TestClient(w.app) as client:
        client.post("/api/v1/budgets", json={"name": "product", "amount_usd": 200}, headers=w.auth("admin"))
        r = client.get("/metrics", headers=w.auth("admin"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return r.text


def test_cost_rates_idle_and_utilisation_from_the_ledger(scraped):
    s = _samples(scraped)
    assert s[("costplane_cost_usd_per_hour", (("team", "research"), ("workload", "train")))] == pytest.approx(12.0)
    assert s[("costplane_cost_usd_per_hour", (("team", "product"), ("workload", "chat")))] == pytest.approx(4.0)
    assert s[("costplane_gpu_utilisation_ratio", (("workload", "chat"),))] == pytest.approx(0.5)
    assert s[("costplane_idle_cost_usd_per_hour", (("team", "product"),))] == pytest.approx(2.0)
    assert s[("costplane_idle_cost_usd_per_hour", (("team", "(unallocated)"),))] == pytest.approx(3.0)


def test_controller_and_budget_gauges(scraped):
    s = _samples(scraped)
    chat = (("target", "deployment/serving/chat"), ("team", "product"))
    assert s[("costplane_replicas_desired", chat)] == 4.0  # the newest decision wins
    assert s[("costplane_replicas_actual", chat)] == 3.0
    assert s[("costplane_demand_actual", chat)] == 6.5
    budget = (("budget", "team:product"), ("period", "month"), ("team", "product"))
    assert s[("costplane_budget_burn_ratio", budget)] == pytest.approx(0.54)
    assert s[("costplane_budget_spent_usd", budget)] == pytest.approx(108.0)


def test_every_metric_is_prefixed_and_http_requests_are_counted_by_route(scraped):
    names = {fam.name for fam in text_string_to_metric_families(scraped)}
    assert names and all(n.startswith("costplane_") for n in names)
    s = _samples(scraped)
    key = ("costplane_http_requests_total", (("method", "POST"), ("route", "/api/v1/budgets"), ("status", "201")))
    assert s[key] == 1.0


def test_each_app_has_its_own_registry(tmp_path):
    a = build_world(f"sqlite:///{tmp_path / 'a.db'}", seed=False)
    b = build_world(f"sqlite:///{tmp_path / 'b.db'}", seed=False)
    with TestClient(a.app) as ca, TestClient(b.app) as cb:
        ca.get("/healthz")
        ca.get("/healthz")
        sb = _samples(cb.get("/metrics", headers=b.auth("admin")).text)
    assert ("costplane_http_requests_total", (("method", "GET"), ("route", "/healthz"), ("status", "200"))) not in sb


def test_grafana_dashboard_uses_only_exported_metrics(scraped):
    board = json.loads(GRAFANA.read_text())
    assert board["title"] and board["panels"] and board["schemaVersion"] >= 30
    exported = {fam.name for fam in text_string_to_metric_families(scraped)}
    exported |= {f"{n}_total" for n in exported} | {f"{n}_bucket" for n in exported}
    import re

    used = {m for p in board["panels"] for t in p.get("targets", []) for m in re.findall(r"costplane_\w+", t["expr"])}
    assert used and used <= exported, used - exported
