"""Kubernetes actuator through the official client: Deployment scale, node pools as Cluster API
MachineDeployments (`cluster.x-k8s.io/v1beta1`, scale subresource), and the bound targets of
actuate._autoscalers (KServe, Knative, KEDA, Karpenter). A Deployment another autoscaler owns (HPA,
KEDA, Knative) is refused, or that autoscaler's floor is driven instead (`autoscaler_conflict`).

Reads before it writes: a target already at the desired count is not patched, so re-running a cycle
after a crash does not repeat an actuation. API failures become a CostplaneError naming the object.
"""

from __future__ import annotations

from typing import Any

from costplane.actuate._autoscalers import BOUND_KINDS, BoundObjects, refusal
from costplane.actuate._base import ActuationResult, ReplicaStatus, ScaleCommand, Target
from costplane.core.errors import CostplaneError

CAPI_GROUP = "cluster.x-k8s.io"
CAPI_VERSION = "v1beta1"
CAPI_PLURAL = "machinedeployments"


class KubernetesActuator:
    name = "kubernetes"

    def __init__(self, api_client: Any | None = None, autoscaler_conflict: str = "refuse",
                 bound_mode: str = "floor") -> None:
        """`api_client`: a kubernetes.client.ApiClient; None loads in-cluster config, then ~/.kube/config.

        `autoscaler_conflict`: what to do when an HPA, KEDA ScaledObject or Knative owns a Deployment
        target: `refuse` (change nothing; the result says why) or `bounds` (set that autoscaler's floor).
        `bound_mode`: `floor` or `pin` for bound targets and owners (see actuate._autoscalers).
        """
        if autoscaler_conflict not in ("refuse", "bounds"):
            raise CostplaneError(f"autoscaler_conflict {autoscaler_conflict!r} is not refuse or bounds",
                                 fix="use refuse (default) or bounds")
        from kubernetes import client, config

        if api_client is None:
            try:
                config.load_incluster_config()
            except config.ConfigException:
                try:
                    config.load_kube_config()
                except (config.ConfigException, OSError) as exc:
                    raise CostplaneError(f"no Kubernetes configuration found ({exc})",
                                         fix="run inside a cluster or set KUBECONFIG; or use --actuator dry-run") from None
            api_client = client.ApiClient()
        self.api_client = api_client  # shared with the controller's Kubernetes Lease
        self._apps = client.AppsV1Api(api_client)
        self._custom = client.CustomObjectsApi(api_client)
        self._autoscaling = client.AutoscalingV2Api(api_client)
        self._bounds = BoundObjects(self._custom, self._call, bound_mode)
        self.autoscaler_conflict = autoscaler_conflict
        self._client = client

    def _call(self, what: str, fn, *args, **kwargs):
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return fn(*args, **kwargs)
        except ApiException as exc:
            raise CostplaneError(f"Kubernetes refused to {what}: {exc.status} {exc.reason}",
                                 fix="check the object exists and the service account may scale it") from None
        except HTTPError as exc:
            raise CostplaneError(f"Kubernetes API unreachable while trying to {what}: {exc.__class__.__name__}",
                                 fix="check the API server address and network") from None

    def current(self, target: Target) -> int | None:
        if target.kind in BOUND_KINDS:
            return self._bounds.current(target.kind, target.namespace, target.name, target.key)
        if target.kind == "deployment":
            scale = self._call(f"read {target.key}", self._apps.read_namespaced_deployment_scale,
                               target.name, target.namespace)
            return int(scale.spec.replicas or 0)
        obj = self._call(f"read {target.key}", self._custom.get_namespaced_custom_object_scale,
                         CAPI_GROUP, CAPI_VERSION, target.namespace, CAPI_PLURAL, target.name)
        spec = obj.get("spec", {}) if isinstance(obj, dict) else {}
        return int(spec.get("replicas") or 0)

    def status(self, target: Target) -> ReplicaStatus | None:
        """`spec.replicas` and `status.readyReplicas` (Deployment, or CAPI MachineDeployment); a bound
        target's floor, counted as ready (those objects report no ready count of their own)."""
        if target.kind in BOUND_KINDS:
            n = self.current(target)
            return None if n is None else ReplicaStatus(n, n)
        if target.kind == "deployment":
            dep = self._call(f"read {target.key}", self._apps.read_namespaced_deployment_status,
                             target.name, target.namespace)
            desired = int(dep.spec.replicas or 0)
            ready = int((dep.status.ready_replicas if dep.status else 0) or 0)
            return ReplicaStatus(desired, min(ready, desired))
        obj = self._call(f"read {target.key}", self._custom.get_namespaced_custom_object,
                         CAPI_GROUP, CAPI_VERSION, target.namespace, CAPI_PLURAL, target.name)
        spec = obj.get("spec", {}) if isinstance(obj, dict) else {}
        status = obj.get("status", {}) if isinstance(obj, dict) else {}
        desired = int(spec.get("replicas") or 0)
        return ReplicaStatus(desired, min(desired, int(status.get("readyReplicas") or 0)))

    def apply(self, command: ScaleCommand) -> ActuationResult:
        target = command.target
        if target.kind in BOUND_KINDS:
            before, changed, detail = self._bounds.set_floor(BOUND_KINDS[target.kind], target.namespace,
                                                             target.name, int(command.replicas), target.key)
            return ActuationResult(target, before, command.replicas, changed, detail)
        before = self.current(target)
        if target.kind == "deployment":  # never fight an autoscaler that owns the Deployment
            owner = self._bounds.owner_of(self._apps, self._autoscaling, target.namespace, target.name, target.key)
            if owner is not None and self.autoscaler_conflict == "refuse":
                return ActuationResult(target, before, before if before is not None else 0, False,
                                       refusal(target.key, owner))
            if owner is not None:
                floor_before, changed, detail = self._bounds.drive_owner(self._autoscaling, owner,
                                                                         int(command.replicas), target.key)
                after = command.replicas if changed else (floor_before if floor_before is not None else 0)
                return ActuationResult(target, floor_before, after, changed, detail)
        if before == command.replicas:
            return ActuationResult(target, before, before, False, f"{target.key} already at {before}")
        body = {"spec": {"replicas": int(command.replicas)}}
        if target.kind == "deployment":
            self._call(f"scale {target.key}", self._apps.patch_namespaced_deployment_scale,
                       target.name, target.namespace, body)
        else:
            self._call(f"scale {target.key}", self._custom.patch_namespaced_custom_object_scale,
                       CAPI_GROUP, CAPI_VERSION, target.namespace, CAPI_PLURAL, target.name, body)
        return ActuationResult(target, before, command.replicas, True,
                               f"scaled {target.key} from {before} to {command.replicas}")
