"""The schema of every user file (fleet plan, service spec, services, training profile, discounts, mapping).

One pydantic model per file, shared by the CLI and the API: unknown keys are errors with "did you mean",
every number carries its unit in its name and a range, and `validate` turns the first failure into one
InputError naming the file, the line (when the reader gave lines) and the key. The parsers in placement,
autoscale, training, catalog, ingest and controller build their own values from the validated model.
"""

from __future__ import annotations

import difflib
import math
import types
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, ValidationError, model_validator

from costplane.core.errors import InputError

M = TypeVar("M", bound=BaseModel)

# ------------------------------------------------------------------ bounds (also used by CLI flags and the API)

MAX_HOURS = 1e5  # about 11 years of wall time
MAX_REPLICAS = 10_000
MAX_GPUS_PER_NODE = 1024
MAX_NODES = 100_000
MAX_GPUS = 10_000_000
MAX_COLD_START_S = 86_400.0
MAX_QUEUE_S = 3_600.0
MAX_PRICE_USD_PER_HOUR = 1e6
MAX_RATE = 1e15  # units per second


def _not_bool(value: Any) -> Any:
    """YAML `yes`/`true` must not pass for 1: a number field takes numbers (or numeric strings such as `2.0e9`)."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


def _name(value: Any) -> Any:
    """Names written as bare numbers (`name: 123`) are names."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) else value


def _names(value: Any) -> Any:
    """One name or a list of names."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return [_name(value)]
    return value


Number = Annotated[float, BeforeValidator(_not_bool)]
Whole = Annotated[int, BeforeValidator(_not_bool)]
Name = Annotated[str, BeforeValidator(_name), Field(min_length=1, max_length=253)]
Names = Annotated[list[Annotated[str, BeforeValidator(_name), Field(min_length=1, max_length=253)]],
                  BeforeValidator(_names)]


class Strict(BaseModel):
    """Unknown keys are errors; inf and nan are never numbers."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


# ------------------------------------------------------------------ fleet plan (CONTRACTS `plan`)

class FleetWorkload(Strict):
    name: Name
    gpu: Name | None = None
    gpus: Whole | None = Field(None, ge=1, le=MAX_GPUS_PER_NODE, description="GPUs per node (default 1)")
    gpus_per_node: Whole | None = Field(None, ge=1, le=MAX_GPUS_PER_NODE, description="same as `gpus`")
    nodes: Whole = Field(1, ge=1, le=MAX_NODES)
    hours: Number = Field(gt=0, le=MAX_HOURS)
    min_gpu_memory_gib: Number | None = Field(None, ge=0, le=1e5)
    min_vcpus: Number | None = Field(None, ge=0, le=1e5)
    min_memory_gib: Number | None = Field(None, ge=0, le=1e7)
    clouds: Names | None = None
    regions: Names | None = None
    spot: bool = False
    team: Name | None = None

    @model_validator(mode="after")
    def _one_gpu_count(self) -> FleetWorkload:
        if self.gpus is not None and self.gpus_per_node is not None and self.gpus != self.gpus_per_node:
            raise ValueError(f"gpus {self.gpus} and gpus_per_node {self.gpus_per_node} disagree; give one")
        return self


class FleetQuota(Strict):
    cloud: Name
    max_gpus: Number = Field(ge=0, le=MAX_GPUS)
    region: Name | None = None
    gpu: Name | None = None


class FleetFile(Strict):
    workloads: list[FleetWorkload] = Field(min_length=1, max_length=100_000)
    quotas: list[FleetQuota] | None = None
    default_cloud: Name | None = None
    max_spot_fraction: Number | None = Field(None, ge=0, le=1)


# ------------------------------------------------------------------ service spec (CONTRACTS `replay`) and services

class ServiceSpecFile(Strict):
    name: Name
    gpu: Name
    gpus_per_replica: Whole = Field(ge=1, le=MAX_GPUS_PER_NODE)
    capacity_per_replica: Number = Field(gt=0, le=MAX_RATE, description="demand units/s one ready replica serves")
    cold_start_s: Number = Field(ge=0, le=MAX_COLD_START_S)
    min_replicas: Whole = Field(ge=0, le=MAX_REPLICAS)
    max_replicas: Whole = Field(ge=1, le=MAX_REPLICAS)
    scale_to_zero: StrictBool
    max_queue_s: Number = Field(0.0, ge=0, le=MAX_QUEUE_S)
    price_usd_per_hour: Number | None = Field(None, ge=0, le=MAX_PRICE_USD_PER_HOUR)

    @model_validator(mode="after")
    def _bounds_ordered(self) -> ServiceSpecFile:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas {self.min_replicas} > max_replicas {self.max_replicas}; "
                             "make min_replicas <= max_replicas")
        return self


SERVICE_SPEC_KEYS = tuple(ServiceSpecFile.model_fields)


class ServiceTarget(Strict):
    kind: Literal["deployment", "nodepool", "inferenceservice", "ksvc", "scaledobject", "karpenter"] = "deployment"
    namespace: Name = "default"
    name: Name | None = None


