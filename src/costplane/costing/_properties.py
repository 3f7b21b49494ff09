"""The store's Kubernetes inventory for the cost path: node prices' inputs and workload properties.

`costplane ingest kubernetes` stores (as `workloads` rows, see ingest._kubernetes):
- each node as kind `k8s-node`, name `node:NAME`, spec {instance_type, region, zone, cloud, capacity_type}:
  the Pricer's `nodes` rows, so GPU series on that node are priced without a mapping file;
- each workload (Deployment, StatefulSet, Job, InferenceService, ...) with its team, project,
  Kubernetes labels and spec {namespace, cluster, controller, controllerKind, aliases}: the properties
  `attribute.with_properties` puts on its cost rows (grouping by namespace, cluster, label:KEY); a
  series named after one of its aliases (its pods' names without their suffix) is renamed to it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from costplane.ingest._kubernetes import NODE_KIND, NODE_PREFIX
from costplane.store import Store, WorkloadRow

SOURCE = "kubernetes"


def kubernetes_inventory(store: Store) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, Any]]]:
    """(node name -> {instance_type, region, cloud, ...}, workload -> properties) as ingested from Kubernetes."""
    nodes: dict[str, dict[str, str]] = {}
    props: dict[str, dict[str, Any]] = {}
    with store.session() as s:
        rows = s.execute(select(WorkloadRow.name, WorkloadRow.kind, WorkloadRow.team, WorkloadRow.project,
                                WorkloadRow.labels, WorkloadRow.spec)).all()
    for name, kind, team, project, labels, spec in rows:
        spec = spec or {}
        if kind == NODE_KIND:
            nodes[name.removeprefix(NODE_PREFIX)] = {k: str(v) for k, v in spec.items()
                                                     if k in ("instance_type", "region", "zone", "cloud",
                                                              "capacity_type") and v}
        elif spec.get("source") == SOURCE:
            props[name] = {"namespace": spec.get("namespace"), "cluster": spec.get("cluster"),
                           "controller": spec.get("controller"), "controllerKind": spec.get("controllerKind"),
                           "labels": dict(labels or {}), "team": team, "project": project}
            for alias in spec.get("aliases") or ():  # names its pods' series get (a KServe predictor's pods)
                props.setdefault(alias, {**props[name], "workload": name})
    return nodes, props
