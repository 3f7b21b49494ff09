"""Objects scaled through their autoscaler's bounds, and the autoscalers that already own a Deployment.

Bound targets (the replica count costplane decides becomes the object's floor; its own autoscaler
keeps reacting above it, so the two never fight):

| kind               | object (group/version)                    | floor (what `replicas` sets)                         | ceiling raised to the floor         |
|--------------------|-------------------------------------------|------------------------------------------------------|-------------------------------------|
| `inferenceservice` | KServe InferenceService serving.kserve.io/v1beta1 | `spec.predictor.minReplicas` (KServe default 1) | `spec.predictor.maxReplicas`        |
| `ksvc`             | Knative Service serving.knative.dev/v1    | `autoscaling.knative.dev/min-scale` annotation on `spec.template` (default 0) | `autoscaling.knative.dev/max-scale` |
| `scaledobject`     | KEDA ScaledObject keda.sh/v1alpha1         | `spec.minReplicaCount` (KEDA default 0)              | `spec.maxReplicaCount`              |
| `karpenter`        | Karpenter NodePool karpenter.sh/v1 (cluster-scoped) | `spec.limits["nvidia.com/gpu"]` = nodes × GPUs per node: a ceiling, no floor | — |

`mode="pin"` sets the ceiling to the count as well (the autoscaler then holds exactly that many).
A Karpenter limit stops new nodes; it does not remove running ones (Karpenter's own consolidation does).
GPUs per node of a NodePool: its annotation `costplane.io/gpus-per-node`, else a single-valued
requirement `karpenter.k8s.aws/instance-gpu-count`, else 1 (the count is then GPUs).

Owners of a Deployment (`owner_of`): a KEDA ScaledObject or an autoscaling/v2 HorizontalPodAutoscaler
whose `scaleTargetRef` names it, or Knative (the Deployment of a Revision: label
`serving.knative.dev/service`). Scaling such a Deployment directly would fight that autoscaler.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from costplane.core.errors import CostplaneError

KNATIVE_MIN = "autoscaling.knative.dev/min-scale"
KNATIVE_MAX = "autoscaling.knative.dev/max-scale"
GPUS_PER_NODE_ANNOTATION = "costplane.io/gpus-per-node"
GPU_LIMIT = "nvidia.com/gpu"


@dataclass(frozen=True)
class BoundKind:
    group: str
    version: str
    plural: str
    namespaced: bool
    min_path: tuple[str, ...]
    max_path: tuple[str, ...] | None
    default_min: int
    label: str


BOUND_KINDS: dict[str, BoundKind] = {
    "inferenceservice": BoundKind("serving.kserve.io", "v1beta1", "inferenceservices", True,
                                  ("spec", "predictor", "minReplicas"), ("spec", "predictor", "maxReplicas"), 1,
                                  "KServe InferenceService"),
    "ksvc": BoundKind("serving.knative.dev", "v1", "services", True,
                      ("spec", "template", "metadata", "annotations", KNATIVE_MIN),
                      ("spec", "template", "metadata", "annotations", KNATIVE_MAX), 0, "Knative Service"),
    "scaledobject": BoundKind("keda.sh", "v1alpha1", "scaledobjects", True, ("spec", "minReplicaCount"),
                              ("spec", "maxReplicaCount"), 0, "KEDA ScaledObject"),
    "karpenter": BoundKind("karpenter.sh", "v1", "nodepools", False, ("spec", "limits", GPU_LIMIT), None, 0,
                           "Karpenter NodePool"),
}
HPA = BoundKind("autoscaling", "v2", "horizontalpodautoscalers", True, ("spec", "minReplicas"),
                ("spec", "maxReplicas"), 1, "HorizontalPodAutoscaler")


def _get(obj: dict, path: tuple[str, ...]) -> Any:
    for p in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(p)
    return obj


def _nest(path: tuple[str, ...], value: Any) -> dict:
    out: Any = value
    for p in reversed(path):
        out = {p: out}
    return out


def _merge(a: dict, b: dict) -> dict:
    for k, v in b.items():
        a[k] = _merge(a.get(k, {}), v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
    return a


def _int(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(float(str(value)))
    except ValueError:
        return None


def gpus_per_node(nodepool: dict) -> int:
    ann = ((nodepool.get("metadata") or {}).get("annotations") or {}).get(GPUS_PER_NODE_ANNOTATION)
    if _int(ann):
        return int(_int(ann))  # type: ignore[arg-type]
    for req in _get(nodepool, ("spec", "template", "spec", "requirements")) or []:
        if req.get("key") == "karpenter.k8s.aws/instance-gpu-count" and req.get("operator") == "In" \
                and len(req.get("values") or []) == 1 and _int(req["values"][0]):
            return int(_int(req["values"][0]))  # type: ignore[arg-type]
    return 1


@dataclass(frozen=True)
class Owner:
    """An autoscaler that owns a Deployment's replica count, and the bound target costplane may drive instead."""

    kind: str      # HorizontalPodAutoscaler | ScaledObject | Knative Service
    namespace: str
    name: str
    bound_kind: str | None  # scaledobject | ksvc | hpa
    min_replicas: int | None = None
    max_replicas: int | None = None

    def describe(self) -> str:
        bounds = "" if self.min_replicas is None and self.max_replicas is None else \
            f" (min {self.min_replicas}, max {self.max_replicas})"
        return f"{self.kind} {self.namespace}/{self.name}{bounds}"


