"""A loopback Kubernetes API server holding objects in memory (not collected: no test_ prefix).

It speaks enough of the REST API for the official client to run unmodified: list (cluster-wide and
per namespace), get, create (POST, 409 if it exists), replace (PUT, 409 on a stale resourceVersion, as the
API server's optimistic concurrency does), merge/strategic/JSON patch on objects and on their `scale` subresource, for
core (`/api/v1`) and group (`/apis/GROUP/VERSION`) resources, namespaced or not. Objects are the
JSON `kubectl get -o json` prints (tests/data/kubernetes/cluster.json holds recorded shapes).
`patches` records every PATCH as (path, body) so tests can assert what was (not) written.
"""

from __future__ import annotations

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

DATA = Path(__file__).resolve().parent / "data" / "kubernetes"

PLURALS = {"Pod": "pods", "Node": "nodes", "Namespace": "namespaces", "ReplicaSet": "replicasets",
           "Deployment": "deployments", "StatefulSet": "statefulsets", "Job": "jobs", "DaemonSet": "daemonsets",
           "HorizontalPodAutoscaler": "horizontalpodautoscalers", "ScaledObject": "scaledobjects",
           "InferenceService": "inferenceservices", "Service": "services", "NodePool": "nodepools",
           "MachineDeployment": "machinedeployments", "Lease": "leases"}
CLUSTER_SCOPED = {"nodes", "namespaces", "nodepools"}


def _group_version(api_version: str) -> tuple[str, str]:
    return tuple(api_version.split("/", 1)) if "/" in api_version else ("", api_version)  # type: ignore[return-value]


def _merge(target: dict, patch: dict) -> dict:
    """RFC 7386 merge patch (strategic merge behaves the same on the maps these tests patch)."""
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        elif isinstance(v, dict) and isinstance(target.get(k), dict):
            _merge(target[k], v)
        else:
            target[k] = copy.deepcopy(v)
    return target


def _json_patch(target: dict, ops: list[dict]) -> dict:
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].lstrip("/").split("/")]
        node = target
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        if op["op"] in ("add", "replace"):
            node[parts[-1]] = op["value"]
        elif op["op"] == "remove":
            node.pop(parts[-1], None)
    return target


class LoopbackKubeAPI:
    def __init__(self, objects: list[dict]) -> None:
        self.objects: dict[tuple[str, str, str, str, str], dict] = {}
        for o in objects:
            self.add(o)
        self.patches: list[tuple[str, object]] = []
        self.forbidden: set[str] = set()  # plurals whose list answers 403
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _status(self, code: int, reason: str) -> None:
                self._send(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason,
                                  "code": code})

            def _parse(self):
                parts = urlsplit(self.path).path.strip("/").split("/")
                if parts[0] == "api":
                    group, version, rest = "", parts[1], parts[2:]
                elif parts[0] == "apis" and len(parts) >= 3:
                    group, version, rest = parts[1], parts[2], parts[3:]
                else:
                    return None
                ns = None
                if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) > 2:
                    ns, rest = rest[1], rest[2:]
                plural = rest[0] if rest else ""
                name = rest[1] if len(rest) > 1 else None
                sub = rest[2] if len(rest) > 2 else None
                return group, version, ns, plural, name, sub

            def do_GET(self):
                parsed = self._parse()
                if parsed is None:
                    return self._status(404, "NotFound")
                group, version, ns, plural, name, sub = parsed
                if name is None:
                    if plural in api.forbidden:
                        return self._status(403, "Forbidden")
                    items = [o for (g, v, p, n, _), o in sorted(api.objects.items())
                             if g == group and p == plural and (ns is None or n == ns)]
                    return self._send(200, {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": items})
                obj = api.objects.get((group, version, plural, ns or "", name))
                if obj is None:
                    return self._status(404, "NotFound")
                self._send(200, api.scale_of(obj) if sub == "scale" else obj)

            def _write(self, replace: bool):
                parsed = self._parse()
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if parsed is None:
                    return self._status(404, "NotFound")
                group, version, ns, plural, name, _ = parsed
                key = (group, version, plural, ns or "", name or body["metadata"]["name"])
                current = api.objects.get(key)
                if not replace and current is not None:
                    return self._status(409, "AlreadyExists")
                if replace and (current is None or body["metadata"].get("resourceVersion")
                                != current["metadata"].get("resourceVersion")):
                    return self._status(409 if current is not None else 404, "Conflict" if current else "NotFound")
                body.setdefault("metadata", {}).setdefault("namespace", ns)
                api.objects[key] = api.versioned(body)
                self._send(200 if replace else 201, api.objects[key])

            def do_POST(self):
                self._write(replace=False)

            def do_PUT(self):
                self._write(replace=True)

            def do_PATCH(self):
                parsed = self._parse()
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if parsed is None:
                    return self._status(404, "NotFound")
                group, version, ns, plural, name, sub = parsed
                obj = api.objects.get((group, version, plural, ns or "", name))
                if obj is None:
                    return self._status(404, "NotFound")
                api.patches.append((urlsplit(self.path).path, body))
                if sub == "scale":
                    obj.setdefault("spec", {})["replicas"] = int(body["spec"]["replicas"])
                    return self._send(200, api.scale_of(obj))
                _json_patch(obj, body) if isinstance(body, list) else _merge(obj, body)
                self._send(200, obj)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, obj: dict) -> None:
        group, version = _group_version(obj["apiVersion"])
        meta = obj["metadata"]
        plural = PLURALS[obj["kind"]]
        ns = "" if plural in CLUSTER_SCOPED else meta.get("namespace", "default")
        self.objects[(group, version, plural, ns, meta["name"])] = self.versioned(copy.deepcopy(obj))

    def versioned(self, obj: dict) -> dict:
        """The object with a fresh resourceVersion, as the API server stamps every write."""
        self._version = getattr(self, "_version", 0) + 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self._version)
        return obj

    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> dict:
        group, version = _group_version(api_version)
        plural = PLURALS[kind]
        return self.objects[(group, version, plural, "" if plural in CLUSTER_SCOPED else namespace, name)]

    @staticmethod
    def scale_of(obj: dict) -> dict:
        meta = obj["metadata"]
        n = int((obj.get("spec") or {}).get("replicas") or 0)
        return {"apiVersion": "autoscaling/v1", "kind": "Scale",
                "metadata": {"name": meta["name"], "namespace": meta.get("namespace")},
                "spec": {"replicas": n}, "status": {"replicas": n}}

    def kubeconfig(self, path: Path, context: str = "prod-gpu") -> Path:
        """A kubeconfig file whose context `context` points at this server (token auth over plain HTTP)."""
        import yaml

        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": context,
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": "costplane", "user": {"token": "loopback-token"}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": "costplane"}}],
        }))
        return path

    def api_client(self):
        from kubernetes import client

        cfg = client.Configuration()
        cfg.host = self.url
        return client.ApiClient(cfg)

    def __enter__(self) -> LoopbackKubeAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def recorded_cluster() -> list[dict]:
    """The recorded objects of a small GPU cluster (see tests/data/kubernetes/SOURCE.md)."""
    return json.loads((DATA / "cluster.json").read_text())["items"]
