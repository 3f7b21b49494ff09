"""`costplane ingest kubernetes` against a loopback Kubernetes API server holding recorded object shapes
(tests/data/kubernetes): pods resolved to their controllers, teams from labels, nodes with instance type,
region and capacity type; then GPU series on those nodes are priced and grouped by namespace with no mapping file.
"""

from __future__ import annotations

import json

import pytest
from kube_fixtures import LoopbackKubeAPI, recorded_cluster

from costplane.catalog import load_catalog
from costplane.ingest._kubernetes import build_inventory, capacity_type, cloud_of
from costplane.store import Store, WorkloadRow

NOW_S = 1_780_000_000.0


@pytest.fixture
def kube():
    with LoopbackKubeAPI(recorded_cluster()) as api:
        yield api


def _ingest(cli, kube, tmp_path, *extra):
    db = f"sqlite:///{tmp_path / 'k.db'}"
    r = cli("ingest", "kubernetes", "--kubeconfig", kube.kubeconfig(tmp_path / "kubeconfig"), "--context", "prod-gpu",
            "--db", db, "--json", *extra)
    assert r.code == 0, r.err
    return db, json.loads(r.out)


def _rows(db) -> dict[str, WorkloadRow]:
    store = Store.open(db)
    with store.session() as s:
        return {w.name: (w.kind, w.team, w.project, dict(w.labels), dict(w.spec)) for w in s.query(WorkloadRow)}


def test_pods_resolve_to_their_controllers_with_teams_and_nodes(cli, kube, tmp_path):
    db, out = _ingest(cli, kube, tmp_path)
    assert out["cluster"] == "prod-gpu" and out["pods"] == 6 and out["nodes"] == 3
    assert out["by_kind"] == {"CronJob": 1, "DaemonSet": 1, "Deployment": 1, "InferenceService": 1, "StatefulSet": 1}
    assert out["capacity_types"] == {"on-demand": 1, "spot": 2}
    rows = _rows(db)
    kind, team, project, labels, spec = rows["llama-chat"]
    assert (kind, team, project) == ("deployment", "product", None)  # team from the namespace label
    assert labels == {"app": "llama-chat", "tier": "online"}  # pod-template-hash dropped
    assert spec["namespace"] == "serving" and spec["cluster"] == "prod-gpu" and spec["pods"] == 2
    assert spec["gpus"] == 4 and spec["nodes"] == ["ip-10-0-2-45.ec2.internal"]
    assert rows["trainer"][:3] == ("statefulset", "research", "llama")  # pod label, namespace project
    assert rows["nightly-eval"][4]["controllerKind"] == "CronJob"  # Job -> CronJob
    assert "nightly-eval-29412000" in rows["nightly-eval"][4]["aliases"]
    isvc = rows["chat"]
    assert isvc[0] == "inferenceservice" and isvc[1:3] == ("product", "chat")
    assert isvc[4]["aliases"] == ["chat-predictor-00001-deployment"]
    assert "migrate-db" not in rows  # a finished pod holding no GPU
    node = rows["node:ip-10-0-1-23.ec2.internal"]
    assert node[0] == "k8s-node"
    assert {k: node[4][k] for k in ("instance_type", "region", "zone", "cloud", "capacity_type", "gpus")} == \
        {"instance_type": "p5.48xlarge", "region": "us-east-1", "zone": "us-east-1a", "cloud": "aws",
         "capacity_type": "spot", "gpus": 8.0}
    gke = rows["node:gke-prod-a100-pool-5f2c1b9e-k9x2"][4]
    assert (gke["cloud"], gke["capacity_type"], gke["instance_type"]) == ("gcp", "spot", "a2-highgpu-1g")
    # Idempotent: a second read updates the same rows.
    _ingest(cli, kube, tmp_path)
    assert len(_rows(db)) == len(rows)


