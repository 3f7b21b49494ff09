"""Training job profiles: what a job needs (work, memory, measured throughput) read from YAML/JSON, and deadlines.

A profile is user input, so every check here ends in a one-line InputError that names the field and its value.
GPU names are resolved later, against the catalog (see `_plan`), because only the catalog knows which exist.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from costplane.core.errors import InputError
from costplane.core.files import Lines, read_structured_lines
from costplane.core.schema import TrainingProfileFile, validate
from costplane.core.times import parse_duration_s as _parse_duration_s


@dataclass(frozen=True, slots=True)
class ThroughputPoint:
    """One measurement: `gpus` GPUs of model `gpu` (in total, over all nodes) processed `units_per_s`."""

    gpu: str
    gpus: int
    units_per_s: float


@dataclass(frozen=True)
class JobProfile:
    """A training job: `work` units to process, per-GPU memory need, throughput points, checkpointing.

    `checkpoint_interval_s` None means the job never checkpoints: a spot interruption loses all progress.
    `interruption_rates` maps "cloud", "cloud/region" or "cloud/region/instance_type" to spot
    interruptions per node-hour, overriding the defaults in `_spot.DEFAULT_INTERRUPTIONS_PER_HOUR`.
    """

    name: str
    work: float
    memory_gib_per_gpu: float
    throughput: tuple[ThroughputPoint, ...]
    checkpoint_interval_s: float | None = None
    restore_s: float = 0.0
    interruption_rates: dict[str, float] = field(default_factory=dict)
    min_gpus_per_node: int = 1  # e.g. 8 keeps a job measured on NVLink nodes off 1-GPU machines
    max_nodes: int | None = None


def _positive(data: dict[str, Any], key: str, where: str, *, required: bool = True, allow_zero: bool = False) -> float | None:
    if key not in data or data[key] is None:
        if required:
            raise InputError(f"{where}: missing `{key}`", fix=f"add `{key}:` with a positive number")
        return None
    value = data[key]
    if isinstance(value, str):  # YAML 1.1 reads `2.0e9` (no sign in the exponent) as a string
        try:
            value = float(value.strip().replace("_", ""))
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{where}: `{key}` must be a number, got {value!r}", fix=f"write `{key}` as a plain number")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InputError(f"{where}: `{key}` must be {bound}, got {value!r}", fix=f"give `{key}` a value {bound}")
    return float(value)


DOCS = "docs/training.md (profile)"


def parse_profile(data: Any, source: str = "profile", lines: Lines | None = None) -> JobProfile:
    """Validate a loaded YAML/JSON mapping (core.schema.TrainingProfileFile) into a JobProfile.

    Unknown keys, wrong units and out-of-range numbers are one InputError naming the file, line and key.
    """
    model = validate(TrainingProfileFile, data, source, lines, DOCS)
    points = tuple(ThroughputPoint(p.gpu, p.gpus, float(p.units_per_s)) for p in model.throughput)
    rates = parse_rates(model.interruption_rates or {}, f"{source}: interruption_rates")
    interval = None if model.checkpoint_interval_s is None else float(model.checkpoint_interval_s)
    return JobProfile(model.name or Path(source).stem, float(model.work), float(model.memory_gib_per_gpu), points,
                      interval, float(model.restore_s or 0.0), rates, model.min_gpus_per_node or 1, model.max_nodes)


def parse_rates(raw: Any, where: str) -> dict[str, float]:
    """A mapping key -> spot interruptions per node-hour; keys "cloud", "cloud/region", "cloud/region/type"."""
    if not isinstance(raw, dict):
        raise InputError(f"{where}: must be a mapping such as {{aws: 0.05, gcp/us-central1: 0.1}}",
                         fix="write one `key: interruptions_per_hour` line per cloud, region or instance type")
    rates: dict[str, float] = {}
    for key, value in raw.items():
        rate = _positive({str(key): value}, str(key), where, allow_zero=True)
        assert rate is not None
        rates[str(key).strip().lower() if str(key).count("/") < 2 else _lower_prefix(str(key))] = rate
    return rates


def _lower_prefix(key: str) -> str:
    """Cloud and region are compared in lower case; instance types keep their case (AWS vs Azure spell them so)."""
    cloud, region, instance = key.strip().split("/", 2)
    return f"{cloud.lower()}/{region.lower()}/{instance}"


def read_profile(path: Path) -> JobProfile:
    data, lines = read_structured_lines(path, "profile")
    return parse_profile(data, str(path), lines)


def parse_duration_s(text: str) -> float:
    """A deadline: the project's one duration grammar (core.times), e.g. `48h`, `90m`, `2d`, `1d12h`, `PT36H`."""
    return _parse_duration_s(text, "deadline")
