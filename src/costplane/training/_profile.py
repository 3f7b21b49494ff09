"""Training job profiles: what a job needs (work, memory, measured throughput) read from YAML/JSON, and deadlines.

A profile is user input, so every check here ends in a one-line InputError that names the field and its value.
GPU names are resolved later, against the catalog (see `_plan`), because only the catalog knows which exist.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from costplane.core.errors import InputError
from costplane.core.files import read_structured


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


def _point(raw: Any, where: str) -> ThroughputPoint:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: a throughput point must be a mapping, got {raw!r}",
                         fix="write it as {gpu: H100, gpus: 8, units_per_s: 41000}")
    gpu = raw.get("gpu")
    if not isinstance(gpu, str) or not gpu.strip():
        raise InputError(f"{where}: `gpu` must be a GPU model name, got {gpu!r}", fix="write e.g. `gpu: H100`")
    gpus = raw.get("gpus")
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus <= 0:
        raise InputError(f"{where}: `gpus` must be a positive whole number, got {gpus!r}",
                         fix="give the total GPU count of the measurement, e.g. `gpus: 8`")
    units = _positive(raw, "units_per_s", where)
    assert units is not None
    return ThroughputPoint(gpu.strip(), gpus, units)


def parse_profile(data: Any, source: str = "profile") -> JobProfile:
    """Validate a loaded YAML/JSON mapping into a JobProfile (raises InputError naming the bad field)."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: a profile must be a mapping with name, work, memory_gib_per_gpu, throughput",
                         fix="see docs/training.md for the format")
    work = _positive(data, "work", source)
    memory = _positive(data, "memory_gib_per_gpu", source)
    raw_points = data.get("throughput")
    if not isinstance(raw_points, list) or not raw_points:
        raise InputError(f"{source}: `throughput` must be a non-empty list of measured points",
                         fix="add at least two points per GPU model: {gpu, gpus, units_per_s}")
    points = tuple(_point(p, f"{source}: throughput[{i}]") for i, p in enumerate(raw_points))
    interval = _positive(data, "checkpoint_interval_s", source, required=False)
    restore = _positive(data, "restore_s", source, required=False, allow_zero=True) or 0.0
    rates = parse_rates(data.get("interruption_rates") or {}, f"{source}: interruption_rates")
    name = str(data.get("name") or Path(source).stem)
    min_per_node = _whole(data, "min_gpus_per_node", source) or 1
    max_nodes = _whole(data, "max_nodes", source)
    assert work is not None and memory is not None
    return JobProfile(name, work, memory, points, interval, restore, rates, min_per_node, max_nodes)


def _whole(data: dict[str, Any], key: str, where: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InputError(f"{where}: `{key}` must be a positive whole number, got {value!r}", fix=f"set `{key}: 1` or more")
    return value


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
    return parse_profile(read_structured(path, "profile"), str(path))


_DURATION_UNITS_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([smhdw])", re.IGNORECASE)


def parse_duration_s(text: str) -> float:
    """`48h`, `90m`, `3600s`, `2d`, `1d12h` -> seconds; a bare number is seconds (the project's time unit)."""
    raw = str(text).strip()
    fix = "write a positive duration such as 48h, 90m, 3600s or 2d"
    try:
        seconds = float(raw)
    except ValueError:
        compact = raw.replace(" ", "")
        parts = _DURATION_PART.findall(compact)
        if not parts or "".join(n + u for n, u in parts).lower() != compact.lower():
            raise InputError(f"cannot read duration {raw!r}", fix=fix) from None
        seconds = sum(float(n) * _DURATION_UNITS_S[u.lower()] for n, u in parts)
    if not math.isfinite(seconds) or seconds <= 0:
        raise InputError(f"duration must be > 0, got {raw!r}", fix=fix)
    return seconds
