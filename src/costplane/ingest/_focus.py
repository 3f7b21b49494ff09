"""FinOps FOCUS cost-and-usage CSV (1.0 / 1.1 / 1.2 column names) -> CostRecord rows.

Contract:
- Required columns: BilledCost, ChargePeriodStart, ChargePeriodEnd (EffectiveCost falls back to
  BilledCost when the column is absent, with a warning). Provider: ProviderName (1.0/1.1) or
  ServiceProviderName (1.2). Column names match case-insensitively.
- A bad row is rejected with its file line and column; the good rows are kept. Money must be USD
  (BillingCurrency, when present); Tags must be a JSON object; ChargePeriodEnd must not precede
  ChargePeriodStart; a ChargePeriodStart more than `future_tolerance_s` ahead of now is clock skew.
- `line_key` = SHA-256 of the row's identifying fields (account, provider, service, charge
  category/class/description, resource, region, SKU, units, charge period, tags), not of its
  amounts: the same line exported twice is stored once. An exact repeat of a row in the file
  is a duplicate; a second row with the same identity but other amounts (a split line) gets
  `#2` in its key so it is kept, and re-ingesting the file reproduces the same keys.
- gpu_hours: ConsumedQuantity when ConsumedUnit is GPU-hours; instance-hours × GPUs per instance
  when an instance type from the catalog appears in x_InstanceType, x_UsageType, SkuId,
  ResourceName or ResourceType; else 0.
- FOCUS fields the store has no column for go under the reserved `_focus` key of `tags`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from costplane.core.errors import InputError
from costplane.core.times import iso, parse_timestamp
from costplane.ingest._csvfile import read_rows
from costplane.ingest._mapping import TagMapping
from costplane.ingest._report import IngestReport
from costplane.store._validate import RowProblem, check_cost_row

SOURCE = "focus"
CHUNK_ROWS = 5_000  # rows per write transaction: ~0.1 s of SQLite lock, memory bounded by this
FUTURE_TOLERANCE_S = 300.0  # 5 min of clock difference between exporter and us is normal; more is skew
REQUIRED = ("BilledCost", "ChargePeriodStart", "ChargePeriodEnd")
IDENTITY_COLUMNS = (
    "BillingAccountId", "SubAccountId", "ProviderName", "ServiceProviderName", "HostProviderName",
    "InvoiceIssuerName", "PublisherName", "ServiceName", "ChargeCategory", "ChargeClass", "ChargeDescription",
    "ChargeFrequency", "ResourceId", "ResourceName", "ResourceType", "RegionId", "RegionName",
    "AvailabilityZone", "SkuId", "SkuPriceId", "CommitmentDiscountId", "PricingUnit", "ConsumedUnit",
    "BillingPeriodStart", "BillingPeriodEnd",
)
EXTRA_COLUMNS = ("ChargeCategory", "ChargeClass", "ChargeDescription", "ResourceName", "ResourceType", "SkuId",
                 "SkuPriceId", "ConsumedQuantity", "ConsumedUnit", "PricingQuantity", "PricingUnit",
                 "BillingAccountId", "SubAccountId", "ContractedCost", "AvailabilityZone")
INSTANCE_TYPE_COLUMNS = ("x_InstanceType", "x_UsageType", "SkuId", "ResourceName", "ResourceType")
GPU_HOUR_UNITS = {"gpuhours", "gpuhour", "gpuhrs", "gpuhr", "gpuh"}
HOUR_UNITS = {"hours", "hour", "hrs", "hr", "h"}
_TOKEN_SPLIT = re.compile(r"[\s:,;|/()]+")
_PROVIDERS = (("amazon", "aws"), ("aws", "aws"), ("google", "gcp"), ("gcp", "gcp"), ("microsoft", "azure"),
              ("azure", "azure"), ("oracle", "oci"), ("oci", "oci"))


def cloud_from_provider(name: str | None) -> str | None:
    if not name:
        return None
    low = name.strip().lower()
    for needle, cloud in _PROVIDERS:
        if needle in low:
            return cloud
    return re.sub(r"\s+", "-", low)


def _unit_key(unit: str) -> str:
    return re.sub(r"[\s\-_]", "", unit.lower())


@functools.lru_cache(maxsize=None)
def _lower(column: str) -> str:
    return column.lower()


class _Row:
    """Field access by FOCUS column name (case-insensitive) for one CSV record; empty cells read as None."""

    __slots__ = ("_values",)

    def __init__(self, names_lower: Sequence[str], fields: list[str]) -> None:
        self._values = {n: (f.strip() or None) for n, f in zip(names_lower, fields)}

    def get(self, column: str) -> str | None:
        return self._values.get(_lower(column))

    def has(self, column: str) -> bool:
        return _lower(column) in self._values


class _Reject(Exception):
    def __init__(self, column: str | None, value: Any, reason: str) -> None:
        super().__init__(reason)
        self.column, self.value, self.reason = column, value, reason


def _money(row: _Row, column: str, required: bool) -> float | None:
    text = row.get(column)
    if text is None:
        if required:
            raise _Reject(column, None, f"{column} is empty; FOCUS requires it")
        return None
    try:
        value = float(text)
    except ValueError:
        raise _Reject(column, text, "not a number") from None
    if not math.isfinite(value):
        raise _Reject(column, text, "not a finite number")
    return value


def _time(row: _Row, column: str) -> float:
    text = row.get(column)
    if text is None:
        raise _Reject(column, None, f"{column} is empty; FOCUS requires it")
    try:
        return parse_timestamp(text)
    except ValueError:
        raise _Reject(column, text, "not an ISO 8601 date-time") from None


def _tags(row: _Row) -> dict[str, Any]:
    text = row.get("Tags")
    if text is None:
        return {}
    try:
        tags = json.loads(text)
    except ValueError:
        raise _Reject("Tags", text, "not valid JSON (FOCUS Tags is a JSON object string)") from None
    if not isinstance(tags, dict):
        raise _Reject("Tags", text, "not a JSON object")
    return tags


def _gpu_hours(row: _Row, gpus_per_instance: Mapping[str, int]) -> float:
    unit = row.get("ConsumedUnit")
    qty_text = row.get("ConsumedQuantity")
    if unit is None or qty_text is None:
        return 0.0
    try:
        qty = float(qty_text)
    except ValueError:
        raise _Reject("ConsumedQuantity", qty_text, "not a number") from None
    key = _unit_key(unit)
    if key in GPU_HOUR_UNITS:
        return qty
    if key in HOUR_UNITS and gpus_per_instance:
        for column in INSTANCE_TYPE_COLUMNS:
            text = row.get(column)
            for token in _TOKEN_SPLIT.split(text or ""):
                gpus = gpus_per_instance.get(token.lower())
                if gpus:
                    return qty * gpus
    return 0.0


# Store column -> the FOCUS column a rejection names.
_FOCUS_COLUMN = {"billed_cost_usd": "BilledCost", "effective_cost_usd": "EffectiveCost", "list_cost_usd": "ListCost",
                 "gpu_hours": "ConsumedQuantity", "period_start_s": "ChargePeriodStart", "period_end_s": "ChargePeriodEnd",
                 "resource_id": "ResourceId", "service": "ServiceName", "region": "RegionId", "cloud": "ProviderName",
                 "workload": "Tags", "team": "Tags", "project": "Tags", "tags": "Tags", "line_key": "ResourceId"}
_TIME_IDENTITY = ("BillingPeriodStart", "BillingPeriodEnd")


def _identity_value(row: _Row, column: str) -> str:
    """The identity text of a column; times as UTC epoch, so `Z`, `+00:00` and `+02:00` notations agree."""
    text = row.get(column) or ""
    if text and column in _TIME_IDENTITY:
        try:
            return repr(parse_timestamp(text))
        except ValueError:
            return text
    return text


def _identity(row: _Row, start_s: float, end_s: float, tags: Mapping[str, Any]) -> str:
    parts = [f"{c}={_identity_value(row, c)}" for c in IDENTITY_COLUMNS]
    parts += [f"start={start_s!r}", f"end={end_s!r}", "tags=" + json.dumps(tags, sort_keys=True, default=str)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _short(text: str) -> int:
    """A 96-bit digest as an int: what the in-file duplicate sets keep (~1/3 the memory of a hex string)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:12], "big")


