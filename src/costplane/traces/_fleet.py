"""Demand series from fleet traces: live instances of a DLRM service, busy GPUs of a GPU-use file, PAI pods.

- Alibaba DLRM 2025 (`instance_sn,role,app_name,...,creation_time,scheduled_time,deletion_time`, times in
  seconds from the trace start, empty = before the start / after the end): the demand of a service
  (`app_name`) is its live GPU (`role` HN) instances, integrated exactly over each step, so a step's
  count is instance-seconds and the rate is the mean number of live instances. `dlrm_services` names
  services by a fixed rule (largest standard deviation of live instances), not by hand.
- GPU use (`timestamp_anon,value,container_ip` or `timestamp,workload,gpu_util_pct`, as read by
  `costplane.waste`): the demand is the busy-GPU equivalent summed over containers, sum(util) / 100,
  each sample holding until the next sampling time; a step's count is busy GPU-seconds.
- Alibaba PAI 2023 pod lists (`openb_pod_list_*.csv`): hourly pods created, GPUs requested and GPUs held
  (`pai_hourly_series`); a pod holds `pod_gpus` GPUs, the rule the job replay uses too.
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


def _instance_seconds(creation: np.ndarray, deletion: np.ndarray, edges: np.ndarray,
                      weights: np.ndarray | None = None) -> np.ndarray:
    """Sum over instances of (weight x) the time alive before T, for every T in `edges` (exact, O((n + m) log n))."""
    w_all = np.ones(creation.size) if weights is None else np.asarray(weights, dtype=float)

    def ramp(starts: np.ndarray) -> np.ndarray:  # sum_i w_i max(0, T - s_i)
        order = np.argsort(starts, kind="stable")
        s, w = starts[order], w_all[order]
        cum_w = np.concatenate([[0.0], np.cumsum(w)])
        cum_ws = np.concatenate([[0.0], np.cumsum(w * s)])
        k = np.searchsorted(s, edges, side="left")
        return cum_w[k] * edges - cum_ws[k]

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


PAI_COLUMNS = ("qos", "num_gpu", "gpu_milli", "creation_time", "deletion_time")


def pod_gpus(num_gpu: np.ndarray, gpu_milli: np.ndarray) -> np.ndarray:
    """GPUs an Alibaba PAI pod holds: `num_gpu` whole GPUs, or `gpu_milli/1000` of one when it shares a GPU."""
    num_gpu = np.asarray(num_gpu, dtype=float)
    milli = np.asarray(gpu_milli, dtype=float)
    shared = (num_gpu == 1) & (milli > 0) & (milli < 1000)
    return np.where(shared, milli / 1000.0, num_gpu)


def pai_hourly_series(path: str | Path) -> list[tuple[str, np.ndarray]]:
    """Hourly GPU demand of an Alibaba PAI pod list (`openb_pod_list_*.csv`): series with a daily cycle.

    Per QoS class (LS, BE) and for all pods: pods created per hour, GPUs they request per hour and GPUs held
    by live pods (mean per hour, from each pod's [creation, deletion) overlap with the hour). Hours run from
    the first day with at least a tenth of the median day's arrivals (a snapshot's few long-lived pods are
    spread over the months before it) to the last whole hour with an arrival.
    """
    path = Path(path)
    pods = pd.read_csv(path, usecols=list(PAI_COLUMNS))
    if pods.empty:
        raise InputError(f"{path}: no pods", fix="pass an openb_pod_list CSV with rows")
    gpus = pod_gpus(pods.num_gpu.to_numpy(), pods.gpu_milli.to_numpy())
    per_day = (pods.creation_time // 86_400).value_counts().sort_index()
    start = float(per_day.index[per_day >= 0.1 * per_day.median()][0] * 86_400)
    hours = int((pods.creation_time.max() - start) // 3600)
    edges = start + 3600.0 * np.arange(hours + 1)
    out = []
    for qos in ("all", "LS", "BE"):
        sel = np.ones(len(pods), bool) if qos == "all" else (pods.qos == qos).to_numpy()
        created = pods.creation_time.to_numpy(float)[sel]
        slot = np.floor((created - start) / 3600).astype(np.int64)
        new = (slot >= 0) & (slot < hours)
        out.append((f"{qos}/tasks", np.bincount(slot[new], minlength=hours).astype(float)))
        out.append((f"{qos}/gpus-requested", np.bincount(slot[new], weights=gpus[sel][new], minlength=hours)))
        deleted = np.maximum(pods.deletion_time.fillna(edges[-1]).to_numpy(float)[sel], created)
        gpu_seconds = np.diff(_instance_seconds(created, deleted, edges, gpus[sel]))
        out.append((f"{qos}/gpus-live", gpu_seconds / 3600.0))
    return out
