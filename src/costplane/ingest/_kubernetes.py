"""Kubernetes collection: pods with their owners, namespaces and labels, and nodes with their price inputs.

`collect_kubernetes(api_client, ...)` reads, through the official client, every pod (its controller
found by following ownerReferences: Pod -> ReplicaSet -> Deployment, StatefulSet, DaemonSet,
Job -> CronJob; a KServe predictor pod is its InferenceService by the label
`serving.kserve.io/inferenceservice`, a Knative pod its Service by `serving.knative.dev/service`),
every namespace (labels) and every node. `ingest_kubernetes(store, inventory)` stores them as
`workloads` rows, which the one cost path (costing._properties) reads:

- a workload per controller: name = the controller's name (what Prometheus series name as their
  workload once the pod suffix is stripped), team and project from configurable labels of the pod,
  else of its namespace; labels = the pod template's labels; spec = {source: kubernetes, namespace,
  cluster, controller, controllerKind, nodes, pods, gpus, aliases (other names its pods' series get)};
- a node as kind `k8s-node`, name `node:NAME`: instance type (`node.kubernetes.io/instance-type`),
  region and zone (`topology.kubernetes.io/*`), cloud (from `spec.providerID`), capacity type
  (`karpenter.sh/capacity-type`, `eks.amazonaws.com/capacityType`, `cloud.google.com/gke-spot`,
  `cloud.google.com/gke-preemptible`, `kubernetes.azure.com/scalesetpriority`), GPUs and GPU model.

GPU series on a node are then priced at its instance type, and a workload's cost rows carry its
namespace, cluster and labels (`cost --by namespace`, the allocation API) without a mapping file.
Re-ingesting updates the rows in place (idempotent).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from costplane.core.errors import CostplaneError, InputError
from costplane.ingest._mapping import workload_from_pod

DEFAULT_TEAM_LABELS = ("team", "costplane.io/team")
DEFAULT_PROJECT_LABELS = ("project", "costplane.io/project")
KSERVE_LABEL = "serving.kserve.io/inferenceservice"
KNATIVE_LABEL = "serving.knative.dev/service"
GPU_RESOURCE = "nvidia.com/gpu"
NODE_KIND = "k8s-node"
NODE_PREFIX = "node:"
_INSTANCE_TYPE = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
_REGION = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")
_ZONE = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
_GPU_MODEL = ("nvidia.com/gpu.product", "cloud.google.com/gke-accelerator", "karpenter.k8s.aws/instance-gpu-name")
_PROVIDER_CLOUDS = {"aws": "aws", "gce": "gcp", "azure": "azure", "oci": "oci", "lambda": "lambda",
                    "digitalocean": "do", "nebius": "nebius"}


@dataclass
class Inventory:
    """What one read of a cluster found: workload rows and node rows (as stored), and what was skipped."""

    cluster: str
    workloads: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    pods: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"cluster": self.cluster, "pods": self.pods, "workloads": len(self.workloads),
                "nodes": len(self.nodes), "warnings": self.warnings,
                "by_kind": _count(w["spec"]["controllerKind"] for w in self.workloads),
                "capacity_types": _count(n["spec"].get("capacity_type") or "unknown" for n in self.nodes)}


def _count(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))


def _first(labels: dict[str, str], keys: Sequence[str]) -> str | None:
    for k in keys:
        v = labels.get(k)
        if v:
            return str(v)
    return None


def capacity_type(labels: dict[str, str]) -> str | None:
    """`spot` or `on-demand` from the labels Karpenter, EKS, GKE and AKS put on nodes; None when none says."""
    karpenter = (labels.get("karpenter.sh/capacity-type") or "").lower()
    if karpenter:
        return "spot" if karpenter == "spot" else "on-demand"  # on-demand, reserved
    eks = (labels.get("eks.amazonaws.com/capacityType") or "").upper()
    if eks:
        return "spot" if eks == "SPOT" else "on-demand"
    if str(labels.get("cloud.google.com/gke-spot", "")).lower() == "true" or \
            str(labels.get("cloud.google.com/gke-preemptible", "")).lower() == "true":
        return "spot"
    aks = (labels.get("kubernetes.azure.com/scalesetpriority") or "").lower()
    if aks:
        return "spot" if aks == "spot" else "on-demand"
    if any(k.startswith(("cloud.google.com/gke-nodepool", "eks.amazonaws.com/nodegroup")) for k in labels):
        return "on-demand"  # a managed node pool that does not say spot is on-demand
    return None


def cloud_of(provider_id: str | None, labels: dict[str, str]) -> str | None:
    """The cloud from `spec.providerID` (`aws:///us-east-1a/i-0...`, `gce://project/zone/name`, ...)."""
    if provider_id and "://" in provider_id:
        return _PROVIDER_CLOUDS.get(provider_id.split("://", 1)[0].lower(), provider_id.split("://", 1)[0].lower())
    if any(k.startswith("eks.amazonaws.com/") or k.startswith("karpenter.k8s.aws/") for k in labels):
        return "aws"
    if any(k.startswith("cloud.google.com/") for k in labels):
        return "gcp"
    if any(k.startswith("kubernetes.azure.com/") for k in labels):
        return "azure"
    return None


def _quantity(value: Any) -> float:
    text = str(value or "0").strip()
    try:
        return float(text)
    except ValueError:
        return 0.0


def node_row(node: dict[str, Any], cluster: str) -> dict[str, Any]:
    meta, spec, status = node.get("metadata") or {}, node.get("spec") or {}, node.get("status") or {}
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    gpus = _quantity((status.get("capacity") or {}).get(GPU_RESOURCE))
    return {"name": NODE_PREFIX + meta["name"], "kind": NODE_KIND, "team": None, "project": None, "labels": labels,
            "spec": {"source": "kubernetes", "cluster": cluster, "node": meta["name"],
                     "instance_type": _first(labels, _INSTANCE_TYPE), "region": _first(labels, _REGION),
                     "zone": _first(labels, _ZONE), "cloud": cloud_of(spec.get("providerID"), labels),
                     "capacity_type": capacity_type(labels), "gpus": gpus, "gpu_model": _first(labels, _GPU_MODEL)}}


def _controller_ref(obj: dict[str, Any]) -> dict[str, Any] | None:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return next((r for r in refs if r.get("controller")), refs[0] if refs else None)


def _owner(pod: dict[str, Any], owners: dict[tuple[str, str, str], dict[str, Any]]) -> tuple[str, str]:
    """(controllerKind, controller name) of a pod: the top of its ownerReferences chain, KServe/Knative by label."""
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    if labels.get(KSERVE_LABEL):
        return "InferenceService", labels[KSERVE_LABEL]
    if labels.get(KNATIVE_LABEL):
        return "Service", labels[KNATIVE_LABEL]
    ns = meta.get("namespace") or "default"
    ref = _controller_ref(pod)
    kind, name = (ref["kind"], ref["name"]) if ref else ("Pod", meta.get("name", ""))
    for _ in range(4):  # ReplicaSet -> Deployment, Job -> CronJob (a short chain; never a loop)
        parent = owners.get((kind, ns, name))
        up = _controller_ref(parent) if parent else None
        if up is None:
            break
        kind, name = up["kind"], up["name"]
    if kind == "ReplicaSet" and (kind, ns, name) not in owners:  # RS not readable: strip its hash
        kind, name = "Deployment", name.rsplit("-", 1)[0]
    return kind, name


def _pod_gpus(pod: dict[str, Any]) -> float:
    total = 0.0
    for c in (pod.get("spec") or {}).get("containers") or []:
        res = c.get("resources") or {}
        total += max(_quantity((res.get("limits") or {}).get(GPU_RESOURCE)),
                     _quantity((res.get("requests") or {}).get(GPU_RESOURCE)))
    return total


def build_inventory(cluster: str, pods: list[dict], namespaces: list[dict], nodes: list[dict],
                    owners: list[dict], team_labels: Sequence[str] = DEFAULT_TEAM_LABELS,
                    project_labels: Sequence[str] = DEFAULT_PROJECT_LABELS) -> Inventory:
    """Workload and node rows from the objects' JSON (pure: the shapes `kubectl get -o json` prints)."""
    inv = Inventory(cluster)
    ns_labels = {(n.get("metadata") or {}).get("name"): (n.get("metadata") or {}).get("labels") or {}
                 for n in namespaces}
    index = {(o.get("kind"), (o.get("metadata") or {}).get("namespace") or "default",
              (o.get("metadata") or {}).get("name")): o for o in owners}
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for pod in pods:
        meta = pod.get("metadata") or {}
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed") and not _pod_gpus(pod):
            continue  # finished pods holding nothing
        inv.pods += 1
        ns = meta.get("namespace") or "default"
        kind, name = _owner(pod, index)
        labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
        g = groups.setdefault((ns, name), {"kind": kind, "labels": dict(labels), "pods": [], "nodes": set(),
                                           "gpus": 0.0})
        g["labels"] = {k: v for k, v in g["labels"].items() if labels.get(k) == v}  # what all its pods share
        g["pods"].append(meta.get("name", ""))
        if (pod.get("spec") or {}).get("nodeName"):
            g["nodes"].add(pod["spec"]["nodeName"])
        g["gpus"] += _pod_gpus(pod)
    names: dict[str, str] = {}
    for (ns, name), g in sorted(groups.items()):
        if name in names and names[name] != ns:
            inv.warnings.append(f"workload {name!r} runs in namespaces {names[name]!r} and {ns!r}; "
                                f"the second is stored as {ns}/{name}")
            stored = f"{ns}/{name}"
        else:
            names[name] = ns
            stored = name
        nsl = {str(k): str(v) for k, v in ns_labels.get(ns, {}).items()}
        team = _first(g["labels"], team_labels) or _first(nsl, team_labels)
        project = _first(g["labels"], project_labels) or _first(nsl, project_labels)
        aliases = sorted({workload_from_pod(p) for p in g["pods"]} - {stored})
        pod_hash = {"pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name",
                    "batch.kubernetes.io/controller-uid", "controller-uid", "batch.kubernetes.io/job-name",
                    "job-name", "apps.kubernetes.io/pod-index", "batch.kubernetes.io/job-completion-index"}
        inv.workloads.append({
            "name": stored, "kind": g["kind"].lower(), "team": team, "project": project,
            "labels": {k: v for k, v in g["labels"].items() if k not in pod_hash},
            "spec": {"source": "kubernetes", "namespace": ns, "cluster": cluster, "controller": name,
                     "controllerKind": g["kind"], "nodes": sorted(g["nodes"]), "pods": len(g["pods"]),
                     "gpus": g["gpus"], "aliases": aliases}})
    inv.nodes = [node_row(n, cluster) for n in nodes if (n.get("metadata") or {}).get("name")]
    return inv


