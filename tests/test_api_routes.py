"""REST API v1 on the ledger of api_fixtures: numbers, pagination, errors, and the OpenAPI shape."""

from __future__ import annotations

import pytest
import yaml
from api_fixtures import NOW_S, running_world

from costplane.catalog import load_catalog
from costplane.placement import PlacementRequest, place


@pytest.fixture
def world(db_url):
    with running_world(db_url) as w:
        yield w


@pytest.fixture(scope="module")
def sqlite_world(tmp_path_factory):
    with running_world(f"sqlite:///{tmp_path_factory.mktemp('api') / 'api.db'}") as w:
        yield w


def test_spend_prorates_lines_into_hour_buckets(world):
    r = world.client.get("/api/v1/spend?window=3h&step=1h&by=team", headers=world.auth("admin")).json()
    series = {s["key"]: [p["cost_usd"] for p in s["points"]] for s in r["series"]}
    assert series == {"research": [10.0, 10.0, 12.0], "product": [0.0, 4.0, 4.0], "(unallocated)": [0.0, 0.0, 3.0]}
    assert r["total_usd"] == pytest.approx(43.0)
    assert r["start_s"] == NOW_S - 3 * 3600 and r["end_s"] == NOW_S
    by_workload = world.client.get("/api/v1/spend?window=30d&step=1d&by=workload",
                                   headers=world.auth("admin")).json()
    assert {s["key"]: s["cost_usd"] for s in by_workload["series"]} == {"chat": 108.0, "train": 32.0,
                                                                        "(unallocated)": 3.0}


def test_budgets_report_spend_and_burn_in_the_current_period(world):
    c, h = world.client, world.auth("ops-all")
    research = c.post("/api/v1/budgets", json={"name": "research", "amount_usd": 100}, headers=h).json()
    product = c.post("/api/v1/budgets", json={"name": "product", "amount_usd": 200}, headers=h).json()
    assert (research["spent_usd"], research["burn_ratio"]) == (32.0, 0.32)
    assert (product["spent_usd"], product["burn_ratio"]) == (108.0, 0.54)
    assert research["period_start_s"] == 1_748_736_000.0  # 2025-06-01 00:00 UTC
    # month budgets carry costplane.budget's month-end forecast and the thresholds crossed
    assert product["forecast_usd"] >= product["spent_usd"]
    assert {"threshold": 0.5, "basis": "actual"} in product["alerts"]
    assert all(a["basis"] in ("actual", "forecast") for a in research["alerts"])
    weekly = c.patch(f"/api/v1/budgets/{product['id']}", json={"period": "week"}, headers=h).json()
    assert weekly["spent_usd"] == 8.0  # the week began Monday 2025-06-09: the 100 $ line is older
    assert weekly["forecast_usd"] is None and weekly["alerts"] == []
    assert c.get(f"/api/v1/budgets/{product['id']}", headers=h).json()["period"] == "week"
    assert c.delete(f"/api/v1/budgets/{product['id']}", headers=h).status_code == 204
    assert c.get(f"/api/v1/budgets/{product['id']}", headers=h).status_code == 404
    assert c.get("/api/v1/budgets", headers=h).json()["count"] == 1


def test_decisions_filter_by_window_target_and_paginate(sqlite_world):
    c, h = sqlite_world.client, sqlite_world.auth("admin")
    everything = c.get("/api/v1/decisions", headers=h).json()
    assert everything["count"] == 3
    assert [d["created_at_s"] for d in everything["data"]] == sorted((d["created_at_s"] for d in everything["data"]),
                                                                     reverse=True)
    recent = c.get("/api/v1/decisions?window=90s", headers=h).json()
    assert recent["count"] == 2
    chat = c.get("/api/v1/decisions?target=deployment/serving/chat&limit=1&offset=1", headers=h).json()
    assert (chat["count"], chat["limit"], chat["offset"]) == (2, 1, 1)
    assert chat["data"][0]["desired"]["replicas"] == 3


def test_catalog_offers_filter_and_paginate(sqlite_world):
    c, h = sqlite_world.client, sqlite_world.auth("view-product")
    catalog = load_catalog()
    h100 = [o for o in catalog.offers if o.gpu == "H100"]
    page = c.get("/api/v1/catalog/offers?gpu=h100&limit=5&offset=3", headers=h).json()
    assert page["count"] == len(h100) and (page["limit"], page["offset"]) == (5, 3)
    assert page["data"] == [o.to_dict() for o in h100[3:8]]
    aws = c.get("/api/v1/catalog/offers?cloud=AWS&limit=1000", headers=h).json()
    assert aws["count"] == sum(o.cloud == "aws" for o in catalog.offers)
    assert c.get("/api/v1/catalog", headers=h).json()["offers"] == len(catalog.offers)


