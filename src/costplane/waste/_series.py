"""GPU use series: one metric read from a usage CSV, and the interval rule that makes paid and used agree.

Layouts: costplane.traces._usage, the reader `ingest usage` uses too (by header, any column order):
  * `timestamp,workload,gpu_util_pct` — timestamp in epoch seconds or ISO 8601 (value column may also be
    `gpu_memory_used_bytes` / `gpu_memory_bytes` / `value` for a memory file);
  * Alibaba GenAI: `timestamp_anon,value,container_ip` — the container is the workload;
  * long: `timestamp,workload,metric,value` — the rows of the metric read.

Interval rule (per workload, samples sorted by time, duplicates at one timestamp averaged):
    interval_i = t_{i+1} − t_i for every sample but the last; the last gets the workload's median interval
    paid  = (t_last − t_first + median) × GPUs  = Σ interval_i × GPUs
    used  = Σ util_i/100 × min(interval_i, STALENESS_S) × GPUs
    unobserved = Σ max(interval_i − STALENESS_S, 0) × GPUs
so the GPU is paid through every gap (it stayed held), but a sample's value holds until the next sample
for at most `STALENESS_S` = 300 s, Prometheus' staleness window (a series not scraped for 5 minutes is
stale): the rest of a longer gap is paid but unobserved, reported apart instead of filled with the last
value. Because 0 ≤ util ≤ 100, used ≤ paid and efficiency ≤ 1 exactly. A workload with one sample has
no interval to measure: it gets the median interval of the file's other series (`DEFAULT_INTERVAL_S` if none).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from costplane.core.errors import InputError
from costplane.core.times import parse_timestamp
from costplane.core.vocabulary import GPU_MEMORY_USED_BYTES, GPU_UTIL_PCT
from costplane.traces._usage import MEMORY_COLUMNS, UTIL_COLUMNS, UsageLayout

DEFAULT_INTERVAL_S = 60.0  # one sample a minute, the usual DCGM exporter scrape
STALENESS_S = 300.0  # Prometheus' lookback delta: a sample stands for at most 5 minutes after it


@dataclass(frozen=True)
class UsageSeries:
    """Samples of one metric for many workloads: parallel arrays sorted by (workload, time)."""

    workload: np.ndarray   # str
    ts_s: np.ndarray       # float seconds
    value: np.ndarray      # float
    warnings: tuple[str, ...] = field(default=())
    rejected: tuple[str, ...] = field(default=())

    @property
    def workloads(self) -> list[str]:
        return list(dict.fromkeys(self.workload.tolist()))


def parse_usage_csv(text: str, name: str, *, percent: bool) -> UsageSeries:
    """Parse CSV text into a UsageSeries. Malformed rows are skipped and counted with their first line.

    The layouts are costplane.traces._usage's (shared with `ingest usage`); this reads one metric from
    them: utilisation (`percent=True`, values in 0..100) or GPU memory in bytes (values >= 0).
    """
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise InputError(f"{name}: empty file", fix="pass a CSV with a header line and samples")
    header = [h.strip() for h in header]
    wanted = UTIL_COLUMNS if percent else MEMORY_COLUMNS
    layout = UsageLayout.of(name, header, GPU_UTIL_PCT if percent else GPU_MEMORY_USED_BYTES)
    column = layout.column_for(wanted)
    if column is None:
        raise InputError(f"{name}: no {'utilisation' if percent else 'memory'} column in header {','.join(header)}",
                         fix="use the header timestamp,workload,gpu_util_pct or timestamp_anon,value,container_ip")
    malformed: list[int] = []
    bad: dict[str, list] = {"timestamp": [], "number": [], "workload": []}  # what -> [count, first line, value]
    rejected: list[str] = []
    keys: list[str] = []
    stamps: list[float] = []
    values: list[float] = []
    read = 0
    for line_no, fields in enumerate(reader, start=2):
        if not fields:
            continue
        read += 1
        if len(fields) != len(header):
            malformed.append(line_no)
            continue
        picked = [(col, v) for metric, col, v in layout.samples(fields) if metric == column]
        if layout.name == "long" and not picked:
            continue  # another metric's row
        col, raw_value = picked[0] if picked else (column, "")
        t_text, key = fields[layout.ts].strip(), fields[layout.workload].strip()
        problems = []
        try:
            ts = parse_timestamp(t_text)
        except ValueError:
            problems.append(("timestamp", header[layout.ts], t_text))
        try:
            value = float(raw_value)
            if not math.isfinite(value):
                raise ValueError
        except ValueError:
            problems.append(("number", col, raw_value))
        if not key:
            problems.append(("workload", header[layout.workload], key))
        for what, c, v in problems:
            entry = bad[what]
            if not entry:
                entry.extend([0, line_no, v, c])
            entry[0] += 1
        if problems:
            continue
        if (percent and not 0 <= value <= 100) or (not percent and value < 0):
            rejected.append(f"{name}: line {line_no}: {col}={raw_value} outside {'0..100' if percent else '>= 0'}")
            continue
        keys.append(key)
        stamps.append(ts)
        values.append(value)
    warnings: list[str] = []
    if malformed:
        warnings.append(f"{name}: {len(malformed)} malformed row(s) with a wrong number of fields skipped "
                        f"(first at line {malformed[0]}; the header has {len(header)})")
    for what, entry in bad.items():
        if entry:
            count, first, value, col = entry
            warnings.append(f"{name}: {count} row(s) with no valid {what} in column {col!r} "
                            f"(first at line {first}, value {value!r}) skipped")
    if not keys:
        raise InputError(f"{name}: no valid rows ({read} read, {len(rejected)} rejected)",
                         fix="check the file has timestamp, workload and value columns with numbers")
    frame = pd.DataFrame({"workload": keys, "ts_s": stamps, "value": values})
    # Several samples of one workload at one time (e.g. two GPUs of a pod): their mean.
    frame = frame.groupby(["workload", "ts_s"], as_index=False, sort=True)["value"].mean()
    return UsageSeries(frame.workload.to_numpy(dtype=object), frame.ts_s.to_numpy(float),
                       frame.value.to_numpy(float), tuple(warnings), tuple(rejected))


def intervals(ts_s: np.ndarray, single_s: float = DEFAULT_INTERVAL_S) -> np.ndarray:
    """Interval each sample stands for: time to the next sample; the last one gets the median interval.

    A series of one sample has no interval of its own: it gets `single_s` (the caller passes the
    median interval of all other series of the file; DEFAULT_INTERVAL_S when there are none).
    """
    if len(ts_s) == 1:
        return np.array([single_s])
    gaps = np.diff(ts_s)
    median = float(np.median(gaps))
    if not median > 0 or not math.isfinite(median):
        median = single_s
    return np.append(gaps, median)


def observed_intervals(interval_s: np.ndarray) -> np.ndarray:
    """The part of each sample's interval its value is known for: at most STALENESS_S (see the module docstring)."""
    return np.minimum(interval_s, STALENESS_S)


def median_interval_s(series: UsageSeries) -> float:
    """Median gap between consecutive samples of the same workload over the whole file."""
    same = series.workload[1:] == series.workload[:-1]
    gaps = np.diff(series.ts_s)[same] if len(series.ts_s) > 1 else np.zeros(0)
    gaps = gaps[gaps > 0]
    return float(np.median(gaps)) if len(gaps) else DEFAULT_INTERVAL_S


def split_by_workload(series: UsageSeries) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """workload -> (ts_s, value), each sorted by time (the series is already sorted by workload, time)."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if len(series.workload) == 0:
        return out
    boundaries = np.flatnonzero(series.workload[1:] != series.workload[:-1]) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(series.workload)]))
    for s, e in zip(starts, ends):
        out[str(series.workload[s])] = (series.ts_s[s:e], series.value[s:e])
    return out