def _content(record: Mapping[str, Any], identity: str) -> int:
    """A line's identity plus its amounts, in normalised form: a repeat in another time notation matches."""
    amounts = (record["billed_cost_usd"], record["effective_cost_usd"], record["list_cost_usd"], record["gpu_hours"])
    extra = json.dumps((record["tags"] or {}).get("_focus") or {}, sort_keys=True)
    return _short(f"{identity}|{amounts!r}|{extra}")


def iter_focus(path: Path, now_s: float, report: IngestReport, tag_mapping: TagMapping | None = None,
               gpus_per_instance: Mapping[str, int] | None = None,
               future_tolerance_s: float = FUTURE_TOLERANCE_S) -> Iterator[dict[str, Any]]:
    """CostRecord rows of the good lines, one at a time (the file is streamed); rejections go to `report`.

    Memory: the rows are not kept; per distinct line two 96-bit digests are (in-file duplicates and
    split lines), about 150 bytes a line.
    """
    tag_mapping = tag_mapping or TagMapping()
    gpus_per_instance = {k.lower(): v for k, v in (gpus_per_instance or {}).items()}
    header, records = read_rows(path)
    names_lower = [name.lower() for name in header]
    index = set(names_lower)
    missing = [c for c in REQUIRED if c.lower() not in index]
    if missing:
        raise InputError(f"{path} is not a FOCUS cost-and-usage file: column(s) {', '.join(missing)} missing "
                         f"(found {', '.join(header[:8])}{', ...' if len(header) > 8 else ''})",
                         fix="export the bill in FOCUS 1.0+ format (BilledCost, ChargePeriodStart, ChargePeriodEnd, ...)")
    if "effectivecost" not in index:
        report.warnings.append("no EffectiveCost column: effective cost taken equal to BilledCost")
    seen_rows: set[int] = set()
    occurrences: dict[int, int] = {}
    for line, fields in records:
        report.read += 1
        if len(fields) != len(header):
            report.reject(line, None, None, f"row has {len(fields)} fields, the header has {len(header)}")
            continue
        row = _Row(names_lower, fields)
        try:
            record = _record(row, now_s, tag_mapping, gpus_per_instance, future_tolerance_s)
        except _Reject as r:
            report.reject(line, r.column, r.value, r.reason)
            continue
        identity = record.pop("_identity")
        whole = _content(record, identity)
        if whole in seen_rows:
            report.duplicates += 1
            continue
        seen_rows.add(whole)
        short = _short(identity)
        n = occurrences.get(short, 0) + 1
        occurrences[short] = n
        record["line_key"] = identity if n == 1 else hashlib.sha256(f"{identity}#{n}".encode()).hexdigest()
        yield record


