"""The service spec of an autoscaled inference service (CONTRACTS `replay`), parsed and validated."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from costplane.core.errors import InputError
from costplane.core.files import read_structured
from costplane.core.gpus import normalise_gpu_name

REQUIRED_KEYS = ("name", "gpu", "gpus_per_replica", "capacity_per_replica", "cold_start_s", "min_replicas",
                 "max_replicas", "scale_to_zero")


@dataclass(frozen=True)
class ServiceSpec:
    """One service: `capacity_per_replica` demand units/s served by one ready replica.

    A replica is paid from the second it starts; it serves only after `cold_start_s`. Demand may wait
    `max_queue_s` in a FIFO queue and still count as served.
    """

    name: str
    gpu: str
    gpus_per_replica: int
    capacity_per_replica: float
    cold_start_s: float
    min_replicas: int
    max_replicas: int
    scale_to_zero: bool
    max_queue_s: float = 0.0
    price_usd_per_hour: float | None = None

    @property
    def floor_replicas(self) -> int:
        """Replicas kept while the service is active: min_replicas, and at least 1 when it may not scale to zero."""
        return max(self.min_replicas, 0 if self.scale_to_zero else 1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(raw: dict[str, Any], key: str, source: str, *, integer: bool = False, minimum: float = 0.0) -> Any:
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{source}: {key} must be a number, got {value!r}", fix=f"write {key}: <number>")
    if integer and int(value) != value:
        raise InputError(f"{source}: {key} must be a whole number, got {value!r}", fix=f"round {key}")
    if value < minimum:
        raise InputError(f"{source}: {key} must be >= {minimum:g}, got {value!r}", fix=f"raise {key}")
    return int(value) if integer else float(value)


def parse_service_spec(raw: Any, source: str = "service spec") -> ServiceSpec:
    if not isinstance(raw, dict):
        raise InputError(f"{source}: expected a mapping of keys, got {type(raw).__name__}",
                         fix="write name:, gpu:, gpus_per_replica:, ... as YAML keys")
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise InputError(f"{source}: missing {', '.join(missing)}", fix=f"add {', '.join(missing)} to the spec")
    if not isinstance(raw["scale_to_zero"], bool):
        raise InputError(f"{source}: scale_to_zero must be true or false, got {raw['scale_to_zero']!r}",
                         fix="write scale_to_zero: true or false")
    price = raw.get("price_usd_per_hour")
    spec = ServiceSpec(
        name=str(raw["name"]),
        gpu=normalise_gpu_name(str(raw["gpu"])),
        gpus_per_replica=_number(raw, "gpus_per_replica", source, integer=True, minimum=1),
        capacity_per_replica=_number(raw, "capacity_per_replica", source),
        cold_start_s=_number(raw, "cold_start_s", source),
        min_replicas=_number(raw, "min_replicas", source, integer=True),
        max_replicas=_number(raw, "max_replicas", source, integer=True, minimum=1),
        scale_to_zero=raw["scale_to_zero"],
        max_queue_s=_number(raw, "max_queue_s", source) if "max_queue_s" in raw else 0.0,
        price_usd_per_hour=None if price is None else _number({"price_usd_per_hour": price},
                                                              "price_usd_per_hour", source),
    )
    if spec.capacity_per_replica <= 0:
        raise InputError(f"{source}: capacity_per_replica must be > 0", fix="give the demand units/s one replica serves")
    if spec.min_replicas > spec.max_replicas:
        raise InputError(f"{source}: min_replicas {spec.min_replicas} > max_replicas {spec.max_replicas}",
                         fix="make min_replicas <= max_replicas")
    return spec


def read_service_spec(path: str | Path) -> ServiceSpec:
    raw = read_structured(path, "service spec", fix="pass --service with a YAML spec")
    return parse_service_spec(raw, str(path))