def test_placement_equals_the_core_ranking(sqlite_world):
    body = {"gpu": "H100", "gpus_per_node": 8, "nodes": 2, "hours": 10, "spot": True, "limit": 5}
    r = sqlite_world.client.post("/api/v1/placements", json=body, headers=sqlite_world.auth("view-research")).json()
    expected = place(PlacementRequest("H100", 8, 2, 10.0, spot=True), load_catalog(), limit=5)
    assert r["offers"] == [p.to_dict() for p in expected]
    assert r["offers"][0]["total_usd"] == pytest.approx(r["offers"][0]["hourly_usd"] * 10)


def test_errors_have_one_shape_and_the_right_status(sqlite_world):
    c, h = sqlite_world.client, sqlite_world.auth("admin")
    unknown = c.post("/api/v1/placements", json={"gpu": "H999", "hours": 1}, headers=h)
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "invalid_input"
    assert "H999" in unknown.json()["error"]["message"] and unknown.json()["error"]["fix"]
    infeasible = c.post("/api/v1/placements", json={"gpu": "H100", "gpus_per_node": 64, "hours": 1}, headers=h)
    assert infeasible.status_code == 422 and infeasible.json()["error"]["code"] == "infeasible"
    invalid = c.post("/api/v1/placements", json={"gpu": "H100", "hours": -1}, headers=h)
    assert invalid.status_code == 422 and invalid.json()["error"]["code"] == "validation_error"
    assert invalid.json()["error"]["message"].startswith("hours:")
    bad_window = c.get("/api/v1/spend?window=soon", headers=h)
    assert bad_window.status_code == 400 and "window" in bad_window.json()["error"]["message"]
    assert c.get("/api/v1/plans/999", headers=h).json()["error"]["code"] == "not_found"
    assert c.get("/api/v1/nothing-here", headers=h).status_code == 404


def test_plans_are_solved_stored_and_team_scoped(sqlite_world, tmp_path):
    from costplane.cli._demo import example_path

    c = sqlite_world.client
    spec = yaml.safe_load(example_path("fleet.yaml").read_text())
    plan = c.post("/api/v1/plans", json=spec, headers=sqlite_world.auth("ops-all"))
    assert plan.status_code == 201
    body = plan.json()
    assert body["status"] == "optimal" and body["teams"] == ["product", "research"]
    assert body["total_usd"] == pytest.approx(sum(a["total_usd"] for a in body["assignments"]), abs=1e-4)
    assert body["total_usd"] <= body["naive_total_usd"]
    mixed = c.post("/api/v1/plans", json=spec, headers=sqlite_world.auth("ops-research"))
    assert mixed.status_code == 403
    own = {"workloads": [w for w in spec["workloads"] if w["team"] == "research"][:2]}
    mine = c.post("/api/v1/plans", json=own, headers=sqlite_world.auth("ops-research")).json()
    listed = c.get("/api/v1/plans", headers=sqlite_world.auth("view-research")).json()
    assert [p["id"] for p in listed["data"]] == [mine["id"], body["id"]]
    # The mixed plan, seen by research: only research's workloads and their share of the cost.
    research = {w["name"] for w in spec["workloads"] if w["team"] == "research"}
    part = c.get(f"/api/v1/plans/{body['id']}", headers=sqlite_world.auth("view-research")).json()
    assert part["teams"] == ["research"] and {a["workload"] for a in part["assignments"]} == research
    assert part["total_usd"] == pytest.approx(sum(a["total_usd"] for a in body["assignments"]
                                                  if a["workload"] in research), abs=1e-6)
    assert part["naive_total_usd"] == pytest.approx(body["naive_total_usd"] * part["total_usd"] / body["total_usd"])
    # A plan with no research workload is a 404 for research (its id is not revealed).
    product_only = {"workloads": [w for w in spec["workloads"] if w["team"] == "product"][:1]}
    theirs = c.post("/api/v1/plans", json=product_only, headers=sqlite_world.auth("ops-all")).json()
    assert c.get(f"/api/v1/plans/{theirs['id']}", headers=sqlite_world.auth("view-research")).status_code == 404
    assert c.get("/api/v1/plans", headers=sqlite_world.auth("admin")).json()["count"] >= 2
    assert c.get("/api/v1/plans?limit=0", headers=sqlite_world.auth("admin")).status_code == 422


def test_operation_ids_are_tag_name_and_unique(sqlite_world):
    spec = sqlite_world.client.get("/openapi.json").json()
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    for op_id in ids:
        tag, _, name = op_id.partition("-")
        assert tag and name, op_id
    assert {"spend-get_spend", "budgets-list_budgets", "system-whoami", "decisions-list_decisions"} <= set(ids)
    # OpenCost clients call /allocation on the host root: those aliases are the only paths outside /api/v1
    assert all(p.startswith(("/api/v1/", "/healthz", "/metrics", "/allocation")) for p in spec["paths"])
    assert {"/allocation", "/allocation/compute"} <= set(spec["paths"])
