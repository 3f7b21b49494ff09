"""Masked export of the store for sharing: usage, cost and decisions as CSV with every name replaced by a
keyed hash (HMAC-SHA256) and every time shifted, like the public traces this project reads.

What is masked: team, project, workload, namespace and service names, series keys, resource ids,
hostnames and every other label or tag value (tag keys too, except a few schema keys), line keys and
cycle ids. The same name gives the same mask under one key, so joins across the three files still
work; without the key the names cannot be recovered (and with a fresh random key per export, two
exports cannot be linked). What is kept: numbers (costs, GPU-hours, sample values, replicas), metric
names, cloud and region, the policy name. Dropped: free text (decision reasons and results).

Times: `t - shift_s`; by default the shift is the earliest exported time, so the files start at 0.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from costplane.core.errors import InputError
from costplane.store.models import CostRecord, DecisionRow, UsageSample

SAFE_KEYS = frozenset({"team", "project", "workload", "namespace", "kind", "env", "environment", "_focus", "gpu",
                       "Hostname", "hostname", "instance", "pod", "container", "UUID", "gpu_uuid", "device",
                       "modelName", "ChargeCategory", "ChargeClass", "ConsumedUnit", "PricingUnit",
                       "ConsumedQuantity", "PricingQuantity", "ContractedCost", "ResourceType", "ResourceName",
                       "ChargeDescription", "SkuId", "SkuPriceId", "BillingAccountId", "SubAccountId",
                       "AvailabilityZone", "service"})  # keys kept as they are (their values are masked)
KEPT_VALUE_KEYS = frozenset({"ChargeCategory", "ChargeClass", "ConsumedUnit", "PricingUnit", "kind"})
CHUNK = 10_000


class Masker:
    """`mask(name)` = `m_` + 16 hex digits of HMAC-SHA256(key, name); numbers pass through."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def mask(self, value: Any) -> Any:
        if value is None or value == "":
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        return "m_" + hmac.new(self.key, str(value).encode(), hashlib.sha256).hexdigest()[:16]

    def mask_json(self, data: Any, key: str | None = None) -> Any:
        if isinstance(data, dict):
            return {(k if k in SAFE_KEYS else self.mask(k)): self.mask_json(v, k) for k, v in data.items()}
        if isinstance(data, (list, tuple)):
            return [self.mask_json(v, key) for v in data]
        if key in KEPT_VALUE_KEYS and isinstance(data, str):
            return data
        if isinstance(data, str):
            try:  # a number written as text (FOCUS quantities) is not a name
                float(data)
                return data
            except ValueError:
                return self.mask(data)
        return data

    def target(self, target: str) -> str:
        """`deployment/NAMESPACE/NAME` -> `deployment/m_…/m_…` (the kind is kept)."""
        kind, _, rest = target.partition("/")
        return "/".join([kind, *(self.mask(p) for p in rest.split("/"))]) if rest else self.mask(target)


def load_key(path: Path | None) -> bytes:
    """The key in `path` (created 0600 with 32 random bytes when missing); None: a fresh key, never saved."""
    if path is None:
        return secrets.token_bytes(32)
    path = Path(path)
    if path.is_file():
        key = path.read_bytes().strip()
        if len(key) < 16:
            raise InputError(f"key file {path} holds fewer than 16 bytes", fix="delete it to have a new key made")
        return key
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise InputError(f"cannot create key file {path}: {exc.strerror}", fix="pass a writable --key-file") from None
    key = secrets.token_hex(32).encode()
    with os.fdopen(fd, "wb") as fh:
        fh.write(key + b"\n")
    return key


def _earliest(store) -> float:
    with store.session() as s:
        found = [s.scalar(select(func.min(UsageSample.ts_s))), s.scalar(select(func.min(CostRecord.period_start_s))),
                 s.scalar(select(func.min(DecisionRow.created_at_s)))]
    found = [float(x) for x in found if x is not None]
    return min(found) if found else 0.0


def _number(data: Any, *keys: str) -> float | None:
    for k in keys:
        v = data.get(k) if isinstance(data, dict) else None
        if isinstance(v, list) and v:
            v = v[-1]
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
    return None


def export_masked(store, out_dir: Path, key: bytes, shift_s: float | None = None) -> dict[str, Any]:
    """Write usage.csv, cost.csv and decisions.csv under `out_dir`; returns rows per file and the shift used."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {out_dir}: {exc.strerror}", fix="pass a writable --out") from None
    m = Masker(key)
    shift = _earliest(store) if shift_s is None else float(shift_s)
    counts = {}

    def dump(name: str, header: list[str], query, row_of) -> None:
        n = 0
        with (out_dir / name).open("w", newline="") as fh, store.session() as s:
            writer = csv.writer(fh)
            writer.writerow(header)
            for obj in s.execute(query.execution_options(yield_per=CHUNK)).scalars():
                writer.writerow(row_of(obj))
                n += 1
        counts[name] = n

    dump("usage.csv", ["ts_s", "metric", "series", "workload", "team", "project", "value", "labels"],
         select(UsageSample).order_by(UsageSample.ts_s, UsageSample.id),
         lambda r: [r.ts_s - shift, r.metric, m.mask(r.series_key), m.mask(r.workload), m.mask(r.team),
                    m.mask(r.project), r.value, json.dumps(m.mask_json(r.labels or {}), sort_keys=True)])
    dump("cost.csv", ["period_start_s", "period_end_s", "source", "line", "cloud", "region", "service", "resource",
                      "workload", "team", "project", "billed_cost_usd", "effective_cost_usd", "list_cost_usd",
                      "gpu_hours", "tags"],
         select(CostRecord).order_by(CostRecord.period_start_s, CostRecord.id),
         lambda r: [r.period_start_s - shift, r.period_end_s - shift, r.source, m.mask(r.line_key), r.cloud, r.region,
                    m.mask(r.service), m.mask(r.resource_id), m.mask(r.workload), m.mask(r.team), m.mask(r.project),
                    r.billed_cost_usd, r.effective_cost_usd, r.list_cost_usd, r.gpu_hours,
                    json.dumps(m.mask_json(r.tags or {}), sort_keys=True)])
    dump("decisions.csv", ["created_at_s", "cycle", "kind", "target", "team", "policy", "desired_replicas",
                           "current_replicas", "demand_per_s", "forecast_per_s", "actuator", "actuated_at_s"],
         select(DecisionRow).order_by(DecisionRow.created_at_s, DecisionRow.id),
         lambda r: [r.created_at_s - shift, m.mask(r.cycle_id), r.kind, m.target(r.target), m.mask(r.team),
                    (r.desired or {}).get("policy") if isinstance((r.desired or {}).get("policy"), str) else None,
                    _number(r.desired, "replicas"), _number(r.observation, "current_replicas", "current"),
                    _number(r.observation, "demand_per_s", "demand"),
                    _number({**(r.observation or {}), **(r.desired or {})}, "forecast_per_s", "forecast"),
                    r.actuator, None if r.actuated_at_s is None else r.actuated_at_s - shift])
    return {"out": str(out_dir), "files": counts, "shift_s": shift}
