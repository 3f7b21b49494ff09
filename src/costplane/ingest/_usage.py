"""Plain usage CSV -> UsageSample rows, in three layouts recognised by their header:

- long:    `timestamp,workload,metric,value[,team,project]`  (one metric per row)
- wide:    `timestamp,workload,gpu_util_pct[,gpu_memory_used_bytes,...][,team,project]`
           (every other column is a metric named by its header; CONTRACTS.md `waste` layout)
- Alibaba: `timestamp_anon,value,container_ip` in any column order (the GenAI usage trace);
           the metric comes from `metric=` or the file name (`*memory*` -> gpu_memory_used_bytes,
           `*duty_cycle*` / `*util*` -> gpu_util_pct); the container is the workload.

Timestamps are epoch seconds or ISO 8601. Explicit rules:
- clock skew: a timestamp more than `future_tolerance_s` ahead of `now_s` is rejected (named by line);
- duplicates: one sample per (metric, workload, timestamp); a repeat in the file is skipped (a repeat
  with another value is also counted under `conflicting_duplicates`, first value kept), and one
  already in the store is skipped by the store's natural key;
- ranges: percentages must lie in [0, 100]; bytes, watts and rates must be >= 0; values must be finite.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from costplane.core.errors import InputError
from costplane.core.times import iso, parse_timestamp
from costplane.ingest._csvfile import read_rows
from costplane.ingest._metrics import GPU_MEMORY_USED_BYTES, GPU_UTIL_PCT
from costplane.ingest._report import IngestReport
from costplane.store._validate import RowProblem, check_usage_row

SOURCE = "usage_csv"
FUTURE_TOLERANCE_S = 300.0  # 5 min of clock difference between exporter and us is normal; more is skew
TIMESTAMP_COLUMNS = ("timestamp", "timestamp_anon", "ts", "ts_s", "time", "ds")
WORKLOAD_COLUMNS = ("workload", "container_ip", "pod", "container", "unique_id")
ATTRIBUTE_COLUMNS = ("team", "project")
MAX_METRIC_NAME = 128


def _find(header_lower: Sequence[str], names: Sequence[str]) -> int | None:
    for name in names:
        if name in header_lower:
            return header_lower.index(name)
    return None


def metric_from_filename(path: Path) -> str | None:
    name = Path(path).name.lower()
    if "memory" in name or "mem_" in name:
        return GPU_MEMORY_USED_BYTES
    if "duty_cycle" in name or "util" in name:
        return GPU_UTIL_PCT
    return None


def check_value(metric: str, value: float) -> str | None:
    """Why a value is impossible for its metric (unit from the name's suffix), or None when plausible."""
    if not math.isfinite(value):
        return "not a finite number"
    if metric.endswith("_pct") and not 0.0 <= value <= 100.0:
        return "a percentage outside [0, 100]"
    if metric.endswith(("_bytes", "_w", "_per_s", "_s")) and value < 0:
        return "negative, but this metric cannot be"
    return None


class _Layout:
    def __init__(self, path: Path, header: list[str], metric: str | None) -> None:
        lower = [h.lower() for h in header]
        self.n_fields = len(header)
        self.ts = _find(lower, TIMESTAMP_COLUMNS)
        self.workload = _find(lower, WORKLOAD_COLUMNS)
        self.team = _find(lower, ("team",))
        self.project = _find(lower, ("project",))
        if self.ts is None or self.workload is None:
            missing = [what for what, i in (("timestamp", self.ts), ("workload", self.workload)) if i is None]
            raise InputError(f"{path}: no {' and no '.join(missing)} column (header: {','.join(header)})",
                             fix="use timestamp,workload,metric,value or timestamp,workload,gpu_util_pct "
                                 "or the Alibaba timestamp_anon,value,container_ip layout")
        self.metric_col = _find(lower, ("metric",))
        self.value_col = _find(lower, ("value",))
        used = {self.ts, self.workload, self.team, self.project}
        if self.metric_col is not None and self.value_col is not None:
            self.name, self.wide = "long", []
        elif self.value_col is not None:
            self.name, self.wide = "alibaba", []
            self.fixed_metric = metric or metric_from_filename(path)
            if self.fixed_metric is None:
                raise InputError(f"{path}: a `value` column without a `metric` column, and the file name does not "
                                 "say what it measures", fix="pass --metric gpu_util_pct (or gpu_memory_used_bytes)")
        else:
            self.name = "wide"
            self.wide = [(i, header[i]) for i in range(len(header)) if i not in used]
            if not self.wide:
                raise InputError(f"{path}: no metric column besides {','.join(header)}",
                                 fix="add a column such as gpu_util_pct, or metric,value columns")
            too_long = [h for _, h in self.wide if len(h) > MAX_METRIC_NAME]
            if too_long:
                raise InputError(f"{path}: metric column name {too_long[0][:40]!r}... is over {MAX_METRIC_NAME} "
                                 "characters", fix="rename the column")


def parse_usage(path: Path, now_s: float, metric: str | None = None, source: str = SOURCE,
                future_tolerance_s: float = FUTURE_TOLERANCE_S) -> tuple[list[dict[str, Any]], IngestReport]:
    """UsageSample rows of the good samples (deduplicated), and a report of what was skipped and why."""
    header, records = read_rows(path)
    layout = _Layout(path, header, metric)
    report = IngestReport(source=f"{source} {path}", kind="usage_samples", details={"layout": layout.name})
    seen: dict[tuple[str, str, float], float] = {}
    conflicts = 0
    rows: list[dict[str, Any]] = []
    for line, fields in records:
        if len(fields) != layout.n_fields:
            report.read += 1
            report.reject(line, None, None, f"row has {len(fields)} fields, the header has {layout.n_fields}")
            continue
        ts_text = fields[layout.ts].strip()
        workload = fields[layout.workload].strip()
        team = fields[layout.team].strip() or None if layout.team is not None else None
        project = fields[layout.project].strip() or None if layout.project is not None else None
        samples = _samples(layout, header, fields)
        report.read += len(samples)
        try:
            ts_s = parse_timestamp(ts_text)
        except ValueError:
            for _ in samples:
                report.reject(line, header[layout.ts], ts_text, "not epoch seconds or ISO 8601")
            continue
        if ts_s > now_s + future_tolerance_s:
            for _ in samples:
                report.reject(line, header[layout.ts], ts_text,
                              f"{ts_s - now_s:.0f} s in the future (now {iso(round(now_s))}): clock skew or a wrong date")
            continue
        if not workload:
            for _ in samples:
                report.reject(line, header[layout.workload], "", "empty workload")
            continue
        for metric_name, column, text in samples:
            if not metric_name:
                report.reject(line, column, metric_name, "empty metric name")
                continue
            try:
                value = float(text)
            except ValueError:
                report.reject(line, column, text, "not a number")
                continue
            problem = check_value(metric_name, value)
            if problem:
                report.reject(line, column, text, f"{problem} ({metric_name})")
                continue
            key = (metric_name, workload, ts_s)
            if key in seen:
                report.duplicates += 1
                conflicts += seen[key] != value
                continue
            sample = {"source": source, "metric": metric_name, "series_key": f"workload={workload}",
                      "ts_s": ts_s, "value": value, "workload": workload, "team": team, "project": project,
                      "labels": {}}
            try:  # the store's rules (values >= 0, names bounded, no NUL), the same on every backend
                check_usage_row(sample)
            except RowProblem as p:
                report.reject(line, column, p.value, f"{p.column}: {p.reason}")
                continue
            seen[key] = value
            rows.append(sample)
    report.details["conflicting_duplicates"] = conflicts
    if conflicts:
        report.warnings.append(f"{conflicts} repeated sample(s) had another value than the first; the first was kept")
    return rows, report


def _samples(layout: _Layout, header: list[str], fields: list[str]) -> list[tuple[str, str, str]]:
    """(metric, column, value text) per sample in the row: one for long/Alibaba, one per metric column for wide."""
    if layout.name == "long":
        return [(fields[layout.metric_col].strip(), header[layout.value_col], fields[layout.value_col].strip())]
    if layout.name == "alibaba":
        return [(layout.fixed_metric, header[layout.value_col], fields[layout.value_col].strip())]
    return [(name, name, fields[i].strip()) for i, name in layout.wide if fields[i].strip()]


def ingest_usage(path: Path, store, now_s: float, metric: str | None = None, source: str = SOURCE,
                 strict: bool = False, future_tolerance_s: float = FUTURE_TOLERANCE_S) -> IngestReport:
    """Parse, then write the good samples in one transaction (none when `strict` and a row was rejected)."""
    rows, report = parse_usage(path, now_s, metric, source, future_tolerance_s)
    write = rows and not (strict and report.rejected)
    added = store.add_usage_samples(rows) if write else 0
    report.ingested = added
    report.details["already_stored"] = (len(rows) - added) if write else 0
    report.duplicates += report.details["already_stored"]
    report.details["written"] = bool(write)
    return report
