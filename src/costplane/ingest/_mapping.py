"""Attribution from labels: which Prometheus/Kubernetes label (or bill tag) names the workload, team and project.

Pure: a `LabelMapping` turns a label dict into (workload, team, project). For each field the
candidate labels are tried in order and the first non-empty one wins; a Kubernetes pod name
loses its controller suffix so all replicas of a Deployment count as one workload:

    llama-chat-7d9f8c6b5d-x2kq9  (Deployment: ReplicaSet hash + pod id)  -> llama-chat
    trainer-3                    (StatefulSet ordinal)                   -> trainer
    eval-job-9xk2p               (Job / DaemonSet pod id)                -> eval-job

Kubernetes draws those random parts from the alphabet `bcdfghjklmnpqrstvwxz2456789` (no vowels,
apimachinery/pkg/util/rand), so `llama-serve` keeps its name: `serve` has vowels.
A namespace can also carry a fixed team/project (`namespaces:` in the mapping file).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from costplane.core.files import read_structured_lines
from costplane.core.schema import MappingFile, TagKeys, validate

_K8S_RAND = "[bcdfghjklmnpqrstvwxz2456789]"
_DEPLOYMENT_POD = re.compile(rf"^(?P<base>.+)-{_K8S_RAND}{{6,10}}-{_K8S_RAND}{{5}}$")
_STATEFULSET_POD = re.compile(r"^(?P<base>.+)-\d+$")
_JOB_POD = re.compile(rf"^(?P<base>.+)-{_K8S_RAND}{{5}}$")

DOCS = "docs/ingest.md (mapping file)"
POD_LABELS = frozenset({"pod", "pod_name", "exported_pod"})


def workload_from_pod(pod: str) -> str:
    for pattern in (_DEPLOYMENT_POD, _STATEFULSET_POD, _JOB_POD):
        m = pattern.match(pod)
        if m:
            return m.group("base")
    return pod


def normalise_tag_key(key: str) -> str:
    """`user:Team`, `costplane.io/team`, `label_team` -> `team`: bills and exporters prefix tag keys differently."""
    k = key.strip().lower()
    k = re.split(r"[:/]", k)[-1]
    return k.removeprefix("label_")


@dataclass(frozen=True)
class LabelMapping:
    """Candidate label names per attribution field, tried in order (first non-empty wins)."""

    workload: tuple[str, ...] = ("workload", "app", "app_kubernetes_io_name", "label_app", "pod", "exported_pod")
    team: tuple[str, ...] = ("team", "label_team", "namespace", "exported_namespace")
    project: tuple[str, ...] = ("project", "label_project")
    strip_pod_suffix: bool = True
    namespaces: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def attribute(self, labels: Mapping[str, str]) -> tuple[str | None, str | None, str | None]:
        """(workload, team, project) for a series' labels; None where no candidate label is present."""
        workload = self._first(labels, self.workload)
        team = self._first(labels, self.team)
        project = self._first(labels, self.project)
        override = self.namespaces.get(labels.get("namespace") or labels.get("exported_namespace") or "", {})
        team = override.get("team", team)
        project = override.get("project", project)
        return workload, team, project

    def _first(self, labels: Mapping[str, str], names: tuple[str, ...]) -> str | None:
        for name in names:
            value = labels.get(name)
            if value:
                if name in POD_LABELS and self.strip_pod_suffix:
                    return workload_from_pod(value)
                return value
        return None

    @classmethod
    def from_dict(cls, data: Mapping, origin: str = "mapping") -> LabelMapping:
        """From a mapping file's content, validated by core.schema.MappingFile (unknown keys are errors)."""
        model = validate(MappingFile, dict(data), origin, docs=DOCS)
        kwargs: dict = {key: tuple(getattr(model, key)) for key in ("workload", "team", "project")
                        if getattr(model, key) is not None}
        if model.strip_pod_suffix is not None:
            kwargs["strip_pod_suffix"] = model.strip_pod_suffix
        if model.namespaces is not None:
            kwargs["namespaces"] = {ns: {k: v for k, v in (("team", o.team), ("project", o.project)) if v is not None}
                                    for ns, o in model.namespaces.items()}
        return cls(**kwargs)


def node_mapping_from_dict(data: Mapping, origin: str = "mapping") -> dict[str, dict[str, str]]:
    """The mapping file's `nodes:` section: node name (DCGM `Hostname`, Kubernetes `node`) -> where it runs.

    `nodes: {gpu-node-1: {instance_type: p4d.24xlarge, cloud: aws, region: us-east-1}}`; the key `"*"`
    applies to every node not listed. costplane.costing prices each GPU series of the node from the catalog.
    """
    model = validate(MappingFile, data, origin, docs="docs/measure.md")
    return {name: {k: v for k, v in where.model_dump().items() if v} for name, where in (model.nodes or {}).items()}


@dataclass(frozen=True)
class TagMapping:
    """Bill tag keys (normalised by `normalise_tag_key`) that name the workload, team and project."""

    workload: tuple[str, ...] = ("workload", "app", "service", "job")
    team: tuple[str, ...] = ("team", "owner", "cost-center", "costcenter")
    project: tuple[str, ...] = ("project",)

    def attribute(self, tags: Mapping[str, object]) -> tuple[str | None, str | None, str | None]:
        normalised: dict[str, str] = {}
        for k, v in tags.items():
            if v is not None and str(v).strip():
                normalised.setdefault(normalise_tag_key(str(k)), str(v).strip())
        pick = lambda names: next((normalised[n] for n in names if n in normalised), None)  # noqa: E731
        return pick(self.workload), pick(self.team), pick(self.project)

    @classmethod
    def from_dict(cls, data: Mapping, origin: str = "mapping") -> TagMapping:
        """From the `tags:` section of a mapping file (core.schema.TagKeys)."""
        model = validate(TagKeys, dict(data), f"{origin}: tags", docs=DOCS)
        return cls(**{key: tuple(normalise_tag_key(v) for v in getattr(model, key))
                      for key in ("workload", "team", "project") if getattr(model, key) is not None})


def read_mapping_file(path: Path) -> dict:
    """The mapping file (YAML or JSON) as a dict; InputError naming the file when unreadable."""
    data, lines = read_structured_lines(path, "mapping file", fix="check the --mapping path")
    if data is None:
        return {}
    validate(MappingFile, data, str(path), lines, DOCS)  # unknown keys and bad values, with their line
    return data
