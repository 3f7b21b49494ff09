"""Placement request and result values: what a workload needs, and one priced way to run it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from costplane.core.errors import InputError

# Host minimums: a GPU machine a person would actually run on. Catalogs list GPU slices on 2-vCPU/4-GiB
# hosts (e.g. cudo's `*_1x2v4gb`) that are cheapest on paper but cannot feed a datacenter GPU or hold a
# serving container. SkyPilot's cloud catalogs default to 8 vCPUs at 4 GiB per vCPU (`_DEFAULT_NUM_VCPUS = 8`,
# `_DEFAULT_MEMORY_CPU_RATIO = 4` in sky/catalog/{aws,azure,gcp}_catalog.py; GCP's GPU hosts use
# `_DEFAULT_GPU_MEMORY_CPU_RATIO = 4`). Per GPU: 4 vCPUs and 16 GiB for datacenter training/serving parts,
# 2 vCPUs and 8 GiB for the smaller inference parts (T4, L4, A10G, ...), never below 4 vCPUs / 16 GiB a node.
DATACENTER_GPUS = frozenset({"A100", "A100-80GB", "H100", "H100-MEGA", "H200", "B200", "B100", "GH200", "GB200",
                             "MI300X", "MI325X"})
HOST_PER_GPU = {"datacenter": (4.0, 16.0), "other": (2.0, 8.0)}  # (vCPUs, memory GiB) per GPU
HOST_NODE_FLOOR = (4.0, 16.0)


def host_minimums(gpu: str, gpus_per_node: int) -> tuple[float, float]:
    """(vCPUs, memory GiB) a node with `gpus_per_node` GPUs of model `gpu` should have at least."""
    vcpu, mem = HOST_PER_GPU["datacenter" if gpu in DATACENTER_GPUS else "other"]
    return max(vcpu * gpus_per_node, HOST_NODE_FLOOR[0]), max(mem * gpus_per_node, HOST_NODE_FLOOR[1])


@dataclass(frozen=True, slots=True)
class PlacementRequest:
    """What one workload needs. `gpu` or `min_gpu_memory_gib` (or both) select the GPU model(s).

    `gpus_per_node` × `nodes` GPUs in all; vCPU and memory minimums are per node. With `host_minimums`
    (the default) each offer must also have the host its GPUs need (`host_minimums()`); the workload's own
    `min_vcpus` / `min_memory_gib` apply on top when larger.
    """

    gpu: str | None = None
    gpus_per_node: int = 1
    nodes: int = 1
    hours: float = 1.0
    min_gpu_memory_gib: float = 0.0
    min_vcpus: float = 0.0
    min_memory_gib: float = 0.0
    clouds: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    spot: bool = False
    host_minimums: bool = True

    def __post_init__(self) -> None:
        if self.gpu is None and self.min_gpu_memory_gib <= 0:
            raise InputError("a placement request needs a GPU model or a minimum GPU memory",
                             fix="pass --gpu MODEL or --min-gpu-memory GIB")
        for name in ("gpus_per_node", "nodes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise InputError(f"{name.replace('_', ' ')} must be a positive whole number, got {value!r}",
                                 fix="ask for 1 or more")
        if not self.hours > 0:
            raise InputError(f"hours must be > 0, got {self.hours!r}", fix="pass --hours with a positive number")
        for name in ("min_gpu_memory_gib", "min_vcpus", "min_memory_gib"):
            if getattr(self, name) < 0:
                raise InputError(f"{name} must be >= 0, got {getattr(self, name)!r}", fix="drop the minus sign")

    @property
    def total_gpus(self) -> int:
        return self.gpus_per_node * self.nodes

    def to_dict(self) -> dict[str, Any]:
        return {
            "gpu": self.gpu,
            "gpus_per_node": self.gpus_per_node,
            "nodes": self.nodes,
            "hours": self.hours,
            "min_gpu_memory_gib": self.min_gpu_memory_gib,
            "min_vcpus": self.min_vcpus,
            "min_memory_gib": self.min_memory_gib,
            "clouds": list(self.clouds),
            "regions": list(self.regions),
            "spot": self.spot,
            "host_minimums": self.host_minimums,
        }


@dataclass(frozen=True, slots=True)
class Placement:
    """One priced way to run a request: `nodes` machines of one offer, on-demand or spot."""

    cloud: str
    region: str
    zone: str | None
    instance_type: str
    gpu: str
    gpus_per_node: int
    nodes: int
    spot: bool
    hourly_usd: float
    total_usd: float
    offer_index: int = field(default=-1, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cloud": self.cloud,
            "region": self.region,
            "zone": self.zone,
            "instance_type": self.instance_type,
            "gpu": self.gpu,
            "gpus_per_node": self.gpus_per_node,
            "nodes": self.nodes,
            "spot": self.spot,
            "hourly_usd": round(self.hourly_usd, 6),
            "total_usd": round(self.total_usd, 6),
        }