def test_gpu_series_are_priced_and_grouped_by_namespace_without_a_mapping(cli, kube, tmp_path):
    db, _ = _ingest(cli, kube, tmp_path)
    store = Store.open(db)
    series = [("ip-10-0-2-45.ec2.internal", "llama-chat-7d9f8c6b5d-x2kq9", "llama-chat", "serving", g) for g in "01"]
    series += [("ip-10-0-2-45.ec2.internal", "chat-predictor-00001-deployment-5d8f9c6b7f-tq4lm",
                "chat-predictor-00001-deployment", "kserve-models", "2"),
               ("ip-10-0-1-23.ec2.internal", "trainer-0", "trainer", "ml-train", "0")]  # a Karpenter spot node
    rows = []
    for node, pod, workload, ns, gpu in series:  # one hour of DCGM samples each minute, as Prometheus ingest stores them
        for i in range(60):
            rows.append({"source": "prometheus", "metric": "gpu_util_pct", "series_key": f"{node}/{gpu}",
                         "ts_s": NOW_S - 3600 + 60 * i, "value": 50.0, "workload": workload, "team": None,
                         "labels": {"Hostname": node, "gpu": gpu, "pod": pod, "namespace": ns}})
    store.add_usage_samples(rows)
    r = cli("cost", "--db", db, "--window", "1h", "--end", NOW_S, "--by", "namespace", "--json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    per_gpu = min(o.price_usd_per_hour / o.gpus for o in load_catalog().offers
                  if o.instance_type == "g5.12xlarge" and o.region == "us-east-1" and o.price_usd_per_hour)
    spot_per_gpu = min(o.spot_price_usd_per_hour / o.gpus for o in load_catalog().offers
                       if o.instance_type == "p5.48xlarge" and o.region == "us-east-1" and o.spot_price_usd_per_hour)
    got = {row["key"]: row["cost_usd"] for row in out["rows"]}
    assert got == {"serving": pytest.approx(2 * per_gpu, abs=0.01), "kserve-models": pytest.approx(per_gpu, abs=0.01),
                   "ml-train": pytest.approx(spot_per_gpu, abs=0.01)}  # spot node: the spot price
    r = cli("cost", "--db", db, "--window", "1h", "--end", NOW_S, "--by", "workload,team", "--json")
    got = {row["key"] for row in json.loads(r.out)["rows"]}
    assert got == {"llama-chat/product", "chat/product", "trainer/research"}  # KServe pods count for the InferenceService


def test_forbidden_list_is_one_line_error_naming_the_permission(cli, kube, tmp_path):
    kube.forbidden.add("nodes")
    r = cli("ingest", "kubernetes", "--kubeconfig", kube.kubeconfig(tmp_path / "kc"), "--db",
            f"sqlite:///{tmp_path / 'x.db'}")
    assert r.code != 0 and len(r.err_lines) == 1
    assert "refused to list nodes: 403" in r.err_lines[0] and "To fix" in r.err_lines[0]


def test_missing_kubeconfig_and_unknown_context(cli, tmp_path, kube):
    r = cli("ingest", "kubernetes", "--kubeconfig", tmp_path / "nope", "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert r.code != 0 and "To fix" in r.err
    r = cli("ingest", "kubernetes", "--kubeconfig", kube.kubeconfig(tmp_path / "kc"), "--context", "staging",
            "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert r.code != 0 and "To fix" in r.err


def test_capacity_type_and_cloud_from_node_labels():
    assert capacity_type({"karpenter.sh/capacity-type": "on-demand"}) == "on-demand"
    assert capacity_type({"karpenter.sh/capacity-type": "reserved"}) == "on-demand"
    assert capacity_type({"eks.amazonaws.com/capacityType": "SPOT"}) == "spot"
    assert capacity_type({"cloud.google.com/gke-preemptible": "true"}) == "spot"
    assert capacity_type({"kubernetes.azure.com/scalesetpriority": "spot"}) == "spot"
    assert capacity_type({"cloud.google.com/gke-nodepool": "default"}) == "on-demand"
    assert capacity_type({}) is None
    assert cloud_of("azure:///subscriptions/x/resourceGroups/y/providers/Microsoft.Compute/virtualMachines/z", {}) \
        == "azure"
    assert cloud_of(None, {"eks.amazonaws.com/nodegroup": "ng"}) == "aws"


def test_custom_team_label_and_namespace_clash():
    def rs(name):  # owned by a ReplicaSet the identity may not read: the Deployment is its name without the hash
        return [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name, "controller": True}]

    pods = [
        {"metadata": {"name": "api-5d8f9c6b7f-tq4lm", "namespace": "a", "labels": {"app.kubernetes.io/part-of": "shop"},
                      "ownerReferences": rs("api-5d8f9c6b7f")}, "spec": {}, "status": {"phase": "Running"}},
        {"metadata": {"name": "api-7c9d8b6f5d-x2kq9", "namespace": "b", "labels": {},
                      "ownerReferences": rs("api-7c9d8b6f5d")}, "spec": {}, "status": {"phase": "Running"}},
        {"metadata": {"name": "debug-shell", "namespace": "a", "labels": {}}, "spec": {}, "status": {"phase": "Running"}},
    ]
    inv = build_inventory("c", pods, [], [], [], team_labels=("app.kubernetes.io/part-of",))
    names = {w["name"]: w for w in inv.workloads}
    assert set(names) == {"api", "b/api", "debug-shell"} and names["api"]["team"] == "shop"
    assert names["debug-shell"]["spec"]["controllerKind"] == "Pod"  # a bare pod is its own workload
    assert inv.warnings and "namespaces 'a' and 'b'" in inv.warnings[0]
