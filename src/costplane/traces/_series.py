"""The DemandSeries value and the two pure ways to build one: binning arrivals, resampling intervals."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from costplane.core.errors import InputError

# Replay resolution: 1 s resolves cold starts, queue budgets and the 6 s Knative panic window exactly,
# and a week is only 604,800 steps (4.8 MB of float64).
DEFAULT_STEP_S = 1.0


@dataclass(frozen=True)
class DemandSeries:
    """Demand on a regular grid: `counts[i]` units arrived in [start_s + i*step_s, start_s + (i+1)*step_s).

    `unit` names the demand unit ("requests" or "tokens"); rates are `counts / step_s` units per second.
    """

    start_s: float
    step_s: float
    counts: np.ndarray
    unit: str = "requests"
    source: str = ""
    warnings: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.step_s > 0:
            raise InputError(f"a demand series needs a positive step, got {self.step_s!r}", fix="pass --step > 0")
        if self.counts.ndim != 1 or self.counts.size == 0:
            raise InputError("the demand series is empty", fix="pass a trace with at least one row")

    def __len__(self) -> int:
        return int(self.counts.size)

    @property
    def duration_s(self) -> float:
        return self.counts.size * self.step_s

    @property
    def rate(self) -> np.ndarray:
        """Demand units per second in each step."""
        return self.counts / self.step_s

    @property
    def total(self) -> float:
        return float(self.counts.sum())

    def summary(self) -> dict[str, float | str | int]:
        rate = self.rate
        return {
            "source": self.source,
            "unit": self.unit,
            "start_s": self.start_s,
            "step_s": self.step_s,
            "steps": len(self),
            "duration_s": self.duration_s,
            "total_units": self.total,
            "mean_rate_per_s": float(rate.mean()),
            "peak_rate_per_s": float(rate.max()),
        }

    def tiled(self, times: int) -> DemandSeries:
        """The series repeated `times` times back to back (benchmarks build long traces this way)."""
        return DemandSeries(self.start_s, self.step_s, np.tile(self.counts, times), self.unit,
                            f"{self.source} tiled x{times}", self.warnings)


def bin_arrivals(times_s: np.ndarray, weights: np.ndarray | None, step_s: float, *,
                 unit: str = "requests", source: str = "") -> DemandSeries:
    """Arrivals (any order) summed per step from the first arrival; steps with no arrival count zero."""
    times_s = np.asarray(times_s, dtype="float64")
    if times_s.size == 0:
        raise InputError(f"{source or 'the trace'} has no requests", fix="pass a trace with at least one request")
    if not np.isfinite(times_s).all():
        raise InputError(f"{source}: a timestamp is not a number", fix="check the timestamp column")
    start = float(times_s.min())
    idx = np.floor((times_s - start) / step_s).astype(np.int64)
    counts = np.bincount(idx, weights=weights, minlength=int(idx.max()) + 1).astype("float64")
    return DemandSeries(start, step_s, counts, unit, source)


def series_from_intervals(times_s: np.ndarray, counts: np.ndarray, step_s: float | None, *,
                          source: str = "") -> DemandSeries:
    """Resample `timestamp,count` rows onto a regular grid, spreading each row evenly over its interval.

    Row i covers [t_i, t_{i+1}); the last row covers one median interval. The grid count of a step is
    D(end) - D(start) for the piecewise-linear cumulative demand D, so totals are preserved exactly.
    Unsorted rows are sorted (warning); rows with the same timestamp are summed (warning).
    `step_s=None` keeps the series' own median interval.
    """
    warnings: list[str] = []
    times_s = np.asarray(times_s, dtype="float64")
    counts = np.asarray(counts, dtype="float64")
    if times_s.size == 0:
        raise InputError(f"{source} has no rows", fix="pass a series with at least one `timestamp,count` row")
    bad = np.flatnonzero(~np.isfinite(counts) | ~np.isfinite(times_s))
    if bad.size:
        raise InputError(f"{source}: row {int(bad[0]) + 2} has a missing or non-numeric value",
                         fix="every row needs a timestamp and a number")
    neg = np.flatnonzero(counts < 0)
    if neg.size:
        raise InputError(f"{source}: row {int(neg[0]) + 2} has a negative count {counts[neg[0]]:g}",
                         fix="counts are demand units that arrived, so they must be >= 0")
    if np.any(np.diff(times_s) < 0):
        warnings.append(f"{source}: rows were not in time order; sorted them")
        order = np.argsort(times_s, kind="stable")
        times_s, counts = times_s[order], counts[order]
    uniq, inverse = np.unique(times_s, return_inverse=True)
    if uniq.size < times_s.size:
        warnings.append(f"{source}: {times_s.size - uniq.size} rows repeat a timestamp; their counts were summed")
        counts = np.bincount(inverse, weights=counts)
        times_s = uniq
    gaps = np.diff(times_s)
    median_gap = float(np.median(gaps)) if gaps.size else (step_s or DEFAULT_STEP_S)
    step = float(step_s) if step_s else median_gap
    edges = np.append(times_s, times_s[-1] + median_gap)
    cumulative = np.concatenate([[0.0], np.cumsum(counts)])
    n_steps = max(1, int(np.ceil((edges[-1] - edges[0]) / step - 1e-9)))
    grid = edges[0] + step * np.arange(n_steps + 1)
    grid_cum = np.interp(grid, edges, cumulative)
    return DemandSeries(float(edges[0]), step, np.diff(grid_cum), "units", source, tuple(warnings))