def kube_client(kubeconfig: str | None = None, context: str | None = None):
    """An ApiClient: in-cluster config when running in a pod (and no kubeconfig given), else the kubeconfig."""
    from kubernetes import client, config

    if kubeconfig is None and context is None:
        try:
            config.load_incluster_config()
            return client.ApiClient(), "in-cluster"
        except config.ConfigException:
            pass
    import yaml

    # A malformed file fails inside the client's loader with whatever its parser raises.
    broken = (config.ConfigException, OSError, TypeError, ValueError, KeyError, AttributeError, yaml.YAMLError)
    try:
        api = config.new_client_from_config(config_file=kubeconfig, context=context)
    except broken as exc:
        reason = " ".join(str(exc).split())[:200]
        raise InputError(f"no usable Kubernetes configuration in {kubeconfig or 'KUBECONFIG/~/.kube/config'} "
                         f"({exc.__class__.__name__}: {reason})",
                         fix="run inside a cluster, set KUBECONFIG, or pass --kubeconfig FILE [--context NAME]") from None
    if context is None:
        try:
            _, active = config.list_kube_config_contexts(config_file=kubeconfig)
            context = active.get("name") if active else None
        except broken:
            context = None
    return api, context or "default"


def _list(what: str, fn) -> list[dict]:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    from costplane.ingest._errors import SourceUnreachableError

    try:
        resp = fn(_preload_content=False)
    except ApiException as exc:
        raise CostplaneError(f"Kubernetes refused to list {what}: {exc.status} {exc.reason}",
                             fix=f"give the identity `list` on {what} (a ClusterRole with get/list on pods, "
                                 "namespaces, nodes, replicasets and jobs)") from None
    except HTTPError as exc:
        raise SourceUnreachableError(f"Kubernetes API unreachable while listing {what}: {exc.__class__.__name__}",
                                     fix="check the API server address in the kubeconfig and the network") from None
    import json

    return json.loads(resp.data).get("items") or []


def collect_kubernetes(api_client, cluster: str, team_labels: Sequence[str] = DEFAULT_TEAM_LABELS,
                       project_labels: Sequence[str] = DEFAULT_PROJECT_LABELS) -> Inventory:
    """Read pods, namespaces, nodes, ReplicaSets and Jobs through the official client (raw JSON, no models)."""
    from kubernetes import client

    core, apps, batch = client.CoreV1Api(api_client), client.AppsV1Api(api_client), client.BatchV1Api(api_client)
    pods = _list("pods", core.list_pod_for_all_namespaces)
    namespaces = _list("namespaces", core.list_namespace)
    nodes = _list("nodes", core.list_node)
    owners = []
    for kind, fn in (("ReplicaSet", apps.list_replica_set_for_all_namespaces),
                     ("Job", batch.list_job_for_all_namespaces)):
        for o in _list(f"{kind.lower()}s", fn):
            o.setdefault("kind", kind)
            owners.append(o)
    return build_inventory(cluster, pods, namespaces, nodes, owners, team_labels, project_labels)


def ingest_kubernetes(store, inventory: Inventory) -> int:
    """Store the inventory's workload and node rows (upsert by name); returns the rows written."""
    return store.upsert_workloads(inventory.workloads + inventory.nodes)
