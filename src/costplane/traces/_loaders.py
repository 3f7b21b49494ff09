"""Trace file adapters: detect the format from the first line, parse, and hand back a DemandSeries."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from costplane.core.errors import InputError
from costplane.core.times import timestamp_seconds
from costplane.traces._series import DEFAULT_STEP_S, DemandSeries, bin_arrivals, series_from_intervals

FORMATS = ("azure-llm", "mooncake", "requests", "series", "dlrm", "gpu-use")
UNITS = ("requests", "tokens")
MAX_DEFAULT_STEPS = 1_000_000  # ~11.6 days at 1 s; longer traces default to a coarser step (with a warning)
NICE_STEPS_S = (1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


def default_step(span_s: float) -> float:
    """1 s unless that would exceed MAX_DEFAULT_STEPS steps; then the smallest nice step that does not."""
    for step in NICE_STEPS_S:
        if span_s / step <= MAX_DEFAULT_STEPS:
            return step
    return NICE_STEPS_S[-1]


def _with_step_note(series: DemandSeries, chosen: float) -> DemandSeries:
    if chosen == DEFAULT_STEP_S:
        return series
    note = (f"{series.source}: the trace spans {series.duration_s / 86_400:.1f} days, so it is replayed in "
            f"{chosen:g} s steps (pass --step to choose)")
    return DemandSeries(series.start_s, series.step_s, series.counts, series.unit, series.source,
                        (*series.warnings, note))
_FIX_FORMATS = ("use the Azure LLM CSV (TIMESTAMP,ContextTokens,GeneratedTokens), Mooncake JSONL "
                "(timestamp,input_length,output_length), requests CSV (timestamp,input_tokens,output_tokens) "
                "or a series CSV (timestamp,count)")


def _first_line(path: Path) -> str:
    if not path.exists():
        raise InputError(f"trace {path} does not exist", fix="pass --trace with the path of a trace file")
    with path.open("r", encoding="utf-8-sig", errors="replace") as fh:
        for line in fh:
            if line.strip():
                return line.strip()
    raise InputError(f"trace {path} is empty", fix="pass a trace with a header and at least one row")


def detect_format(path: Path) -> str:
    """One of FORMATS, from the header (CSV) or the first record (JSONL)."""
    line = _first_line(path)
    if line.startswith("{"):
        try:
            keys = set(json.loads(line))
        except ValueError as exc:
            raise InputError(f"{path}: line 1 is not JSON ({exc})", fix=_FIX_FORMATS) from None
        if {"timestamp", "input_length", "output_length"} <= keys:
            return "mooncake"
        raise InputError(f"{path}: JSONL records with keys {sorted(keys)} are not a known trace", fix=_FIX_FORMATS)
    header = [c.strip().strip('"').lower() for c in line.split(",")]
    cols = set(header)
    if {"timestamp", "contexttokens", "generatedtokens"} <= cols:
        return "azure-llm"
    if {"timestamp", "count"} <= cols:
        return "series"
    if {"instance_sn", "role", "app_name", "creation_time", "deletion_time"} <= cols:
        return "dlrm"
    if {"timestamp_anon", "value", "container_ip"} <= cols or {"timestamp", "workload", "gpu_util_pct"} <= cols:
        return "gpu-use"
    if {"timestamp", "input_tokens", "output_tokens"} <= cols:
        return "requests"
    raise InputError(f"{path}: unknown trace format, header is {line[:120]!r}", fix=_FIX_FORMATS)


def _seconds(values: pd.Series, path: Path) -> np.ndarray:
    """Timestamps as float seconds: numbers as they are, ISO 8601 / wall-clock strings as UTC epoch seconds."""
    seconds = timestamp_seconds(values).to_numpy(dtype="float64")
    bad = np.flatnonzero(np.isnan(seconds))
    if bad.size:
        row = int(bad[0])
        raise InputError(f"{path}: line {row + 2}, column timestamp: {values.iloc[row]!r} is not a time",
                         fix="use seconds or ISO 8601 like 2023-11-16T18:15:46Z")
    return seconds


def _numbers(frame: pd.DataFrame, col: str, path: Path) -> np.ndarray:
    values = pd.to_numeric(frame[col], errors="coerce")
    bad = np.flatnonzero(values.isna().to_numpy())
    if bad.size:
        row = int(bad[0])
        raise InputError(f"{path}: line {row + 2}, column {col}: {frame[col].iloc[row]!r} is not a number",
                         fix=f"every row needs a number in {col}")
    out = values.to_numpy(dtype="float64")
    neg = np.flatnonzero(out < 0)
    if neg.size:
        raise InputError(f"{path}: line {int(neg[0]) + 2}, column {col}: negative value {out[neg[0]]:g}",
                         fix=f"{col} must be >= 0")
    return out


def read_requests(path: str | Path, fmt: str | None = None, service: str | None = None) -> pd.DataFrame:
    """Per-request rows `time_s, input_tokens, output_tokens` of a request trace (not time-sorted)."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt == "mooncake":
        rows = []
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    rows.append((float(rec["timestamp"]) / 1000.0, float(rec["input_length"]),
                                 float(rec["output_length"])))
                except (ValueError, KeyError, TypeError) as exc:
                    raise InputError(f"{path}: line {lineno} is not a Mooncake record ({exc})",
                                     fix="each line needs timestamp (ms), input_length, output_length") from None
        if not rows:
            raise InputError(f"{path} has no requests", fix="pass a trace with at least one request")
        return pd.DataFrame(rows, columns=["time_s", "input_tokens", "output_tokens"])
    frame = pd.read_csv(path, dtype=str, skipinitialspace=True)
    frame.columns = [c.strip().lower() for c in frame.columns]
    if frame.empty:
        raise InputError(f"{path} has a header but no requests", fix="pass a trace with at least one request")
    if fmt == "azure-llm":
        cols = {"timestamp": "timestamp", "in": "contexttokens", "out": "generatedtokens"}
    elif fmt == "requests":
        cols = {"timestamp": "timestamp", "in": "input_tokens", "out": "output_tokens"}
        if service is not None and "service" in frame.columns:
            frame = frame[frame["service"].str.strip() == service].reset_index(drop=True)
            if frame.empty:
                raise InputError(f"{path}: no request of service {service!r}",
                                 fix="pass a service name that appears in the service column")
    else:
        raise InputError(f"{path}: format {fmt} is not a request trace", fix=_FIX_FORMATS)
    return pd.DataFrame({"time_s": _seconds(frame[cols["timestamp"]].str.strip(), path),
                         "input_tokens": _numbers(frame, cols["in"], path),
                         "output_tokens": _numbers(frame, cols["out"], path)})


