"""One cost path: CLI `cost`, the API's /cost, `budget status` and `report` agree to the cent on the same store."""

from __future__ import annotations

import pytest
from api_fixtures import NOW_S, build_world


@pytest.fixture(autouse=True)
def _no_env_db(monkeypatch, tmp_path):
    monkeypatch.delenv("COSTPLANE_DB_URL", raising=False)
    monkeypatch.setenv("COSTPLANE_HOME", str(tmp_path / "home"))


def test_cli_api_budget_and_report_agree_to_the_cent(cli, db_url, tmp_path):
    from fastapi.testclient import TestClient

    world = build_world(db_url)
    # A line tagged only with a project: allocated (to that project, team "(none)") on every surface.
    world.store.add_cost_records([{"source": "focus", "line_key": "proj-only", "project": "search",
                                   "period_start_s": NOW_S - 3600.0, "period_end_s": NOW_S,
                                   "billed_cost_usd": 10.0, "effective_cost_usd": 10.0}])
    month_start = 1_748_736_000.0  # 2025-06-01 00:00 UTC
    span_s = NOW_S - month_start
    with TestClient(world.app) as client:
        for by in ("team", "project", "workload"):
            cli_out = cli("cost", "--db", db_url, "--window", f"{span_s:.0f}s", "--end", NOW_S, "--by", by,
                          "--json").json()
            api_out = client.get(f"/api/v1/cost?window={span_s / 3600:.0f}h&by={by}",
                                 headers=world.auth("admin")).json()
            assert {r["key"]: r["cost_usd"] for r in cli_out["rows"]} == {r["key"]: r["cost_usd"] for r in api_out["rows"]}
            assert (cli_out["idle_usd"], cli_out["total_usd"]) == (api_out["idle_usd"], api_out["total_usd"])
        projects = cli("cost", "--db", db_url, "--window", "3h", "--end", NOW_S, "--by", "project", "--json").json()
        assert {r["key"]: r["cost_usd"] for r in projects["rows"]}["search"] == 10.0
        teams = cli("cost", "--db", db_url, "--window", f"{span_s:.0f}s", "--end", NOW_S, "--json").json()
        spent = {r["key"]: r["cost_usd"] for r in teams["rows"]}
        for team in ("research", "product"):
            assert cli("budget", "set", "--team", team, "--amount", "1000", "--db", db_url).code == 0
        status = cli("budget", "status", "--db", db_url, "--now", NOW_S, "--no-notify", "--json").json()
        assert {b["name"]: round(b["spent_usd"], 2) for b in status["budgets"]} == {
            "research": spent["research"], "product": spent["product"]}
        api_budgets = client.get("/api/v1/budgets", headers=world.auth("admin")).json()["data"]
        assert {b["name"]: b["spent_usd"] for b in api_budgets} == {"research": spent["research"],
                                                                    "product": spent["product"]}
        report = cli("report", "--db", db_url, "--window", f"{span_s:.0f}s", "--end", NOW_S,
                     "--out", tmp_path / "r.html", "--json").json()
        assert (report["total_usd"], report["idle_usd"]) == (teams["total_usd"], teams["idle_usd"])


def _dcgm(node: str, gpu: int, workload, team, util: float, t0: float, n: int = 24) -> list[dict]:
    """A DCGM series as `ingest prometheus` stores it, with no instance-type label: only the mapping knows the node."""
    return [{"source": "prometheus", "metric": "gpu_util_pct", "series_key": f"DCGM{{{node},{gpu}}}",
             "ts_s": t0 + 300.0 * k, "value": util, "workload": workload, "team": team,
             "labels": {"Hostname": node, "gpu": str(gpu)}} for k in range(n)]


