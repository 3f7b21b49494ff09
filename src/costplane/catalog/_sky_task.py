"""SkyPilot hand-off: a chosen offer as a SkyPilot task file (`sky launch task.yaml` runs it there).

The file follows SkyPilot's task schema (sky/utils/schemas.py, `get_task_schema`): `resources` carries
`infra: CLOUD/REGION`, `instance_type`, `accelerators: "NAME:COUNT"` (per node) and `use_spot`, and
`num_nodes` the node count. SkyPilot checks that the accelerator name matches the instance type, so
the name is SkyPilot's own: read from the SkyPilot catalog directory when one is in use (exact), else
costplane's canonical name translated by the spellings SkyPilot's v8 catalog uses per cloud.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import yaml

from costplane.core.errors import InputError

# Clouds SkyPilot 0.14 launches on (sky.skylet.constants.ALL_CLOUDS); its catalog also lists others.
SKY_CLOUDS = frozenset({"aws", "azure", "gcp", "ibm", "lambda", "scp", "oci", "kubernetes", "runpod", "vast",
                        "vsphere", "cudo", "fluidstack", "paperspace", "primeintellect", "do", "nebius", "ssh",
                        "slurm", "hyperbolic", "seeweb", "shadeform", "yotta", "mithril", "verda"})
# Canonical costplane name -> SkyPilot's name, where a cloud's catalog spells it differently (v8 snapshot).
_CLOUD_NAMES: dict[str, dict[str, str]] = {
    "azure": {"MI25": "Radeon MI25"},
    "cudo": {"H100": "H100-SXM", "A5000": "RTXA5000", "A6000": "RTXA6000"},
    "hyperstack": {"A4000": "RTX-A4000", "A6000": "RTX-A6000", "A100-80GB": "A100-80G-PCIe", "H100": "H100-80G-PCIe"},
    "shadeform": {"RTX6000-Ada": "RTX6000Ada", "RTXPRO6000": "RTXPro6000"},
    "vast": {"A2000": "RTXA2000", "A6000": "RTXA6000", "RTXPRO6000": "RTXPRO6000S"},
    "verda": {"RTX6000-Ada": "RTX-6000-Ada", "RTXPRO6000": "RTX-PRO-6000"},
}


def _from_catalog_dir(catalog_dir: Path, cloud: str, instance_type: str) -> str | None:
    """SkyPilot's AcceleratorName of this instance type in a v8 catalog directory, when listed."""
    path = catalog_dir / cloud / "vms.csv"
    if not path.is_file():
        return None
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row.get("InstanceType") == instance_type and row.get("AcceleratorName"):
                return row["AcceleratorName"].strip()
    return None


def sky_accelerator(cloud: str, instance_type: str, gpu: str, catalog_dir: Path | None = None) -> str:
    """SkyPilot's accelerator name for costplane's `gpu` on this cloud's instance type."""
    if catalog_dir is not None and catalog_dir.is_dir():
        found = _from_catalog_dir(catalog_dir, cloud, instance_type)
        if found:
            return found
    if cloud == "gcp" and gpu == "H100" and instance_type.startswith("a3-megagpu"):
        return "H100-MEGA"
    name = _CLOUD_NAMES.get(cloud, {}).get(gpu, gpu)
    if cloud == "hyperstack":
        if "SXM5" in instance_type and gpu == "H100":
            return "H100-80G-SXM5"
        if "NVLink" in instance_type and name.endswith("PCIe"):
            return name + "-NVLink"
    return name


def sky_name(text: str) -> str:
    """`text` as a valid SkyPilot task name (letters, digits and single `._-` separators, alphanumeric ends)."""
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", text) if p]
    return "-".join(parts) or "costplane-task"


def sky_task(*, name: str, cloud: str, region: str, instance_type: str, gpu: str, gpus_per_node: int, nodes: int,
             spot: bool, catalog_dir: Path | None = None, run: str | None = None) -> dict[str, Any]:
    """The task as a dict in SkyPilot's schema (one resources entry: the chosen offer)."""
    accel = sky_accelerator(cloud, instance_type, gpu, catalog_dir)
    task: dict[str, Any] = {
        "name": sky_name(name),
        "resources": {"infra": f"{cloud}/{region}", "instance_type": instance_type,
                      "accelerators": f"{accel}:{int(gpus_per_node)}", "use_spot": bool(spot)},
        "num_nodes": int(nodes),
    }
    if run:
        task["run"] = run
    return task


def sky_warning(task: dict[str, Any]) -> str | None:
    """Why `sky launch` may refuse this task (a cloud SkyPilot 0.14 cannot launch on), or None."""
    cloud = task["resources"]["infra"].split("/", 1)[0]
    if cloud in SKY_CLOUDS:
        return None
    return (f"SkyPilot 0.14 has no {cloud!r} cloud (its catalog lists {cloud} prices, but `sky launch` refuses "
            f"infra {cloud}/...); the task names the cheapest offer anyway — pass --cloud to rank only others")


def write_sky_task(path: Path, task: dict[str, Any], note: str) -> None:
    """Write the task as YAML with a comment naming where it came from (what it was priced at)."""
    header = "".join(f"# {line}\n" for line in note.splitlines())
    try:
        path.write_text(header + yaml.safe_dump(task, sort_keys=False, default_flow_style=False))
    except OSError as exc:
        raise InputError(f"cannot write the SkyPilot task file {path}: {exc.strerror or exc}",
                         fix="pass --sky-yaml a path in a folder that exists and is writable") from None
