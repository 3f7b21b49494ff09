"""From a long-format table (`unique_id, ds, y`, the statsforecast/Nixtla layout) to regular series.

Rules, each explicit (warnings are returned, never printed here):
- `ds` is seconds (any origin) or ISO 8601; naive times are UTC. Rows may be in any order: sorted per series.
- `y` must be a finite number >= 0 (demand): otherwise an error names the file line.
- Duplicate (unique_id, ds): an error by default; `duplicates="sum"` or `"mean"` aggregates with a warning.
- The frequency of each series is the median step. A step that is not a whole multiple of it (±10 %) is an
  error naming the series and timestamp. A missing step is a gap: `gaps="interpolate"` (default) fills it
  linearly, `"zero"` fills 0 (counts of events where no event came), `"error"` refuses; fills are warned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from costplane.core.errors import InputError
from costplane.core.times import timestamp_seconds

if TYPE_CHECKING:
    import pandas as pd

STEP_TOLERANCE = 0.1
DUPLICATE_POLICIES = ("error", "sum", "mean")
GAP_POLICIES = ("interpolate", "zero", "error")


@dataclass(frozen=True)
class SeriesSet:
    ids: list[str]
    values: np.ndarray
    indptr: np.ndarray
    start_s: np.ndarray  # first timestamp of each series, seconds
    freq_s: np.ndarray  # sampling interval of each series, seconds (NaN for a one-point series)
    iso: bool  # ds came as ISO 8601 (written back the same way)
    tz_aware: bool

    def __len__(self) -> int:
        return len(self.ids)

    def series(self, i: int) -> np.ndarray:
        return self.values[self.indptr[i]:self.indptr[i + 1]]

    def timestamps(self, i: int, positions: np.ndarray | None = None) -> np.ndarray:
        pos = np.arange(self.indptr[i + 1] - self.indptr[i]) if positions is None else np.asarray(positions)
        step = self.freq_s[i] if np.isfinite(self.freq_s[i]) else 0.0
        return self.start_s[i] + pos * step

    def format_ds(self, seconds: np.ndarray) -> list:
        import pandas as pd  # lazily: `costplane --help` and the models need no pandas

        if not self.iso:
            return [float(s) if not float(s).is_integer() else int(s) for s in seconds]
        stamps = pd.to_datetime(np.round(np.asarray(seconds) * 1e9).astype("int64"), unit="ns", utc=True)
        if not self.tz_aware:
            stamps = stamps.tz_localize(None)
        return [s.isoformat() for s in stamps]


def _parse_ds(raw: pd.Series, source: str) -> tuple[np.ndarray, bool, bool]:
    import pandas as pd  # lazily: `costplane --help` and the models need no pandas

    numeric = pd.to_numeric(raw, errors="coerce")
    if numeric.notna().all():
        return numeric.to_numpy(dtype=float), False, False
    if numeric.notna().mean() >= 0.5:  # mostly seconds: the odd one out is the error
        row = int(np.flatnonzero(numeric.isna().to_numpy())[0])
        raise InputError(f"{source}: line {raw.index[row] + 2}, column ds: '{raw.iloc[row]}' is not seconds like "
                         "the rest of the column", fix="write every ds as seconds, or every ds as ISO 8601")
    text = raw.astype(str).str.strip()
    stamps = timestamp_seconds(text)  # the project's one timestamp parser (core.times)
    bad = stamps.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{source}: line {raw.index[row] + 2}, column ds: '{raw.iloc[row]}' is neither seconds "
                         "nor an ISO 8601 time", fix="write ds as seconds or like 2024-01-31T12:00:00Z")
    tz_aware = bool(text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True).any())
    seconds = stamps.to_numpy(dtype="float64")
    return seconds, True, tz_aware


def prepare_long(df: pd.DataFrame, source: str = "input", duplicates: str = "error",
                 gaps: str = "interpolate") -> tuple[SeriesSet, list[str]]:
    """Validate and regularise a long table; returns the series and the warnings about what was changed."""
    import pandas as pd  # lazily: `costplane --help` and the models need no pandas

    if duplicates not in DUPLICATE_POLICIES:
        raise InputError(f"unknown duplicates policy '{duplicates}'", fix=f"use one of {DUPLICATE_POLICIES}")
    if gaps not in GAP_POLICIES:
        raise InputError(f"unknown gaps policy '{gaps}'", fix=f"use one of {GAP_POLICIES}")
    missing = [c for c in ("unique_id", "ds", "y") if c not in df.columns]
    if missing:
        raise InputError(f"{source}: missing column(s) {', '.join(missing)} (found {', '.join(map(str, df.columns))})",
                         fix="give a CSV with header unique_id,ds,y")
    if len(df) == 0:
        raise InputError(f"{source}: no rows", fix="give at least one row per series")
    df = df.reset_index(drop=True)
    y = pd.to_numeric(df["y"], errors="coerce")
    bad = y.isna() | ~np.isfinite(y.fillna(0))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{source}: line {row + 2}, column y: '{df['y'].iloc[row]}' is not a number",
                         fix="write y as a number and fill or drop empty rows")
    negative = y < 0
    if negative.any():
        row = int(np.flatnonzero(negative.to_numpy())[0])
        raise InputError(f"{source}: line {row + 2}, column y: {y.iloc[row]:g} is negative; demand cannot be",
                         fix="remove or correct negative values")
    ds, iso, tz_aware = _parse_ds(df["ds"], source)
    ids = df["unique_id"].astype(str).to_numpy()
    table = pd.DataFrame({"unique_id": ids, "ds": ds, "y": y.to_numpy(dtype=float), "line": np.arange(len(df)) + 2})
    table = table.sort_values(["unique_id", "ds"], kind="stable")
    warnings: list[str] = []
    dup = table.duplicated(["unique_id", "ds"], keep=False)
    if dup.any():
        first = table[dup].iloc[0]
        lines = table[dup & (table.unique_id == first.unique_id) & (table.ds == first.ds)].line.tolist()
        where = f"series '{first.unique_id}' at ds {_show(first.ds, iso)} (lines {', '.join(map(str, lines))})"
        if duplicates == "error":
            raise InputError(f"{source}: duplicate timestamps, first in {where}",
                             fix="remove duplicates, or pass --duplicates sum|mean to aggregate them")
        count = int(dup.sum())
        table = table.groupby(["unique_id", "ds"], as_index=False, sort=True).agg(y=("y", duplicates),
                                                                                 line=("line", "min"))
        warnings.append(f"{count} rows with duplicate timestamps aggregated by {duplicates}, first in {where}")
    out_ids, chunks, starts, freqs = [], [], [], []
    filled: list[str] = []
    for uid, g in table.groupby("unique_id", sort=False):
        t = g.ds.to_numpy()
        v = g.y.to_numpy()
        freq, values, n_filled = _regularise(str(uid), t, v, g.line.to_numpy(), iso, gaps, source)
        if n_filled:
            filled.append(f"{uid} ({n_filled})")
        out_ids.append(str(uid))
        chunks.append(values)
        starts.append(t[0])
        freqs.append(freq)
    if filled:
        how = "linear interpolation" if gaps == "interpolate" else "zeros"
        warnings.append(f"filled missing timestamps with {how} in {len(filled)} series: "
                        f"{', '.join(filled[:5])}{' …' if len(filled) > 5 else ''}")
    indptr = np.zeros(len(chunks) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([c.size for c in chunks])
    return SeriesSet(out_ids, np.concatenate(chunks), indptr, np.array(starts), np.array(freqs), iso,
                     tz_aware), warnings


def _show(seconds: float, iso: bool) -> str:
    import pandas as pd  # lazily: `costplane --help` and the models need no pandas

    return pd.Timestamp(seconds, unit="s").isoformat() if iso else f"{seconds:g}"


def _regularise(uid: str, t: np.ndarray, v: np.ndarray, lines: np.ndarray, iso: bool, gaps: str,
                source: str) -> tuple[float, np.ndarray, int]:
    if t.size == 1:
        return float("nan"), v.astype(float), 0
    steps = np.diff(t)
    freq = float(np.median(steps))
    ratio = steps / freq
    k = np.rint(ratio)
    off = (np.abs(ratio - k) > STEP_TOLERANCE) | (k < 1)
    if off.any():
        j = int(np.flatnonzero(off)[0])
        raise InputError(f"{source}: line {lines[j + 1]}: series '{uid}' is irregular at ds {_show(t[j + 1], iso)}: "
                         f"step {steps[j]:g} s is not a multiple of its frequency {freq:g} s",
                         fix="resample the series to one regular frequency")
    if (k == 1).all():
        return freq, v.astype(float), 0
    if gaps == "error":
        j = int(np.flatnonzero(k > 1)[0])
        raise InputError(f"{source}: series '{uid}' has a gap after ds {_show(t[j], iso)}: "
                         f"{int(k[j]) - 1} missing step(s) of {freq:g} s",
                         fix="fill the gap, or pass --gaps interpolate|zero")
    pos = np.concatenate([[0], np.cumsum(k)]).astype(np.int64)
    grid = np.arange(pos[-1] + 1)
    if gaps == "zero":
        out = np.zeros(grid.size)
        out[pos] = v
    else:
        out = np.interp(grid, pos, v)
    return freq, out, int(grid.size - pos.size)