def parse_focus(path: Path, now_s: float, tag_mapping: TagMapping | None = None,
                gpus_per_instance: Mapping[str, int] | None = None,
                future_tolerance_s: float = FUTURE_TOLERANCE_S) -> tuple[list[dict[str, Any]], IngestReport]:
    """CostRecord rows of the good lines, and a report naming every rejected line and column."""
    report = IngestReport(source=f"{SOURCE} {path}", kind="cost_records")
    rows = list(iter_focus(path, now_s, report, tag_mapping, gpus_per_instance, future_tolerance_s))
    return rows, report


def _record(row: _Row, now_s: float, tag_mapping: TagMapping, gpus_per_instance: Mapping[str, int],
            future_tolerance_s: float) -> dict[str, Any]:
    currency = row.get("BillingCurrency")
    if currency is not None and currency.upper() != "USD":
        raise _Reject("BillingCurrency", currency, "costplane stores USD only")
    start_s = _time(row, "ChargePeriodStart")
    end_s = _time(row, "ChargePeriodEnd")
    if end_s < start_s:
        raise _Reject("ChargePeriodEnd", row.get("ChargePeriodEnd"),
                      f"before ChargePeriodStart {row.get('ChargePeriodStart')}")
    if start_s > now_s + future_tolerance_s:
        raise _Reject("ChargePeriodStart", row.get("ChargePeriodStart"),
                      f"{start_s - now_s:.0f} s in the future (now {iso(round(now_s))}): clock skew or a wrong date")
    billed = _money(row, "BilledCost", required=True)
    effective = _money(row, "EffectiveCost", required=True) if row.has("EffectiveCost") else billed
    listed = _money(row, "ListCost", required=False)
    tags = _tags(row)
    gpu_hours = _gpu_hours(row, gpus_per_instance)
    workload, team, project = tag_mapping.attribute(tags)
    provider = row.get("ProviderName") or row.get("ServiceProviderName") or row.get("InvoiceIssuerName")
    extra = {c: row.get(c) for c in EXTRA_COLUMNS if row.get(c) is not None}
    record = {
        "source": SOURCE, "_identity": _identity(row, start_s, end_s, tags),
        "period_start_s": start_s, "period_end_s": end_s,
        "resource_id": row.get("ResourceId"), "service": row.get("ServiceName"),
        "cloud": cloud_from_provider(provider), "region": row.get("RegionId") or row.get("RegionName"),
        "billed_cost_usd": billed, "effective_cost_usd": effective, "list_cost_usd": listed,
        "gpu_hours": gpu_hours, "workload": workload, "team": team, "project": project,
        "tags": {**tags, "_focus": extra} if extra else dict(tags),
    }
    try:  # the store's own rules (|cost| <= 1e12, names, JSON-safe tags), so no backend ever sees a bad row
        check_cost_row({**record, "line_key": record["_identity"]})
    except RowProblem as p:
        raise _Reject(_FOCUS_COLUMN.get(p.column, p.column), p.value, p.reason) from None
    return record


