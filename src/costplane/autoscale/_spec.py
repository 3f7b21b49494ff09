"""The service spec of an autoscaled inference service (CONTRACTS `replay`), parsed and validated."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from costplane.core.files import Lines, read_structured_lines
from costplane.core.gpus import normalise_gpu_name
from costplane.core.schema import ServiceSpecFile, validate


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


DOCS = "docs/replay.md (service spec)"


def parse_service_spec(raw: Any, source: str = "service spec", lines: Lines | None = None) -> ServiceSpec:
    """Validate a loaded spec (core.schema.ServiceSpecFile: unknown keys, units and ranges) into a ServiceSpec."""
    model = validate(ServiceSpecFile, raw, source, lines, DOCS)
    return ServiceSpec(
        name=model.name,
        gpu=normalise_gpu_name(model.gpu),
        gpus_per_replica=model.gpus_per_replica,
        capacity_per_replica=float(model.capacity_per_replica),
        cold_start_s=float(model.cold_start_s),
        min_replicas=model.min_replicas,
        max_replicas=model.max_replicas,
        scale_to_zero=model.scale_to_zero,
        max_queue_s=float(model.max_queue_s),
        price_usd_per_hour=None if model.price_usd_per_hour is None else float(model.price_usd_per_hour),
    )


def read_service_spec(path: str | Path) -> ServiceSpec:
    raw, lines = read_structured_lines(path, "service spec", fix="pass --service with a YAML spec")
    return parse_service_spec(raw, str(path), lines)
