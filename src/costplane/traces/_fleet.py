"""Demand series from fleet traces: live instances of a DLRM service, and busy GPUs of a GPU-use file.

- Alibaba DLRM 2025 (`instance_sn,role,app_name,...,creation_time,scheduled_time,deletion_time`, times in
  seconds from the trace start, empty = before the start / after the end): the demand of a service
  (`app_name`) is its live GPU (`role` HN) instances, integrated exactly over each step, so a step's
  count is instance-seconds and the rate is the mean number of live instances. `dlrm_services` names
  services by a fixed rule (largest standard deviation of live instances), not by hand.
- GPU use (`timestamp_anon,value,container_ip` or `timestamp,workload,gpu_util_pct`, as read by
  `costplane.waste`): the demand is the busy-GPU equivalent summed over containers, sum(util) / 100,
  each sample holding until the next sampling time; a step's count is busy GPU-seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from costplane.core.errors import InputError
from costplane.traces._series import DemandSeries, series_from_intervals

DLRM_COLUMNS = ("instance_sn", "role", "app_name", "creation_time", "deletion_time")
DLRM_END_S = 2_677_541.0  # the published trace's length (SOURCE.md); later times extend it
DLRM_ROLE = "HN"          # GPU instances (CN = CPU instances)


def _dlrm_frame(path: Path) -> tuple[pd.DataFrame, float]:
    frame = pd.read_csv(path, usecols=list(DLRM_COLUMNS))
    frame = frame[frame["role"].astype(str).str.strip() == DLRM_ROLE]
    if frame.empty:
        raise InputError(f"{path}: no {DLRM_ROLE} (GPU) instance rows", fix="pass the DLRM instance CSV")
    known = pd.concat([frame["creation_time"], frame["deletion_time"]]).dropna()
    end = max(DLRM_END_S, float(known.max()) if known.size else 0.0)
    return frame, end


def _instance_seconds(creation: np.ndarray, deletion: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Sum over instances of the time alive in [0, T) for every T in `edges` (exact, O((n + m) log n))."""

    def ramp(starts: np.ndarray) -> np.ndarray:  # sum_i max(0, T - s_i)
        s = np.sort(starts)
        cum = np.concatenate([[0.0], np.cumsum(s)])
        k = np.searchsorted(s, edges, side="left")
        return k * edges - cum[k]

    return ramp(creation) - ramp(deletion)


def dlrm_service_series(path: str | Path, service: str, step_s: float = 60.0) -> DemandSeries:
    """Mean live GPU instances of `service` per step over the whole trace (count = instance-seconds)."""
    path = Path(path)
    frame, end = _dlrm_frame(path)
    rows = frame[frame["app_name"].astype(str).str.strip() == service]
    if rows.empty:
        raise InputError(f"{path}: no GPU instance of service {service!r}",
                         fix=f"pass an app_name from the file, e.g. {', '.join(dlrm_services(path, 3))}")
    creation = rows["creation_time"].fillna(0.0).clip(lower=0.0).to_numpy(dtype="float64")
    deletion = rows["deletion_time"].fillna(end).clip(upper=end).to_numpy(dtype="float64")
    deletion = np.maximum(deletion, creation)
    n = int(np.ceil(end / step_s - 1e-9))
    edges = step_s * np.arange(n + 1, dtype="float64")
    counts = np.diff(_instance_seconds(creation, deletion, edges))
    return DemandSeries(0.0, float(step_s), counts, "instances", f"{path}#{service}")


def dlrm_services(path: str | Path, k: int, step_s: float = 300.0) -> list[str]:
    """The `k` services whose live GPU instances vary most (largest standard deviation), largest first."""
    path = Path(path)
    frame, _ = _dlrm_frame(path)
    spread = {str(app): float(dlrm_service_series(path, str(app), step_s).counts.std())
              for app in frame["app_name"].unique()}
    return sorted(spread, key=lambda a: (-spread[a], a))[:k]


def gpu_use_series(path: str | Path, step_s: float | None = None) -> DemandSeries:
    """Busy-GPU equivalents summed over containers (sum of utilisation / 100) as a demand series."""
    from costplane.waste import parse_usage_csv

    path = Path(path)
    usage = parse_usage_csv(path.read_text(encoding="utf-8-sig"), str(path), percent=True)
    busy = pd.Series(usage.value / 100.0).groupby(usage.ts_s).sum()
    times = busy.index.to_numpy(dtype="float64")
    if times.size < 2:
        raise InputError(f"{path}: fewer than two sampling times", fix="pass a GPU-use file with a series")
    gaps = np.diff(times)
    held = np.append(gaps, np.median(gaps))  # a sample holds until the next sampling time
    series = series_from_intervals(times, busy.to_numpy() * held, step_s, source=str(path))
    return DemandSeries(series.start_s, series.step_s, series.counts, "gpu-busy", series.source,
                        (*usage.warnings, *series.warnings))