def ingest_focus(path: Path, store, now_s: float, tag_mapping: TagMapping | None = None,
                 gpus_per_instance: Mapping[str, int] | None = None, strict: bool = False,
                 future_tolerance_s: float = FUTURE_TOLERANCE_S, chunk_rows: int = CHUNK_ROWS) -> IngestReport:
    """Stream the file and write the good rows in transactions of `chunk_rows` (none when `strict` and a row
    was rejected: then the file is read twice, once to check, once to write).

    Short transactions keep the SQLite write lock free for the API and the controller between chunks;
    the idempotent line keys make an interrupted ingest, run again, exactly complete.
    """
    def stream(report: IngestReport) -> Iterator[dict[str, Any]]:
        return iter_focus(path, now_s, report, tag_mapping, gpus_per_instance, future_tolerance_s)

    if strict:
        check = IngestReport(source=f"{SOURCE} {path}", kind="cost_records")
        billed = gpu_hours = 0.0
        for r in stream(check):
            billed += r["billed_cost_usd"]
            gpu_hours += r["gpu_hours"]
        if check.rejected:
            check.details.update({"written": False, "billed_cost_usd": round(billed, 6),
                                  "gpu_hours": round(gpu_hours, 6)})
            return check
    report = IngestReport(source=f"{SOURCE} {path}", kind="cost_records")
    billed = gpu_hours = 0.0
    good = added = 0
    chunk: list[dict[str, Any]] = []
    for record in stream(report):
        good += 1
        billed += record["billed_cost_usd"]
        gpu_hours += record["gpu_hours"]
        chunk.append(record)
        if len(chunk) >= chunk_rows:
            added += store.add_cost_records(chunk)
            chunk = []
    if chunk:
        added += store.add_cost_records(chunk)
    report.ingested = added
    report.duplicates += good - added
    report.details.update({"written": good > 0, "chunks": -(-good // chunk_rows),
                           "billed_cost_usd": round(billed, 6), "gpu_hours": round(gpu_hours, 6)})
    return report