class BoundObjects:
    """Reads and patches bound targets and owners through CustomObjectsApi (raw JSON, merge patches)."""

    def __init__(self, custom, call, mode: str = "floor") -> None:
        if mode not in ("floor", "pin"):
            raise ValueError(f"bound mode {mode!r} is not floor or pin")
        self.custom, self.call, self.mode = custom, call, mode

    def _read(self, kind: BoundKind, namespace: str, name: str, what: str) -> dict:
        if kind.namespaced:
            resp = self.call(f"read {what}", self.custom.get_namespaced_custom_object, kind.group, kind.version,
                             namespace, kind.plural, name, _preload_content=False)
        else:
            resp = self.call(f"read {what}", self.custom.get_cluster_custom_object, kind.group, kind.version,
                             kind.plural, name, _preload_content=False)
        return json.loads(resp.data)

    def _patch(self, kind: BoundKind, namespace: str, name: str, body: dict, what: str) -> None:
        if kind.namespaced:
            self.call(f"patch {what}", self.custom.patch_namespaced_custom_object, kind.group, kind.version,
                      namespace, kind.plural, name, body)
        else:
            self.call(f"patch {what}", self.custom.patch_cluster_custom_object, kind.group, kind.version,
                      kind.plural, name, body)

    @staticmethod
    def _list_or_empty(what: str, plural: str, fn, *args) -> list[dict]:
        """Items of a list call; [] when the API answers 404 (the kind is not installed)."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            resp = fn(*args, _preload_content=False)
        except ApiException as exc:
            if exc.status == 404:
                return []
            raise CostplaneError(f"Kubernetes refused to list {what}: {exc.status} {exc.reason}",
                                 fix=f"let the service account list {plural}, which costplane reads to avoid "
                                     "fighting another autoscaler") from None
        except HTTPError as exc:
            raise CostplaneError(f"Kubernetes API unreachable while listing {what}: {exc.__class__.__name__}",
                                 fix="check the API server address and network") from None
        return json.loads(resp.data).get("items") or []

    def list(self, kind: BoundKind, namespace: str) -> list[dict]:
        """Objects of `kind` in the namespace; [] when the kind is not installed (404)."""
        return self._list_or_empty(f"{kind.label}s in {namespace}", f"{kind.plural}.{kind.group}",
                                   self.custom.list_namespaced_custom_object, kind.group, kind.version, namespace,
                                   kind.plural)

    def current(self, kind_name: str, namespace: str, name: str, key: str) -> int | None:
        kind = BOUND_KINDS[kind_name]
        obj = self._read(kind, namespace, name, key)
        value = _int(_get(obj, kind.min_path))
        if kind_name == "karpenter":
            return None if value is None else value // gpus_per_node(obj)
        return kind.default_min if value is None else value

    def set_floor(self, kind: BoundKind, namespace: str, name: str, replicas: int,
                  key: str) -> tuple[int | None, bool, str]:
        """Make `replicas` the object's floor (or its GPU limit); (before, changed, detail)."""
        obj = self._read(kind, namespace, name, key)
        raw_min = _int(_get(obj, kind.min_path))
        per_node = 1
        if kind.plural == "nodepools":
            per_node = gpus_per_node(obj)
            before = None if raw_min is None else raw_min // per_node
            want_min: Any = replicas * per_node
        else:
            before = kind.default_min if raw_min is None else raw_min
            want_min = replicas
        raw_max = _int(_get(obj, kind.max_path)) if kind.max_path else None
        want_max = raw_max
        if kind.max_path and ((raw_max is not None and raw_max < replicas) or self.mode == "pin"):
            want_max = replicas
        if raw_min == want_min and want_max == raw_max:
            return before, False, f"{key} already at {replicas}"
        as_text = kind.plural in ("services", "nodepools")  # annotations and resource quantities are strings
        body = _nest(kind.min_path, str(want_min) if as_text else int(want_min))
        if want_max != raw_max and kind.max_path:
            _merge(body, _nest(kind.max_path, str(want_max) if as_text else int(want_max)))
        self._patch(kind, namespace, name, body, key)
        what = f"{GPU_LIMIT} limit {want_min} ({replicas} nodes × {per_node} GPUs)" if kind.plural == "nodepools" \
            else f"floor {before} -> {replicas}" + ("" if want_max == raw_max else f", ceiling {raw_max} -> {want_max}")
        return before, True, f"set {kind.label} {key}: {what}"

    # ------------------------------------------------------------------ owners of a Deployment

    def _hpas(self, autoscaling, namespace: str) -> list[dict]:
        return self._list_or_empty(f"HorizontalPodAutoscalers in {namespace}", "horizontalpodautoscalers",
                                   autoscaling.list_namespaced_horizontal_pod_autoscaler, namespace)

    def owner_of(self, apps, autoscaling, namespace: str, name: str, key: str) -> Owner | None:
        for so in self.list(BOUND_KINDS["scaledobject"], namespace):
            ref = _get(so, ("spec", "scaleTargetRef")) or {}
            if ref.get("name") == name and ref.get("kind", "Deployment") == "Deployment":
                return Owner("KEDA ScaledObject", namespace, so["metadata"]["name"], "scaledobject",
                             _int(_get(so, ("spec", "minReplicaCount"))), _int(_get(so, ("spec", "maxReplicaCount"))))
        for hpa in self._hpas(autoscaling, namespace):
            ref = _get(hpa, ("spec", "scaleTargetRef")) or {}
            if ref.get("name") == name and ref.get("kind") == "Deployment":
                return Owner("HorizontalPodAutoscaler", namespace, hpa["metadata"]["name"], "hpa",
                             _int(_get(hpa, ("spec", "minReplicas"))), _int(_get(hpa, ("spec", "maxReplicas"))))
        resp = self.call(f"read {key}", apps.read_namespaced_deployment, name, namespace, _preload_content=False)
        meta = json.loads(resp.data).get("metadata") or {}
        ksvc = (meta.get("labels") or {}).get("serving.knative.dev/service")
        if ksvc or any(r.get("kind") == "Revision" for r in meta.get("ownerReferences") or []):
            return Owner("Knative Service", namespace, ksvc or name, "ksvc" if ksvc else None)
        return None

    def drive_owner(self, autoscaling, owner: Owner, replicas: int, key: str) -> tuple[int | None, bool, str]:
        """Set the owner's floor instead of the Deployment's replicas (conflict mode `bounds`)."""
        if owner.bound_kind == "hpa":
            if replicas < 1:
                return owner.min_replicas, False, (f"refused: {key} is scaled by {owner.describe()}, whose "
                                                   "minReplicas cannot go below 1; nothing changed")
            body: dict = {"spec": {"minReplicas": int(replicas)}}
            if owner.max_replicas is not None and (owner.max_replicas < replicas or self.mode == "pin"):
                body["spec"]["maxReplicas"] = int(replicas)
            if owner.min_replicas == replicas and "maxReplicas" not in body["spec"]:
                return owner.min_replicas, False, f"{key}: {owner.describe()} already has floor {replicas}"
            self.call(f"patch {owner.describe()}", autoscaling.patch_namespaced_horizontal_pod_autoscaler,
                      owner.name, owner.namespace, body)
            return owner.min_replicas, True, f"set {owner.describe()} floor to {replicas} (for {key})"
        if owner.bound_kind is None:
            return None, False, f"refused: {key} is scaled by {owner.describe()}, which names no service to drive"
        before, changed, detail = self.set_floor(BOUND_KINDS[owner.bound_kind], owner.namespace, owner.name,
                                                 replicas, f"{owner.bound_kind}/{owner.namespace}/{owner.name}")
        return before, changed, f"{detail} (owner of {key})"


def refusal(key: str, owner: Owner) -> str:
    return (f"refused: {key} is scaled by {owner.describe()}; scaling it directly would fight that autoscaler. "
            f"Target the {owner.kind} instead, or let costplane drive its bounds (autoscaler_conflict: bounds)")