def load_trace(path: str | Path, step_s: float | None = None, unit: str = "requests",
               service: str | None = None) -> DemandSeries:
    """A DemandSeries from any known trace file.

    Request traces are binned per `step_s` from the first request; empty steps are zero.
    Series files are resampled onto `step_s` by spreading each row over its interval.
    Default step: 1 s, or for traces longer than MAX_DEFAULT_STEPS seconds the smallest of NICE_STEPS_S
    that keeps them under that many steps (a warning says so).
    `unit="tokens"` counts input + output tokens per request instead of requests.
    """
    path = Path(path)
    if unit not in UNITS:
        raise InputError(f"unknown demand unit {unit!r}", fix=f"use one of {', '.join(UNITS)}")
    step = float(step_s) if step_s is not None else DEFAULT_STEP_S
    if not step > 0:
        raise InputError(f"--step must be > 0, got {step_s!r}", fix="pass a positive number of seconds")
    fmt = detect_format(path)
    if fmt == "dlrm":
        from costplane.traces._fleet import dlrm_service_series, dlrm_services

        name = service or dlrm_services(path, 1)[0]  # default: the service whose fleet varies most
        series = dlrm_service_series(path, name, step if step_s is not None else 60.0)
        return series if step_s is not None else _with_step_note(series, series.step_s)
    if fmt == "gpu-use":
        from costplane.traces._fleet import gpu_use_series

        return gpu_use_series(path, step)
    if fmt == "series":
        frame = pd.read_csv(path, dtype=str, skipinitialspace=True)
        frame.columns = [c.strip().lower() for c in frame.columns]
        if frame.empty:
            raise InputError(f"{path} has a header but no rows", fix="add `timestamp,count` rows")
        times = _seconds(frame["timestamp"].str.strip(), path)
        counts = pd.to_numeric(frame["count"], errors="coerce").to_numpy(dtype="float64")
        if step_s is None and times.size > 1:
            step = default_step(float(np.nanmax(times) - np.nanmin(times)))
        series = series_from_intervals(times, counts, step, source=str(path))
        return series if step_s is not None else _with_step_note(series, step)
    requests = read_requests(path, fmt, service)
    weights = None
    if unit == "tokens":
        weights = (requests["input_tokens"] + requests["output_tokens"]).to_numpy()
    times = requests["time_s"].to_numpy()
    if step_s is None and times.size > 1:
        step = default_step(float(np.nanmax(times) - np.nanmin(times)))
    series = bin_arrivals(times, weights, step, unit=unit, source=str(path))
    return series if step_s is not None else _with_step_note(series, step)
