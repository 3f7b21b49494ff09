"""GPU usage CSV layouts (pure): the one reader of usage samples, used by `ingest usage` and by `waste`.

Three layouts, recognised by their header (any column order, names case-insensitive):

- long:    `timestamp,workload,metric,value[,team,project]`  (one metric per row)
- wide:    `timestamp,workload,gpu_util_pct[,gpu_memory_used_bytes,...][,team,project]`
           (every other column is a metric named by its header; CONTRACTS.md `waste` layout)
- Alibaba: `timestamp_anon,value,container_ip` (the GenAI usage trace); the metric comes from the
           caller (`metric=`) or the file name (`*memory*` -> gpu_memory_used_bytes, `*duty_cycle*` /
           `*util*` -> gpu_util_pct); the container is the workload.

Timestamps are read by core.times (epoch seconds or ISO 8601). This module only splits rows into samples
and says what is wrong with a field; what to do with a bad row (reject with a report, skip with a
warning), duplicates and clock skew are the caller's rules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from costplane.core.errors import InputError
from costplane.core.vocabulary import GPU_MEMORY_USED_BYTES, GPU_UTIL_PCT

TIMESTAMP_COLUMNS = ("timestamp", "timestamp_anon", "ts", "ts_s", "time", "ds")
WORKLOAD_COLUMNS = ("workload", "container_ip", "pod", "container", "unique_id")
MAX_METRIC_NAME = 128
# Wide-layout column names that mean the two metrics `waste` reads (first found wins).
UTIL_COLUMNS = (GPU_UTIL_PCT, "util", "gpu_utilization", "value")
MEMORY_COLUMNS = (GPU_MEMORY_USED_BYTES, "gpu_memory_bytes", "value")
FIX_LAYOUT = ("use timestamp,workload,metric,value or timestamp,workload,gpu_util_pct "
              "or the Alibaba timestamp_anon,value,container_ip layout")


def _find(header_lower: Sequence[str], names: Sequence[str]) -> int | None:
    for name in names:
        if name in header_lower:
            return header_lower.index(name)
    return None


def metric_from_filename(path: str | Path) -> str | None:
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


@dataclass
class UsageLayout:
    """Where the fields of one usage CSV are, from its header (see the module docstring)."""

    name: str                      # long | wide | alibaba
    header: list[str]
    ts: int
    workload: int
    team: int | None
    project: int | None
    metric_col: int | None = None
    value_col: int | None = None
    fixed_metric: str | None = None
    wide: tuple[tuple[int, str], ...] = ()

    @classmethod
    def of(cls, source: str, header: list[str], metric: str | None = None) -> UsageLayout:
        lower = [h.strip().lower() for h in header]
        ts, workload = _find(lower, TIMESTAMP_COLUMNS), _find(lower, WORKLOAD_COLUMNS)
        if ts is None or workload is None:
            missing = [what for what, i in (("timestamp", ts), ("workload", workload)) if i is None]
            raise InputError(f"{source}: no {' and no '.join(m + ' column' for m in missing)} "
                             f"(header: {','.join(header)})", fix=FIX_LAYOUT)
        team, project = _find(lower, ("team",)), _find(lower, ("project",))
        metric_col, value_col = _find(lower, ("metric",)), _find(lower, ("value",))
        if metric_col is not None and value_col is not None:
            return cls("long", header, ts, workload, team, project, metric_col, value_col)
        if value_col is not None:
            fixed = metric or metric_from_filename(source)
            if fixed is None:
                raise InputError(f"{source}: a `value` column without a `metric` column, and the file name does "
                                 "not say what it measures",
                                 fix="pass --metric gpu_util_pct (or gpu_memory_used_bytes)")
            return cls("alibaba", header, ts, workload, team, project, None, value_col, fixed)
        used = {ts, workload, team, project}
        wide = tuple((i, header[i].strip()) for i in range(len(header)) if i not in used)
        if not wide:
            raise InputError(f"{source}: no metric column besides {','.join(header)}",
                             fix="add a column such as gpu_util_pct, or metric,value columns")
        too_long = [h for _, h in wide if len(h) > MAX_METRIC_NAME]
        if too_long:
            raise InputError(f"{source}: metric column name {too_long[0][:40]!r}... is over {MAX_METRIC_NAME} "
                             "characters", fix="rename the column")
        return cls("wide", header, ts, workload, team, project, wide=wide)

    def samples(self, fields: list[str]) -> list[tuple[str, str, str]]:
        """(metric, column, value text) per sample in the row: one for long/Alibaba, one per metric column for wide."""
        if self.name == "long":
            return [(fields[self.metric_col].strip(), self.header[self.value_col], fields[self.value_col].strip())]
        if self.name == "alibaba":
            return [(self.fixed_metric, self.header[self.value_col], fields[self.value_col].strip())]
        return [(name, name, fields[i].strip()) for i, name in self.wide if fields[i].strip()]

    def column_for(self, wanted: Sequence[str]) -> str | None:
        """The metric (long/Alibaba) or wide column that carries the first of `wanted` this file has."""
        if self.name == "alibaba":
            return self.fixed_metric if self.fixed_metric in wanted else None
        if self.name == "wide":
            names = {h.lower(): h for _, h in self.wide}
            return next((names[w] for w in wanted if w in names), None)
        return wanted[0]
