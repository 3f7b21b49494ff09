"""Value rules of every ingested row, applied in Python before any write, so SQLite and PostgreSQL agree.

One validator for every ingest path (FOCUS, usage CSV, Prometheus, the agent, the seed): each ingest
rejects a bad row with its reason, and `Store.add_*` refuses a batch that still holds one. Rules:
money finite with |x| <= 1e12 USD; quantities (GPU-hours, sample values such as request rates,
utilisation, memory) finite and >= 0; times finite; names within their column's length and free of
NUL bytes; tags and labels JSON objects that serialise without NaN/inf and hold no NUL bytes.
"""

from __future__ import annotations

import json
import math
import numbers
from typing import Any

from costplane.store.models import CostRecord, UsageSample

MAX_ABS_USD = 1e12
MAX_QUANTITY = 1e15
MAX_JSON_CHARS = 64 * 1024
_COST_MONEY = ("billed_cost_usd", "effective_cost_usd", "list_cost_usd")
_COST_NAMES = ("source", "line_key", "resource_id", "service", "cloud", "region", "workload", "team", "project")
_USAGE_NAMES = ("source", "metric", "series_key", "workload", "team", "project")


class RowProblem(ValueError):
    """A value the store does not accept: `column` and a reason (the ingest names its line)."""

    def __init__(self, column: str, value: Any, reason: str) -> None:
        super().__init__(f"{column}: {reason}")
        self.column, self.value, self.reason = column, value, reason


_LENGTHS: dict[tuple[str, str], int | None] = {}


def _length(model, column: str) -> int | None:
    key = (model.__tablename__, column)
    if key not in _LENGTHS:
        _LENGTHS[key] = getattr(model.__table__.c[column].type, "length", None)
    return _LENGTHS[key]


def _finite(column: str, value: Any, required: bool = True) -> float | None:
    if value is None:
        if required:
            raise RowProblem(column, value, "missing")
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise RowProblem(column, value, "not a number")
    x = float(value)
    if not math.isfinite(x):
        raise RowProblem(column, value, "not a finite number")
    return x


def check_name(model, column: str, value: Any, required: bool = False) -> None:
    if value is None:
        if required:
            raise RowProblem(column, value, "missing")
        return
    if not isinstance(value, str):
        raise RowProblem(column, value, "not text")
    if "\x00" in value:
        raise RowProblem(column, value, "contains a NUL byte")
    limit = _length(model, column)
    if limit is not None and len(value) > limit:
        raise RowProblem(column, value[:40] + "…", f"longer than {limit} characters")


def check_json(column: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise RowProblem(column, value, "not a JSON object")
    if not value:
        return
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise RowProblem(column, None, f"not JSON-safe ({exc})") from None
    if len(text) > MAX_JSON_CHARS:
        raise RowProblem(column, None, f"longer than {MAX_JSON_CHARS} characters as JSON")
    if "\\u0000" in text:  # json.dumps writes a NUL byte, in a key or a value, as \u0000
        raise RowProblem(column, None, "contains a NUL byte")


def check_cost_row(row: dict[str, Any]) -> None:
    """Raise RowProblem for the first value of a CostRecord row the store refuses."""
    for column in _COST_MONEY:
        x = _finite(column, row.get(column), required=column != "list_cost_usd")
        if x is not None and abs(x) > MAX_ABS_USD:
            raise RowProblem(column, row.get(column), f"|{x:g}| USD is beyond {MAX_ABS_USD:g}")
    gpu_hours = _finite("gpu_hours", row.get("gpu_hours", 0.0))
    if gpu_hours < 0 or gpu_hours > MAX_QUANTITY:
        raise RowProblem("gpu_hours", gpu_hours, "must be between 0 and 1e15")
    start = _finite("period_start_s", row.get("period_start_s"))
    end = _finite("period_end_s", row.get("period_end_s"))
    if end < start:
        raise RowProblem("period_end_s", end, "before period_start_s")
    for column in _COST_NAMES:
        check_name(CostRecord, column, row.get(column), required=column in ("source", "line_key"))
    check_json("tags", row.get("tags"))


def check_usage_row(row: dict[str, Any]) -> None:
    """Raise RowProblem for the first value of a UsageSample row the store refuses."""
    _finite("ts_s", row.get("ts_s"))
    value = _finite("value", row.get("value"))
    if value < 0 or value > MAX_QUANTITY:
        raise RowProblem("value", value, "must be between 0 and 1e15 (rates, utilisation, bytes are never negative)")
    for column in _USAGE_NAMES:
        check_name(UsageSample, column, row.get(column), required=column in ("source", "metric", "series_key"))
    check_json("labels", row.get("labels"))
