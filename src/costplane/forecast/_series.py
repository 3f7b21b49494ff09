"""From a long-format table (`unique_id, ds, y`, the statsforecast/Nixtla layout) to regular series.

Rules, each explicit (warnings are returned, never printed here):
- `ds` is seconds (any origin) or ISO 8601; naive times are UTC. Rows may be in any order: sorted per series.
- `y` must be a finite number >= 0 (demand): otherwise an error names the file line.
- Duplicate (unique_id, ds): an error by default; `duplicates="sum"` or `"mean"` aggregates with a warning.
- `prepare_columns` takes the three columns as plain sequences (the CLI reads its CSV with the standard
  library, so a backtest imports no pandas); `prepare_long` takes a DataFrame. Timestamps are read by the
  project's one parser, `core.times.parse_timestamp`.
- The frequency of each series is the median step. A step that is not a whole multiple of it (±10 %) is an
  error naming the series and timestamp. A missing step is a gap: `gaps="interpolate"` (default) fills it
  linearly, `"zero"` fills 0 (counts of events where no event came), `"error"` refuses; fills are warned.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np

from costplane.core.errors import InputError
from costplane.core.times import parse_timestamp

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
        if not self.iso:
            return [float(s) if not float(s).is_integer() else int(s) for s in seconds]
        return [_iso(float(s), self.tz_aware) for s in seconds]


_TZ_SUFFIX = re.compile(r"(?:Z|[+-]\d\d:?\d\d)$")


def _iso(seconds: float, tz_aware: bool) -> str:
    stamp = datetime.fromtimestamp(round(seconds, 6), tz=timezone.utc)
    return (stamp if tz_aware else stamp.replace(tzinfo=None)).isoformat()


def _number(value: Any) -> float | None:
    """A finite float, or None (empty, text, NaN or infinite)."""
    try:
        x = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _all_numbers(raw: Sequence[Any]) -> np.ndarray | None:
    """The column as floats in one numpy pass when every value is a finite number, else None (then the
    per-value path names the first bad row). Per value, 118 000 rows cost 0.09 s; at once, 0.01 s."""
    try:
        out = np.asarray(raw, dtype=float)
    except (TypeError, ValueError):
        return None
    return out if out.ndim == 1 and np.isfinite(out).all() else None


def _parse_ds(raw: Sequence[Any], source: str) -> tuple[np.ndarray, bool, bool]:
    fast = _all_numbers(raw)
    if fast is not None:
        return fast, False, False
    numbers = [_number(v) for v in raw]
    bad = [i for i, x in enumerate(numbers) if x is None]
    if not bad:
        return np.array(numbers, dtype=float), False, False
    if len(bad) <= len(raw) / 2:  # mostly seconds: the odd one out is the error
        row = bad[0]
        raise InputError(f"{source}: line {row + 2}, column ds: '{raw[row]}' is not seconds like "
                         "the rest of the column", fix="write every ds as seconds, or every ds as ISO 8601")
    text = [str(v).strip() for v in raw]
    parsed: dict[str, float | None] = {}
    out = np.empty(len(text))
    for i, t in enumerate(text):
        if t not in parsed:
            try:
                parsed[t] = parse_timestamp(t) if numbers[i] is None else None
            except ValueError:
                parsed[t] = None
        value = parsed[t]
        if value is None:
            raise InputError(f"{source}: line {i + 2}, column ds: '{raw[i]}' is neither seconds "
                             "nor an ISO 8601 time", fix="write ds as seconds or like 2024-01-31T12:00:00Z")
        out[i] = value
    tz_aware = any(_TZ_SUFFIX.search(t) for t in parsed)
    return out, True, tz_aware


def _parse_y(y: Sequence[Any], source: str) -> np.ndarray:
    """The y column value by value; names the first that is not a number or is negative (row i is line i + 2)."""
    values = np.empty(len(y))
    for i, v in enumerate(y):
        x = _number(v)
        if x is None:
            raise InputError(f"{source}: line {i + 2}, column y: '{'' if v is None else v}' is not a number",
                             fix="write y as a number and fill or drop empty rows")
        if x < 0:
            raise InputError(f"{source}: line {i + 2}, column y: {x:g} is negative; demand cannot be",
                             fix="remove or correct negative values")
        values[i] = x
    return values


def prepare_long(df: pd.DataFrame, source: str = "input", duplicates: str = "error",
                 gaps: str = "interpolate") -> tuple[SeriesSet, list[str]]:
    """Validate and regularise a long table; returns the series and the warnings about what was changed."""
    missing = [c for c in ("unique_id", "ds", "y") if c not in df.columns]
    if missing:
        raise InputError(f"{source}: missing column(s) {', '.join(missing)} (found {', '.join(map(str, df.columns))})",
                         fix="give a CSV with header unique_id,ds,y")
    return prepare_columns(df["unique_id"].tolist(), df["ds"].tolist(), df["y"].tolist(), source, duplicates, gaps)


def prepare_columns(ids: Sequence[Any], ds: Sequence[Any], y: Sequence[Any], source: str = "input",
                    duplicates: str = "error", gaps: str = "interpolate") -> tuple[SeriesSet, list[str]]:
    """`prepare_long` on the three columns as sequences (row i is line i + 2 of a CSV with a header)."""
    if duplicates not in DUPLICATE_POLICIES:
        raise InputError(f"unknown duplicates policy '{duplicates}'", fix=f"use one of {DUPLICATE_POLICIES}")
    if gaps not in GAP_POLICIES:
        raise InputError(f"unknown gaps policy '{gaps}'", fix=f"use one of {GAP_POLICIES}")
    if len(y) == 0:
        raise InputError(f"{source}: no rows", fix="give at least one row per series")
    values = _all_numbers(y)
    if values is None or (values < 0).any():  # the slow path names the first bad row
        values = _parse_y(y, source)
    t, iso, tz_aware = _parse_ds(list(ds), source)
    uid = np.array([str(u) for u in ids])
    order = np.lexsort((t, uid))  # by series, then time (stable)
    uid, t, values, lines = uid[order], t[order], values[order], order + 2
    warnings: list[str] = []
    same = (uid[1:] == uid[:-1]) & (t[1:] == t[:-1])
    if same.any():
        j = int(np.flatnonzero(same)[0])
        k = j + 1
        while k + 1 < t.size and same[k]:
            k += 1
        where = (f"series '{uid[j]}' at ds {_show(t[j], iso)} "
                 f"(lines {', '.join(str(x) for x in sorted(lines[j:k + 1]))})")
        if duplicates == "error":
            raise InputError(f"{source}: duplicate timestamps, first in {where}",
                             fix="remove duplicates, or pass --duplicates sum|mean to aggregate them")
        count = int(np.count_nonzero(np.concatenate([same, [False]]) | np.concatenate([[False], same])))
        starts = np.flatnonzero(np.concatenate([[True], ~same]))
        sizes = np.diff(np.append(starts, t.size))
        sums = np.add.reduceat(values, starts)
        values = sums if duplicates == "sum" else sums / sizes
        lines = np.minimum.reduceat(lines, starts)
        uid, t = uid[starts], t[starts]
        warnings.append(f"{count} rows with duplicate timestamps aggregated by {duplicates}, first in {where}")
    bounds = np.flatnonzero(np.concatenate([[True], uid[1:] != uid[:-1], [True]]))
    out_ids, chunks, starts_s, freqs = [], [], [], []
    filled: list[str] = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        name = str(uid[a])
        freq, regular, n_filled = _regularise(name, t[a:b], values[a:b], lines[a:b], iso, gaps, source)
        if n_filled:
            filled.append(f"{name} ({n_filled})")
        out_ids.append(name)
        chunks.append(regular)
        starts_s.append(t[a])
        freqs.append(freq)
    if filled:
        how = "linear interpolation" if gaps == "interpolate" else "zeros"
        warnings.append(f"filled missing timestamps with {how} in {len(filled)} series: "
                        f"{', '.join(filled[:5])}{' …' if len(filled) > 5 else ''}")
    indptr = np.zeros(len(chunks) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([c.size for c in chunks])
    return SeriesSet(out_ids, np.concatenate(chunks), indptr, np.array(starts_s), np.array(freqs), iso,
                     tz_aware), warnings


def _show(seconds: float, iso: bool) -> str:
    return _iso(seconds, False) if iso else f"{seconds:g}"


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
