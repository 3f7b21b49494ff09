"""Serve-plan profiles: an inference service's SLO, memory need and measured candidates, strictly validated.

The schema follows `core.schema` (the schema of every user file): pydantic models on `Strict`, so an
unknown key is an error with "did you mean", every number has its unit in its name and a range, and
`core.schema.validate` turns the first problem into one InputError naming the file, line and key.
GPU names are resolved later, against the catalog.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StrictBool, field_validator, model_validator

from costplane.core.files import Lines, read_structured_lines
from costplane.core.gpus import normalise_gpu_name
from costplane.core.schema import (
    MAX_COLD_START_S,
    MAX_GPUS_PER_NODE,
    MAX_QUEUE_S,
    MAX_RATE,
    MAX_REPLICAS,
    Name,
    Number,
    Strict,
    Whole,
    validate,
)

DOCS = "docs/serve-plan.md (profile)"


class Slo(Strict):
    """Demand served within `max_queue_s` of its arrival must be at least `served` of all demand."""

    max_queue_s: Number = Field(ge=0, le=MAX_QUEUE_S)
    served: Number = Field(0.999, gt=0, le=1, description="share of demand, 0..1 (0.999 = 99.9 %)")


class HostMinimum(Strict):
    """Host sizing a replica's machine must have per GPU; 0 = none (then a replica is priced like `replay`)."""

    min_vcpus_per_gpu: Number = Field(0.0, ge=0, le=1024)
    min_memory_gib_per_gpu: Number = Field(0.0, ge=0, le=16_384)


class Candidate(Strict):
    """One measured way to serve the model: `capacity_per_replica` demand units/s one ready replica serves."""

    gpu: Annotated[Name, BeforeValidator(lambda v: normalise_gpu_name(v) if isinstance(v, str) else v)]
    gpus_per_replica: Whole = Field(ge=1, le=MAX_GPUS_PER_NODE)
    capacity_per_replica: Number = Field(gt=0, le=MAX_RATE, description="demand units/s at the latency SLO")
    cold_start_s: Number = Field(ge=0, le=MAX_COLD_START_S)
    variant: Name | None = Field(None, description="a build of the model, e.g. int8; rows per variant")
    memory_gib: Number | None = Field(None, gt=0, le=1e6, description="this variant's need, overrides the profile's")

    @property
    def label(self) -> str:
        base = f"{self.gpus_per_replica} x {self.gpu}"
        return f"{base} ({self.variant})" if self.variant else base


class ServePlanProfile(Strict):
    """An inference service to place: SLO, replica bounds, the model's memory need and measured candidates."""

    name: Name
    slo: Slo
    memory_gib: Number = Field(gt=0, le=1e6, description="what one replica must hold, across its GPUs")
    min_replicas: Whole = Field(0, ge=0, le=MAX_REPLICAS)
    max_replicas: Whole = Field(ge=1, le=MAX_REPLICAS)
    scale_to_zero: StrictBool = False
    allow_spot: StrictBool = False
    interruption_rates: dict[Name, Annotated[Number, Field(ge=0, le=1e4)]] = Field(default_factory=dict)
    host: HostMinimum = HostMinimum()
    candidates: list[Candidate] = Field(min_length=1, max_length=1_000)

    @field_validator("interruption_rates")
    @classmethod
    def _rates(cls, value: dict[str, float]) -> dict[str, float]:
        from costplane.training import parse_rates  # train-plan's reader: one spelling of the keys

        return parse_rates(value, "interruption_rates")

    @model_validator(mode="after")
    def _consistent(self) -> ServePlanProfile:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas {self.min_replicas} > max_replicas {self.max_replicas}; "
                             "make min_replicas <= max_replicas")
        seen: dict[tuple[str, int, str | None], int] = {}
        for i, c in enumerate(self.candidates):
            key = (c.gpu, c.gpus_per_replica, c.variant)
            if key in seen:
                raise ValueError(f"candidates[{i}] repeats candidates[{seen[key]}] ({c.label}); give each "
                                 f"GPU x gpus_per_replica x variant one measured row (name variants apart)")
            seen[key] = i
        return self

    def memory_need(self, candidate: Candidate) -> float:
        return float(candidate.memory_gib if candidate.memory_gib is not None else self.memory_gib)


def parse_profile(data: Any, source: str = "profile", lines: Lines | None = None) -> ServePlanProfile:
    """Validate a loaded YAML/JSON mapping; the first problem is one InputError naming file, line and key."""
    return validate(ServePlanProfile, data, source, lines, DOCS)


def read_profile(path: str | Path) -> ServePlanProfile:
    data, lines = read_structured_lines(path, "serve-plan profile", fix=f"pass a profile, see {DOCS}")
    return parse_profile(data, str(path), lines)
