"""Actuators for KServe, Knative, KEDA and Karpenter objects, and no fights with an autoscaler that owns a
Deployment (HPA, KEDA, Knative): refused by default, or its bounds driven instead. All through the official
client against the loopback Kubernetes API server (tests/kube_fixtures.py)."""

from __future__ import annotations

import pytest
from kube_fixtures import LoopbackKubeAPI

from costplane.actuate import TARGET_KINDS, KubernetesActuator, ScaleCommand, Target


def _deployment(ns, name, replicas, labels=None):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}},
            "status": {"replicas": replicas, "readyReplicas": replicas}}


OBJECTS = [
    _deployment("serving", "free", 1),
    _deployment("serving", "chat", 3),
    {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "chat", "namespace": "serving"},
     "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "chat"}, "minReplicas": 2,
              "maxReplicas": 10, "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                  "type": "Utilization", "averageUtilization": 70}}}]}},
    _deployment("jobs", "worker", 0),
    {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "worker-so", "namespace": "jobs"},
     "spec": {"scaleTargetRef": {"name": "worker"}, "minReplicaCount": 0, "maxReplicaCount": 20,
              "triggers": [{"type": "prometheus", "metadata": {"serverAddress": "http://prometheus:9090",
                                                               "query": "sum(vllm:num_requests_waiting)",
                                                               "threshold": "10"}}]}},
    {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",  # the HPA KEDA creates for it
     "metadata": {"name": "keda-hpa-worker-so", "namespace": "jobs"},
     "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "worker"}, "minReplicas": 1,
              "maxReplicas": 20}},
    _deployment("kserve-models", "chat-predictor-00001-deployment", 1,
                {"serving.knative.dev/service": "chat-predictor", "serving.knative.dev/revision": "chat-predictor-00001",
                 "serving.kserve.io/inferenceservice": "chat"}),
    {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
     "metadata": {"name": "chat", "namespace": "kserve-models"},
     "spec": {"predictor": {"minReplicas": 1, "maxReplicas": 4, "model": {"modelFormat": {"name": "huggingface"},
                                                                          "storageUri": "hf://meta-llama/Llama-3.1-8B"}}}},
    {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "chat-predictor", "namespace": "kserve-models"},
     "spec": {"template": {"metadata": {"annotations": {"autoscaling.knative.dev/min-scale": "0",
                                                        "autoscaling.knative.dev/max-scale": "3",
                                                        "autoscaling.knative.dev/target": "10"}},
                           "spec": {"containers": [{"image": "kserve/huggingfaceserver:v0.15.0"}]}}}},
    {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "gpu-h100"},
     "spec": {"limits": {"cpu": "1000", "nvidia.com/gpu": "64"},
              "template": {"spec": {"requirements": [
                  {"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "In", "values": ["8"]},
                  {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot", "on-demand"]}],
                  "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "gpu"}}}}},
]


@pytest.fixture
def kube():
    with LoopbackKubeAPI(OBJECTS) as api:
        yield api


def _apply(actuator, key, n):
    return actuator.apply(ScaleCommand(Target.parse(key), n))


def test_a_deployment_no_autoscaler_owns_is_scaled(kube):
    act = KubernetesActuator(kube.api_client())
    r = _apply(act, "deployment/serving/free", 3)
    assert (r.before, r.after, r.changed) == (1, 3, True)
    assert kube.get("apps/v1", "Deployment", "free", "serving")["spec"]["replicas"] == 3


@pytest.mark.parametrize("key,owner", [
    ("deployment/serving/chat", "HorizontalPodAutoscaler serving/chat (min 2, max 10)"),
    ("deployment/jobs/worker", "KEDA ScaledObject jobs/worker-so (min 0, max 20)"),
    ("deployment/kserve-models/chat-predictor-00001-deployment", "Knative Service kserve-models/chat-predictor"),
])
def test_owned_deployments_are_refused_with_the_owner_named(kube, key, owner):
    r = _apply(KubernetesActuator(kube.api_client()), key, 5)
    assert not r.changed and r.after == r.before
    assert r.detail.startswith(f"refused: {key} is scaled by {owner}") and "autoscaler_conflict: bounds" in r.detail
    assert kube.patches == []  # nothing written


def test_bounds_mode_drives_the_owning_autoscaler(kube):
    act = KubernetesActuator(kube.api_client(), autoscaler_conflict="bounds")
    r = _apply(act, "deployment/serving/chat", 4)
    assert r.changed and "HorizontalPodAutoscaler serving/chat" in r.detail
    hpa = kube.get("autoscaling/v2", "HorizontalPodAutoscaler", "chat", "serving")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (4, 10)
    assert kube.get("apps/v1", "Deployment", "chat", "serving")["spec"]["replicas"] == 3  # the HPA's to change
    _apply(act, "deployment/serving/chat", 12)
    hpa = kube.get("autoscaling/v2", "HorizontalPodAutoscaler", "chat", "serving")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (12, 12)
    assert not _apply(act, "deployment/serving/chat", 0).changed  # an HPA floor cannot be 0
    _apply(act, "deployment/jobs/worker", 2)
    assert kube.get("keda.sh/v1alpha1", "ScaledObject", "worker-so", "jobs")["spec"]["minReplicaCount"] == 2
    _apply(act, "deployment/kserve-models/chat-predictor-00001-deployment", 2)
    ann = kube.get("serving.knative.dev/v1", "Service", "chat-predictor", "kserve-models")["spec"]["template"][
        "metadata"]["annotations"]
    assert ann["autoscaling.knative.dev/min-scale"] == "2" and ann["autoscaling.knative.dev/target"] == "10"


def test_inference_service_floor_ceiling_and_idempotence(kube):
    act = KubernetesActuator(kube.api_client())
    key = "inferenceservice/kserve-models/chat"
    assert act.current(Target.parse(key)) == 1
    r = _apply(act, key, 3)
    assert (r.before, r.after, r.changed) == (1, 3, True)
    pred = kube.get("serving.kserve.io/v1beta1", "InferenceService", "chat", "kserve-models")["spec"]["predictor"]
    assert (pred["minReplicas"], pred["maxReplicas"]) == (3, 4) and pred["model"]["storageUri"].startswith("hf://")
    _apply(act, key, 6)
    pred = kube.get("serving.kserve.io/v1beta1", "InferenceService", "chat", "kserve-models")["spec"]["predictor"]
    assert (pred["minReplicas"], pred["maxReplicas"]) == (6, 6)  # the ceiling follows a floor above it
    n = len(kube.patches)
    assert not _apply(act, key, 6).changed and len(kube.patches) == n  # already there: no write
    pinned = KubernetesActuator(kube.api_client(), bound_mode="pin")
    _apply(pinned, key, 2)
    pred = kube.get("serving.kserve.io/v1beta1", "InferenceService", "chat", "kserve-models")["spec"]["predictor"]
    assert (pred["minReplicas"], pred["maxReplicas"]) == (2, 2)


def test_knative_keda_and_karpenter_targets(kube):
    act = KubernetesActuator(kube.api_client())
    r = _apply(act, "ksvc/kserve-models/chat-predictor", 5)
    ann = kube.get("serving.knative.dev/v1", "Service", "chat-predictor", "kserve-models")["spec"]["template"][
        "metadata"]["annotations"]
    assert r.changed and (ann["autoscaling.knative.dev/min-scale"], ann["autoscaling.knative.dev/max-scale"]) == ("5", "5")
    assert not _apply(act, "scaledobject/jobs/worker-so", 0).changed  # KEDA's default floor is already 0
    _apply(act, "scaledobject/jobs/worker-so", 1)
    assert kube.get("keda.sh/v1alpha1", "ScaledObject", "worker-so", "jobs")["spec"]["minReplicaCount"] == 1
    pool = Target.parse("karpenter/-/gpu-h100")
    assert act.current(pool) == 8 and act.status(pool).desired == 8  # 64 GPUs / 8 per node
    r = _apply(act, "karpenter/-/gpu-h100", 4)
    assert r.changed and "32 (4 nodes × 8 GPUs)" in r.detail
    limits = kube.get("karpenter.sh/v1", "NodePool", "gpu-h100")["spec"]["limits"]
    assert limits == {"cpu": "1000", "nvidia.com/gpu": "32"}


def test_target_kinds_parse_and_unknown_kind_lists_them():
    for kind in TARGET_KINDS:
        assert Target.parse(f"{kind}/ns/name").kind == kind
    with pytest.raises(ValueError, match="scaledobject"):
        Target.parse("rollout/ns/name")


def test_missing_object_is_one_clear_error(kube):
    from costplane.core.errors import CostplaneError

    with pytest.raises(CostplaneError, match="404"):
        _apply(KubernetesActuator(kube.api_client()), "inferenceservice/kserve-models/nope", 1)
