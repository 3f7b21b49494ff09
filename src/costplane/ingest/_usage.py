"""Plain usage CSV -> UsageSample rows; the layouts are read by costplane.traces._usage (shared with `waste`):

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

from pathlib import Path
from typing import Any

from costplane.core.times import iso, parse_timestamp
from costplane.ingest._csvfile import read_rows
from costplane.ingest._report import IngestReport
from costplane.store._validate import RowProblem, check_usage_row
from costplane.traces._usage import UsageLayout, check_value

SOURCE = "usage_csv"
FUTURE_TOLERANCE_S = 300.0  # 5 min of clock difference between exporter and us is normal; more is skew
ATTRIBUTE_COLUMNS = ("team", "project")


def parse_usage(path: Path, now_s: float, metric: str | None = None, source: str = SOURCE,
                future_tolerance_s: float = FUTURE_TOLERANCE_S) -> tuple[list[dict[str, Any]], IngestReport]:
    """UsageSample rows of the good samples (deduplicated), and a report of what was skipped and why."""
    header, records = read_rows(path)
    layout = UsageLayout.of(str(path), header, metric)
    report = IngestReport(source=f"{source} {path}", kind="usage_samples", details={"layout": layout.name})
    seen: dict[tuple[str, str, float], float] = {}
    conflicts = 0
    rows: list[dict[str, Any]] = []
    for line, fields in records:
        if len(fields) != len(header):
            report.read += 1
            report.reject(line, None, None, f"row has {len(fields)} fields, the header has {len(header)}")
            continue
        ts_text = fields[layout.ts].strip()
        workload = fields[layout.workload].strip()
        team = fields[layout.team].strip() or None if layout.team is not None else None
        project = fields[layout.project].strip() or None if layout.project is not None else None
        samples = layout.samples(fields)
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
