"""Workload properties on cost rows (pure): Kubernetes namespace, cluster, controller and labels by workload.

`with_properties(set, props)` gives every allocated or unpriced row of a workload found in `props`
the labels `namespace`, `cluster`, `controller`, `controllerKind` and `label:KEY` for each of its
Kubernetes labels (what `aggregate(set, "namespace,label:app")` groups by), and fills the row's
team and project when it has none; a property `workload` renames the row's workload (an alias such
as a pod-derived name, to its controller). Money is untouched: only labels change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from costplane.attribute._types import LABEL_PREFIX, CostKind, CostSet

PROPERTY_KEYS = ("namespace", "cluster", "controller", "controllerKind")


def property_labels(props: Mapping[str, Any]) -> dict[str, str]:
    """The flat labels one workload's properties add: namespace, cluster, ..., label:KEY."""
    out = {k: str(props[k]) for k in PROPERTY_KEYS if props.get(k)}
    for key, value in (props.get("labels") or {}).items():
        if value not in (None, ""):
            out[LABEL_PREFIX + str(key)] = str(value)
    return out


def with_properties(cost_set: CostSet, props: Mapping[str, Mapping[str, Any]]) -> CostSet:
    """A new set whose workload rows carry their workload's properties as labels (see module doc)."""
    if not props:
        return cost_set
    flat = {w: property_labels(p) for w, p in props.items()}
    rows = []
    for row in cost_set.rows:
        workload = row.label("workload")
        extra = flat.get(workload or "") if row.kind is not CostKind.IDLE else None
        if not extra and not (workload and workload in props):
            rows.append(row)
            continue
        labels = dict(row.labels)
        for key in ("team", "project"):
            if not labels.get(key) and props[workload].get(key):
                labels[key] = str(props[workload][key])
        if props[workload].get("workload"):  # an alias (a pod-derived name) of the controller's workload
            labels["workload"] = str(props[workload]["workload"])
        for key, value in (extra or {}).items():
            labels.setdefault(key, value)
        rows.append(replace(row, labels=tuple(labels.items())))
    return CostSet(cost_set.window, tuple(rows))