class ControlledServiceEntry(ServiceSpecFile):
    """A service spec plus where the controller acts, with which policy, and how often its demand is sampled."""

    policy: Name | None = None  # None: costplane.autoscale.DEFAULT_POLICY (core does not import autoscale)
    team: Name | None = None
    target: ServiceTarget | Annotated[str, Field(min_length=1)] | None = None
    metrics_step_s: Number | None = Field(None, gt=0, le=86_400)


CONTROLLER_KEYS = ("policy", "team", "target", "metrics_step_s")  # the rest of an entry is its service spec


class ServicesFile(Strict):
    services: list[ControlledServiceEntry] = Field(min_length=1, max_length=10_000)


# ------------------------------------------------------------------ training profile (CONTRACTS `train-plan`)

class ThroughputPointFile(Strict):
    gpu: Name
    gpus: Whole = Field(ge=1, le=MAX_GPUS)
    units_per_s: Number = Field(gt=0, le=MAX_RATE)


class TrainingProfileFile(Strict):
    name: Name | None = None
    work: Number = Field(gt=0, le=1e20, description="units of work: tokens, samples or steps")
    memory_gib_per_gpu: Number = Field(gt=0, le=1e5)
    throughput: list[ThroughputPointFile] = Field(min_length=1, max_length=100_000)
    checkpoint_interval_s: Number | None = Field(None, gt=0, le=1e8)
    restore_s: Number | None = Field(None, ge=0, le=1e7)
    interruption_rates: dict[Annotated[str, BeforeValidator(_name)],
                             Annotated[Number, Field(ge=0, le=1e4)]] | None = None
    min_gpus_per_node: Whole | None = Field(None, ge=1, le=MAX_GPUS_PER_NODE)
    max_nodes: Whole | None = Field(None, ge=1, le=MAX_NODES)


# ------------------------------------------------------------------ discounts

class DiscountFile(Strict):
    cloud: Name
    percent: Number = Field(ge=0, lt=100)
    instance_family: Name | None = None


class DiscountsFile(Strict):
    discounts: list[DiscountFile] = Field(max_length=100_000)


# ------------------------------------------------------------------ label mapping (ingest)

class NamespaceOverride(Strict):
    team: Name | None = None
    project: Name | None = None


class ServingMetrics(Strict):
    requests: Names | None = None
    latency: Names | None = None
    queue: Names | None = None
    quantiles: list[Annotated[Number, Field(gt=0, lt=1)]] | None = Field(None, max_length=100)


class TagKeys(Strict):
    workload: Names | None = None
    team: Names | None = None
    project: Names | None = None


class NodeWhere(Strict):
    """Where one node runs (the mapping file's `nodes:` rows): costing prices its GPUs from the catalog."""

    instance_type: Name
    cloud: Name | None = None
    region: Name | None = None


class MappingFile(Strict):
    workload: Names | None = None
    team: Names | None = None
    project: Names | None = None
    strip_pod_suffix: StrictBool | None = None
    namespaces: dict[Annotated[str, BeforeValidator(_name)], NamespaceOverride] | None = None
    serving: ServingMetrics | None = None
    tags: TagKeys | None = None
    nodes: dict[Annotated[str, BeforeValidator(_name)], NodeWhere] | None = None


# ------------------------------------------------------------------ validation with one-line errors

def validate(model: type[M], data: Any, source: str, lines: Mapping[tuple, int] | None = None,
             docs: str = "the file format in docs/") -> M:
    """`data` as a `model`, or an InputError naming `source`, line and key of the first problem.

    `lines` is what `core.files.read_structured_lines` returns; `docs` says where the format is described.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a mapping with keys {', '.join(model.model_fields)} at the top level, "
                         f"got {_kind(data)}",
                         fix=f"write `key: value` lines as in {docs}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = min(errors, key=lambda e: _first_rank(e, data, lines))
        message, fix = _describe(model, first, data, docs)
        path = _data_path(first["loc"], data, keep_last=first["type"] in ("extra_forbidden", "missing"))
        line = _line(path, first["type"], lines or {})
        where = f"{source}, line {line}" if line else source
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise InputError(f"{where}: {message}{more}", fix=fix) from None


def _first_rank(error: dict, data: Any, lines: Mapping[tuple, int] | None) -> tuple[int, int]:
    """Report unknown keys first (typos explain other errors), then in file order."""
    path = _data_path(error["loc"], data, keep_last=True)
    line = _line(path, error["type"], lines or {}) or 10**9
    return (0 if error["type"] == "extra_forbidden" else 1, line)


def _data_path(loc: tuple, data: Any, *, keep_last: bool) -> tuple:
    """The part of pydantic's `loc` that indexes the data (drops union/validator tags)."""
    path: list = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and str(part) in {str(k) for k in node}:
            key = next(k for k in node if str(k) == str(part))
            path.append(key)
            node = node[key]
        elif keep_last and i == len(loc) - 1 and isinstance(part, (str, int)):
            path.append(part)
    return tuple(path)


def _line(path: tuple, kind: str, lines: Mapping[tuple, int]) -> int | None:
    """The key's own line; for a missing key, the line of the mapping it is missing from."""
    key_path = tuple(str(p) if not isinstance(p, int) else p for p in path)
    if kind == "missing":
        key_path = key_path[:-1]
    while key_path:
        if key_path in lines:
            return lines[key_path]
        key_path = key_path[:-1]
    return None


