"""Kubernetes actuator through the official client: Deployment scale, and node pools as Cluster API
MachineDeployments (`cluster.x-k8s.io/v1beta1`, scale subresource).

Reads before it writes: a target already at the desired count is not patched, so re-running a cycle
after a crash does not repeat an actuation. API failures become a CostplaneError naming the object.
"""

from __future__ import annotations

from typing import Any

from costplane.actuate._base import ActuationResult, ReplicaStatus, ScaleCommand, Target
from costplane.core.errors import CostplaneError

CAPI_GROUP = "cluster.x-k8s.io"
CAPI_VERSION = "v1beta1"
CAPI_PLURAL = "machinedeployments"


class KubernetesActuator:
    name = "kubernetes"

    def __init__(self, api_client: Any | None = None) -> None:
        """`api_client`: a kubernetes.client.ApiClient; None loads in-cluster config, then ~/.kube/config."""
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
        self._apps = client.AppsV1Api(api_client)
        self._custom = client.CustomObjectsApi(api_client)
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
        if target.kind == "deployment":
            scale = self._call(f"read {target.key}", self._apps.read_namespaced_deployment_scale,
                               target.name, target.namespace)
            return int(scale.spec.replicas or 0)
        obj = self._call(f"read {target.key}", self._custom.get_namespaced_custom_object_scale,
                         CAPI_GROUP, CAPI_VERSION, target.namespace, CAPI_PLURAL, target.name)
        spec = obj.get("spec", {}) if isinstance(obj, dict) else {}
        return int(spec.get("replicas") or 0)

    def status(self, target: Target) -> ReplicaStatus | None:
        """`spec.replicas` and `status.readyReplicas` (Deployment, or CAPI MachineDeployment)."""
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
        before = self.current(target)
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