def test_serve_prices_with_the_same_mapping_and_discounts_as_the_cli(cli, db_url, tmp_path):
    """`serve --mapping --discounts` (Settings.mapping_path/discounts_path): /cost, /spend, /budgets and /metrics
    price series whose node is known only through the mapping's `nodes:` exactly as `cost --mapping --discounts`."""
    from fastapi.testclient import TestClient

    from costplane.api import Settings, create_app, create_token
    from costplane.catalog import load_catalog
    from costplane.core.clock import SimClock
    from costplane.store import Store

    store = Store.open(db_url)
    t0 = NOW_S - 3 * 3600.0
    store.add_usage_samples(_dcgm("gpu-a", 0, "chat", "product", 60.0, t0) + _dcgm("gpu-a", 1, None, None, 0.0, t0)
                            + _dcgm("gpu-b", 0, "train", "research", 90.0, t0))
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("nodes:\n  gpu-a: {instance_type: a2-ultragpu-8g, cloud: gcp, region: us-central1}\n"
                       "  \"*\": {instance_type: p4d.24xlarge, cloud: aws, region: us-east-1}\n")
    discounts = tmp_path / "discounts.yaml"
    discounts.write_text("- {cloud: gcp, percent: 30}\n")
    args = ("--db", db_url, "--window", "6h", "--end", NOW_S, "--json")
    cli_out = cli("cost", *args, "--mapping", mapping, "--discounts", discounts).json()
    assert cli_out["unpriced"] == [] and {p["node"] for p in cli_out["pricing"]} == {"gpu-a", "gpu-b"}
    # the numbers the CLI prints, by hand: 2 h of each GPU at its instance type's per-GPU price (GCP 30 % off)
    cat = load_catalog(None, discounts)
    a2 = min(o.price_usd_per_hour for o in cat.offers if o.instance_type == "a2-ultragpu-8g"
             and o.region == "us-central1") / 8
    p4d = min(o.price_usd_per_hour for o in cat.offers if o.instance_type == "p4d.24xlarge"
              and o.region == "us-east-1") / 8
    got = {r["key"]: r["cost_usd"] for r in cli_out["rows"]}
    assert got == {"product": pytest.approx(2 * a2, abs=0.01), "research": pytest.approx(2 * p4d, abs=0.01)}
    assert cli_out["idle_usd"] == pytest.approx(2 * a2, abs=0.01)  # GPU 1 of gpu-a ran no workload

    admin = create_token(store, "admin", "admin", None, NOW_S - 10).secret
    headers = {"Authorization": f"Bearer {admin}"}
    settings = Settings(mapping_path=mapping, discounts_path=discounts)
    with TestClient(create_app(settings, store, SimClock(NOW_S))) as client:
        api = client.get("/api/v1/cost?window=6h&by=team", headers=headers).json()
        assert {r["key"]: r["cost_usd"] for r in api["rows"]} == {r["key"]: r["cost_usd"] for r in cli_out["rows"]}
        assert (api["idle_usd"], api["total_usd"], api["unpriced"]) == (cli_out["idle_usd"], cli_out["total_usd"], [])
        spend = client.get(f"/api/v1/spend?window=6h&step=6h&by=team&end_s={NOW_S}", headers=headers).json()
        by_key = {s["key"]: s["cost_usd"] for s in spend["series"]}  # unrounded; idle shows as (unallocated)
        assert {k: v for k, v in by_key.items() if k in got} == {k: pytest.approx(v, abs=0.01) for k, v in got.items()}
        assert round(sum(by_key.values()), 2) == api["total_usd"]
        assert client.post("/api/v1/budgets", headers=headers, json={
            "scope": "team", "name": "research", "amount_usd": 1000.0, "period": "month"}).json()["spent_usd"] == \
            got["research"]
        metrics = client.get("/metrics", headers=headers).text
        assert 'costplane_budget_spent_usd{budget="team:research"' in metrics
    # the same store served without the mapping: those nodes are unpriced, as `cost` without --mapping says
    with TestClient(create_app(Settings(), store, SimClock(NOW_S))) as client:
        bare = client.get("/api/v1/cost?window=6h&by=team", headers=headers).json()
    assert {u["node"] for u in bare["unpriced"]} == {"gpu-a", "gpu-b"}
    assert bare["total_usd"] == 0.0
