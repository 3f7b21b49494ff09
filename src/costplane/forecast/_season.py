"""Season detection: which candidate period (minute, hour, day, week, year-of-months) the history repeats at.

A candidate S qualifies when the history holds two of it, the detrended autocorrelation at lag S is at least
`MIN_ACF` and it is a peak, higher than at lag S/2 by `MIN_PEAK_GAP` (a random walk's slowly decaying
autocorrelation is high at every lag and must not pass). The qualifying S with the highest autocorrelation
wins; none qualifying means S = 1. A step of exactly 1 (seconds, or a bare row index) also tries the
generic lags 7, 12, 24, 60, 168 and 1440.
"""

from __future__ import annotations

import numpy as np

# Calendar periods in seconds, turned into lags by the series' sampling interval.
CANDIDATE_PERIODS_S = (60.0, 3600.0, 86_400.0, 604_800.0, 31_557_600.0)
# Lags tried when the sampling interval is unknown (hourly: 24, 168; minutely: 60, 1440; daily: 7; monthly: 12).
CANDIDATE_LAGS = (7, 12, 24, 60, 168, 1440)
MIN_ACF = 0.3
MIN_PEAK_GAP = 0.1
PERIOD_TOLERANCE = 0.02  # |period/freq - S| / S: 86 400 s at 57 s steps (1515.8) is not a daily lag


def candidate_lags(freq_s: float | None) -> list[int]:
    if not freq_s or not np.isfinite(freq_s) or freq_s <= 0:
        return list(CANDIDATE_LAGS)
    # A step of exactly 1 is as often a row index (ds = 1, 2, 3 …) as one second: try both sets of lags.
    lags = list(CANDIDATE_LAGS) if freq_s == 1.0 else []
    for period in CANDIDATE_PERIODS_S:
        ratio = period / freq_s
        s = round(ratio)
        if s >= 2 and abs(ratio - s) <= PERIOD_TOLERANCE * s:
            lags.append(s)
    if 27 * 86_400 <= freq_s <= 32 * 86_400:  # monthly data: yearly season of 12
        lags.append(12)
    return sorted(set(lags))


def autocorrelation(y: np.ndarray, lag: int) -> float:
    """Autocorrelation at `lag` of y with its least-squares line removed (0 for a constant series)."""
    n = y.size
    if lag >= n - 1:
        return 0.0
    t = np.arange(n, dtype=float)
    slope, intercept = np.polyfit(t, y, 1) if n > 2 else (0.0, float(y.mean()))
    r = y - (slope * t + intercept)
    denom = float(r @ r)
    if denom <= 1e-12 * max(1.0, float(y @ y)):
        return 0.0
    return float(r[lag:] @ r[:-lag]) / denom


def detect_season(y: np.ndarray, freq_s: float | None = None) -> int:
    y = np.asarray(y, dtype=float)
    best, best_acf = 1, -np.inf
    for s in candidate_lags(freq_s):
        if y.size < 2 * s:
            continue
        acf = autocorrelation(y, s)
        half = autocorrelation(y, s // 2) if s >= 4 else -1.0
        if acf >= MIN_ACF and acf - half >= MIN_PEAK_GAP and acf > best_acf:
            best, best_acf = s, acf
    return best


def secondary_season(season: int, freq_s: float | None, n: int) -> int | None:
    """Weekly on top of a daily season, when the history holds two weeks; otherwise None."""
    if season > 1 and freq_s and abs(season * freq_s - 86_400.0) < 1e-6 * 86_400 and n >= 2 * 7 * season:
        return 7 * season
    return None
