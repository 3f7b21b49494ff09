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
