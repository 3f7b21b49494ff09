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

from costplane.core.errors import InputError
from costplane.core.files import read_structured

_K8S_RAND = "[bcdfghjklmnpqrstvwxz2456789]"
_DEPLOYMENT_POD = re.compile(rf"^(?P<base>.+)-{_K8S_RAND}{{6,10}}-{_K8S_RAND}{{5}}$")
_STATEFULSET_POD = re.compile(r"^(?P<base>.+)-\d+$")
_JOB_POD = re.compile(rf"^(?P<base>.+)-{_K8S_RAND}{{5}}$")

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
        known = {"workload", "team", "project", "strip_pod_suffix", "namespaces", "serving", "tags"}
        unknown = set(data) - known
        if unknown:
            raise InputError(f"{origin}: unknown key(s) {sorted(unknown)}",
                             fix=f"use only {sorted(known)} (see docs/ingest.md)")
        kwargs: dict = {}
        for key in ("workload", "team", "project"):
            if key in data:
                value = data[key]
                if isinstance(value, str):
                    value = [value]
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise InputError(f"{origin}: {key} must be a label name or a list of label names, got {value!r}",
                                     fix=f"write e.g. `{key}: [label_{key}, namespace]`")
                kwargs[key] = tuple(value)
        if "strip_pod_suffix" in data:
            kwargs["strip_pod_suffix"] = bool(data["strip_pod_suffix"])
        if "namespaces" in data:
            ns = data["namespaces"] or {}
            if not isinstance(ns, dict) or not all(isinstance(v, dict) for v in ns.values()):
                raise InputError(f"{origin}: namespaces must map a namespace to {{team: ..., project: ...}}",
                                 fix="write e.g. `namespaces: {ml-serving: {team: inference, project: chat}}`")
            kwargs["namespaces"] = {str(k): {kk: str(vv) for kk, vv in v.items() if kk in ("team", "project")}
                                    for k, v in ns.items()}
        return cls(**kwargs)


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
        kwargs = {}
        for key in ("workload", "team", "project"):
            if key in data:
                value = [data[key]] if isinstance(data[key], str) else data[key]
                if not isinstance(value, list):
                    raise InputError(f"{origin}: tags.{key} must be a list of tag keys, got {value!r}",
                                     fix=f"write e.g. `tags: {{{key}: [{key}]}}`")
                kwargs[key] = tuple(normalise_tag_key(str(v)) for v in value)
        return cls(**kwargs)


def read_mapping_file(path: Path) -> dict:
    """The mapping file (YAML or JSON) as a dict; InputError naming the file when unreadable."""
    data = read_structured(path, "mapping file", fix="check the --mapping path")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"mapping file {path} must hold a mapping at the top level",
                         fix="write keys like `team: [namespace]`")
    return data