def _label(path: tuple, data: Any) -> str:
    """`workloads[0] (train-llama).hours`: the dotted key, with the item's name where it has one."""
    text = ""
    node = data
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("name"), (str, int)):
                text += f" ({node['name']})"
        else:
            text += f".{part}" if text else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return text


def _describe(model: type[BaseModel], error: dict, data: Any, docs: str) -> tuple[str, str]:
    kind = error["type"]
    loc = tuple(error["loc"])
    path = _data_path(loc, data, keep_last=kind in ("extra_forbidden", "missing"))
    key = _label(path, data)
    known = _fields_at(model, path[:-1] if kind in ("extra_forbidden", "missing") else path)
    if kind == "extra_forbidden":
        bad = str(path[-1]) if path else str(loc[-1])
        where = _label(path[:-1], data)
        close = difflib.get_close_matches(bad, known, n=1, cutoff=0.6) if known else []
        within = f" in {where}" if where else ""
        if close:
            return (f"unknown key `{bad}`{within} (did you mean `{close[0]}`?)",
                    f"rename `{bad}` to `{close[0]}`")
        return (f"unknown key `{bad}`{within}",
                f"use only {', '.join(known)}" if known else f"remove `{bad}` (see {docs})")
    if kind == "missing":
        return f"missing `{key}`", f"add `{path[-1] if path else loc[-1]}:` (see {docs})"
    message = str(error.get("msg", "is not valid"))
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    message = message[:1].lower() + message[1:]
    got = _got(error.get("input"))
    ctx = error.get("ctx") or {}
    if kind in _RANGE:
        op, bound = _RANGE[kind], next(iter(ctx.values()), "?")
        bound = f"{bound:g}" if isinstance(bound, (int, float)) else bound
        return f"`{key}` must be {op} {bound}, got {got}", f"give `{key}` a value that {_bounds_text(model, path)}"
    if kind == "value_error" and "; " in message:
        text, fix = message.split("; ", 1)
        return (f"{key}: {text}" if key else text), fix
    if kind in ("too_short", "too_long"):
        return f"`{key}` {message}", f"see {docs}"
    if kind == "literal_error":
        return f"`{key}` {message}, got {got}", f"use {ctx.get('expected', 'one of the allowed values')}"
    if kind == "bool_type":
        return f"`{key}` must be true or false, got {got}", f"write `{key}: true` or `{key}: false`"
    if kind.startswith(("int_", "float_", "finite_number")) or "number" in message:
        return f"`{key}` {message}, got {got}", f"write `{key}` as a finite number (see {docs})"
    return (f"`{key}` {message}, got {got}" if key else f"{message}, got {got}"), f"see {docs}"


_RANGE = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def _got(value: Any) -> str:
    text = repr(value)
    if isinstance(value, float) and not math.isfinite(value):
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _bounds_text(model: type[BaseModel], path: tuple) -> str:
    """`is > 0 and <= 10000` from the field's metadata."""
    field = _field_info(model, path)
    if field is None:
        return "is in range"
    parts = []
    for meta in field.metadata:
        for attr, op in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            bound = getattr(meta, attr, None)
            if bound is not None:
                parts.append(f"{op} {bound:g}")
    return "is " + " and ".join(parts) if parts else "is in range"


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation holds: `list[X]`, `X | None`, `Annotated[X, ...]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in get_args(annotation):
        out.extend(_models_in(arg))
    return out


class _DictValues:
    """Where the path is at a user-named key of a dict whose values are `model`."""

    def __init__(self, model: type[BaseModel] | None) -> None:
        self.model = model


def _walk(model: type[BaseModel], path: tuple) -> tuple[Any, Any]:
    """(FieldInfo of the last key in `path`, the model or _DictValues the path ends in); None where unknown."""
    current: Any = model
    field = None
    for part in path:
        if isinstance(current, _DictValues):
            current = current.model
            continue
        if isinstance(part, int):
            continue  # a list index: `current` is already the item's model
        if current is None:
            return None, None
        field = current.model_fields.get(str(part))
        if field is None:
            return None, None
        annotation = field.annotation
        args = [a for a in get_args(annotation) if a is not type(None)] if get_origin(annotation) in _UNIONS else []
        if len(args) == 1:
            annotation = args[0]
        if get_origin(annotation) is dict:
            current = _DictValues((_models_in(get_args(annotation)[1]) or [None])[0])
        else:
            current = (_models_in(annotation) or [None])[0]
    return field, current


_UNIONS = (Union, types.UnionType)


def _fields_at(model: type[BaseModel], path: tuple) -> list[str]:
    """The keys allowed at `path` inside `model` (for "did you mean")."""
    _, current = _walk(model, path)
    return list(current.model_fields) if isinstance(current, type) and issubclass(current, BaseModel) else []


def _field_info(model: type[BaseModel], path: tuple) -> Any:
    return _walk(model, path)[0]


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false"}.get(
        type(value), type(value).__name__)
