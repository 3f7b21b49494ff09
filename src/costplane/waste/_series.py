"""GPU use series: parse the two accepted CSV layouts, and the interval rule that makes paid and used agree.

Layouts (by header, any column order, extra columns ignored):
  * `timestamp,workload,gpu_util_pct` — timestamp in epoch seconds or ISO 8601 (value column may also be
    `gpu_memory_bytes` / `value` for a memory file);
  * Alibaba GenAI: `timestamp_anon,value,container_ip` — the container is the workload.

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

DEFAULT_INTERVAL_S = 60.0  # one sample a minute, the usual DCGM exporter scrape
STALENESS_S = 300.0  # Prometheus' lookback delta: a sample stands for at most 5 minutes after it
_TIME_COLS = ("timestamp", "timestamp_anon", "ts", "ts_s", "time")
_KEY_COLS = ("workload", "container_ip", "container", "pod")
_VALUE_COLS = ("gpu_util_pct", "value", "gpu_memory_bytes", "gpu_memory_used_bytes", "util")


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


def _parse_time(raw: pd.Series) -> pd.Series:
    """Epoch seconds from epoch numbers or ISO 8601 strings (whichever most rows are); bad ones NaN."""
    numeric = pd.to_numeric(raw, errors="coerce")
    if numeric.notna().sum() >= max(1, raw.notna().sum() // 2):
        return numeric.astype("float64")
    parsed = pd.to_datetime(raw, errors="coerce", utc=True, format="ISO8601")
    return (parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds()


def _pick(columns: list[str], options: tuple[str, ...], what: str, name: str) -> str:
    for o in options:
        if o in columns:
            return o
    raise InputError(f"{name}: no {what} column in header {','.join(columns)}",
                     fix="use the header timestamp,workload,gpu_util_pct or timestamp_anon,value,container_ip")


def parse_usage_csv(text: str, name: str, *, percent: bool) -> UsageSeries:
    """Parse CSV text into a UsageSeries. Malformed rows are skipped and counted with their first line.

    `percent=True` rejects values outside 0..100 (utilisation); else values must be ≥ 0 (memory bytes).
    """
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise InputError(f"{name}: empty file", fix="pass a CSV with a header line and samples")
    good: list[list[str]] = []
    lines: list[int] = []
    malformed: list[int] = []
    for line_no, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(header):
            malformed.append(line_no)
            continue
        good.append(row)
        lines.append(line_no)
    df = pd.DataFrame(good, columns=header, dtype=str)
    df.columns = [c.strip().lower() for c in df.columns]
    cols = list(df.columns)
    t_col = _pick(cols, _TIME_COLS, "timestamp", name)
    k_col = _pick(cols, _KEY_COLS, "workload", name)
    v_col = _pick([c for c in cols if c not in (t_col, k_col)], _VALUE_COLS, "value", name)
    ts = _parse_time(df[t_col])
    value = pd.to_numeric(df[v_col], errors="coerce")
    key = df[k_col].fillna("").str.strip()
    line = np.asarray(lines, dtype=int)
    warnings: list[str] = []
    if malformed:
        warnings.append(f"{name}: {len(malformed)} malformed row(s) with a wrong number of fields skipped "
                        f"(first at line {malformed[0]}; the header has {len(header)})")
    bad_t, bad_v, bad_k = ts.isna() | ~np.isfinite(ts), value.isna(), key == ""
    for mask, col, what in ((bad_t, t_col, "timestamp"), (bad_v, v_col, "number"), (bad_k, k_col, "workload")):
        if mask.any():
            first = int(line[mask.to_numpy()][0])
            warnings.append(f"{name}: {int(mask.sum())} row(s) with no valid {what} in column {col!r} "
                            f"(first at line {first}, value {df[col][mask].iloc[0]!r}) skipped")
    ok = ~(bad_t | bad_v | bad_k)
    out_of_range = ok & ((value < 0) | (value > 100)) if percent else ok & (value < 0)
    rejected: list[str] = []
    if out_of_range.any():
        idx = np.flatnonzero(out_of_range.to_numpy())
        rejected = [f"{name}: line {int(line[i])}: {v_col}={df[v_col].iloc[i]} outside "
                    f"{'0..100' if percent else '>= 0'}" for i in idx]
    keep = (ok & ~out_of_range).to_numpy()
    if not keep.any():
        raise InputError(f"{name}: no valid rows ({len(df)} read, {len(rejected)} rejected)",
                         fix="check the file has timestamp, workload and value columns with numbers")
    frame = pd.DataFrame({"workload": key[keep].to_numpy(), "ts_s": ts[keep].to_numpy(),
                          "value": value[keep].to_numpy(dtype=float)})
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
