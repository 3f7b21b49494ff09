"""OpenCost-compatible allocation API, read the way an OpenCost client reads it (field names from OpenCost's
API docs: code, data[], name, window.start/end, start, end, cpuCost, gpuCost, ramCost, pvCost, networkCost,
totalCost, gpuHours, cpuCoreHours, ramByteHours, totalEfficiency, properties), and `cost --by` with the same keys.

The ledger is api_fixtures' (last 7 days: research/train 32 $, product/chat 8 $, idle node 3 $); the
workloads carry Kubernetes properties as `costplane ingest kubernetes` stores them.
"""

from __future__ import annotations

import json

import pytest
from api_fixtures import NOW_S, running_world

OPENCOST_FIELDS = ("name", "properties", "window", "start", "end", "cpuCost", "gpuCost", "ramCost", "pvCost",
                   "networkCost", "totalCost", "gpuHours", "cpuCoreHours", "ramByteHours", "totalEfficiency")
K8S = [
    {"name": "train", "kind": "job", "team": "research", "labels": {"app": "trainer", "tier": "batch"},
     "spec": {"source": "kubernetes", "namespace": "ml-train", "cluster": "prod", "controller": "train",
              "controllerKind": "Job"}},
    {"name": "chat", "kind": "deployment", "team": "product", "labels": {"app": "chat"},
     "spec": {"source": "kubernetes", "namespace": "serving", "cluster": "prod", "controller": "chat",
              "controllerKind": "Deployment"}},
]


@pytest.fixture
def world(tmp_path):
    with running_world(f"sqlite:///{tmp_path / 'alloc.db'}") as w:
        w.store.upsert_workloads(K8S)
        yield w


def _get(w, path, who="admin", **params):
    r = w.client.get(path, params=params, headers=w.auth(who))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["code"] == 200 and isinstance(body["data"], list)
    return body["data"]


def _total(sets) -> float:
    return round(sum(a["totalCost"] for s in sets for a in s.values()), 2)


def test_namespace_allocations_add_up_to_the_cost_endpoint_to_the_cent(world):
    sets = _get(world, "/api/v1/allocation", window="7d", aggregate="namespace", includeIdle="true")
    (allocs,) = sets
    for a in allocs.values():
        assert all(f in a for f in OPENCOST_FIELDS)
        assert set(a["window"]) == {"start", "end"} and a["start"] == a["window"]["start"]
    assert {k: a["totalCost"] for k, a in allocs.items()} == {"ml-train": 32.0, "serving": 8.0, "__idle__": 3.0}
    assert allocs["serving"]["gpuHours"] == pytest.approx(2.0)
    assert allocs["serving"]["totalEfficiency"] == pytest.approx(0.5)
    assert allocs["serving"]["properties"]["cluster"] == "prod"
    assert allocs["serving"]["properties"]["labels"] == {"app": "chat"}
    assert allocs["ml-train"]["gpuCost"] + allocs["ml-train"]["cpuCost"] + allocs["ml-train"]["ramCost"] == \
        pytest.approx(32.0)
    cost = world.client.get("/api/v1/cost", params={"window": "7d", "by": "team"}, headers=world.auth("admin")).json()
    assert _total(sets) == cost["total_usd"] == 43.0


def test_label_multi_key_share_idle_and_unallocated(world):
    (by_app,) = _get(world, "/api/v1/allocation", window="7d", aggregate="label:app")
    assert {k: a["totalCost"] for k, a in by_app.items()} == {"trainer": 32.0, "chat": 8.0}  # idle left out
    (multi,) = _get(world, "/api/v1/allocation", window="7d", aggregate="namespace,label:tier", includeIdle="true")
    assert set(multi) == {"ml-train/batch", "serving/__unallocated__", "__idle__"}
    (shared,) = _get(world, "/api/v1/allocation", window="7d", aggregate="team", shareIdle="true")
    assert "__idle__" not in shared and _total([shared]) == 43.0
    assert shared["research"]["totalCost"] == pytest.approx(32 + 3 * 32 / 40, abs=0.01)
    (by_ctrl,) = _get(world, "/api/v1/allocation", window="7d", aggregate="controller,cluster")
    assert set(by_ctrl) == {"train/prod", "chat/prod"}


def test_steps_rfc3339_window_and_opencost_paths(world):
    start = "2025-06-15T09:00:00Z"
    end = "2025-06-15T12:00:00Z"  # NOW in api_fixtures
    sets = _get(world, "/allocation/compute", window=f"{start},{end}", aggregate="namespace", step="1h",
                includeIdle="true")
    assert len(sets) == 3
    assert [s["ml-train"]["totalCost"] for s in sets] == [10.0, 10.0, 12.0]
    assert [s.get("serving", {}).get("totalCost", 0.0) for s in sets] == [0.0, 4.0, 4.0]
    assert [s.get("__idle__", {}).get("totalCost", 0.0) for s in sets] == [0.0, 0.0, 3.0]
    assert sets[0]["ml-train"]["window"] == {"start": start, "end": "2025-06-15T10:00:00Z"}
    assert _total(sets) == 43.0
    assert _get(world, "/allocation", window="7d") == _get(world, "/api/v1/allocation/compute", window="7d")


def test_auth_and_team_scope(world):
    assert world.client.get("/api/v1/allocation").status_code == 401
    assert world.client.get("/allocation").status_code == 401
    (mine,) = _get(world, "/api/v1/allocation", who="view-research", window="7d", includeIdle="true")
    assert set(mine) == {"ml-train"}  # idle capacity belongs to no team
    r = world.client.get("/api/v1/allocation", params={"team": "product"}, headers=world.auth("view-research"))
    assert r.status_code == 403
    bad = world.client.get("/api/v1/allocation", params={"aggregate": "pod"}, headers=world.auth("admin"))
    assert bad.status_code == 400 and "label:KEY" in bad.text


def test_cost_cli_groups_by_namespace_label_and_several_keys(cli, tmp_path, world):
    db = str(world.store.url)
    r = cli("cost", "--db", db, "--window", "7d", "--end", NOW_S, "--by", "namespace,label:app", "--json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    rows = {row["key"]: row["cost_usd"] for row in out["rows"]}
    assert rows == {"ml-train/trainer": 32.0, "serving/chat": 8.0}
    assert round(sum(rows.values()) + out["idle_usd"], 2) == out["total_usd"] == 43.0
    bad = cli("cost", "--db", db, "--by", "pod")
    assert bad.code != 0 and "To fix" in bad.err


def test_priced_gpu_series_with_a_mapping_file_agree_with_cost(tmp_path):
    """GPU series priced through the service's mapping file (Settings.mapping_path): the same nodes as /cost."""
    from fastapi.testclient import TestClient

    from costplane.api import Settings, create_app, create_token
    from costplane.core.clock import SimClock
    from costplane.store import Store

    store = Store.open(f"sqlite:///{tmp_path / 'series.db'}")
    store.add_usage_samples([
        {"source": "prometheus", "metric": "gpu_util_pct", "series_key": f"gpu-a/{g}", "ts_s": NOW_S - 7200 + 60 * i,
         "value": 40.0, "workload": w, "team": t, "labels": {"Hostname": "gpu-a", "gpu": str(g)}}
        for g, w, t in ((0, "chat", "product"), (1, "train", "research")) for i in range(120)])
    store.upsert_workloads(K8S)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("nodes:\n  gpu-a: {instance_type: a2-ultragpu-8g, cloud: gcp, region: us-central1}\n")
    admin = create_token(store, "admin", "admin", None, NOW_S - 10).secret
    headers = {"Authorization": f"Bearer {admin}"}
    with TestClient(create_app(Settings(mapping_path=mapping), store, SimClock(NOW_S))) as client:
        cost = client.get("/api/v1/cost", params={"window": "1d"}, headers=headers).json()
        data = client.get("/api/v1/allocation", params={"window": "1d", "includeIdle": "true"}, headers=headers).json()
    (allocs,) = data["data"]
    assert cost["total_usd"] > 0 and cost["unpriced"] == []
    assert _total([allocs]) == cost["total_usd"]
    assert set(allocs) == {"serving", "ml-train"}  # each series is one GPU, fully held by its workload
