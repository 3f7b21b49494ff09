"""Additive exponential smoothing (ETS with additive error, trend none/additive/damped, season none/additive).

The model (Hyndman et al., "Forecasting with Exponential Smoothing", 2008, ETS(A,Ad,A)):

    ŷ_t = l_{t-1} + φ b_{t-1} + s_{t-S}           e_t = y_t - ŷ_t
    l_t = l_{t-1} + φ b_{t-1} + α e_t
    b_t = φ b_{t-1} + β e_t                       (no trend: φ = β = 0; additive: φ = 1)
    s_t = s_{t-S} + γ e_t                         (no season: s ≡ 0, γ = 0)

    mean_{n+j} = l_n + (φ + … + φ^j) b_n + s_{n+j-S⌈j/S⌉}
    var_{n+j}  = σ² (1 + Σ_{i<j} c_i²),  c_i = α + β (φ + … + φ^i) + γ·[i mod S = 0]

Fitting minimises the in-sample one-step SSE Σ e_t² with the initial states set from the first seasons
(classical decomposition). The search is a grid, then a local multiplicative grid around each series' best
point (one round of 5 steps per free parameter, or two rounds of 3 when α, β and γ are all free), all at once: the recursion runs once over time with arrays of shape
(series, grid points), so thousands of series share one Python loop (no numba, no per-series optimiser).
The form (trend none/A/Ad, season yes/no) is chosen per series by AIC = n log(SSE/n) + 2k, where k counts
the smoothing parameters and the initial states (S-1 for the season), so a season must earn its S states.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from costplane.forecast._types import BaseForecaster

ALPHAS = (0.03, 0.1, 0.25, 0.5, 0.75, 0.97)
# (φ, β as a fraction of α); φ = 0 is "no trend". Ordered simple first so ties pick the simpler form.
TRENDS = ((0.0, 0.0), (1.0, 0.05), (1.0, 0.3), (0.95, 0.05), (0.95, 0.3))
GAMMA_FRACS = (0.0, 0.1, 0.4)  # γ as a fraction of (1 - α)
REFINE_FACTORS = (2.0, 1.4)
# With at most two free parameters, one round of ×{1/2, 1/1.4, 1, 1.4, 2} (≤ 25 points) replaces the two
# rounds: one pass of the Python time loop instead of two, which is what small batches pay for.
ONE_ROUND_MULTS = (0.5, 1 / 1.4, 1.0, 1.4, 2.0)
# Seasonal buffer budget per chunk (elements of float64): keeps memory near 128 MB whatever S is.
MAX_BUFFER_ELEMS = 16_000_000
MAX_CHUNK_SERIES = 2048


@dataclass(frozen=True)
class EtsState:
    method: str  # e.g. "ETS(A,Ad,A)"
    alpha: float
    beta: float
    gamma: float
    phi: float
    level: float
    trend: float
    season_ahead: np.ndarray  # seasonal state for times n+1 … n+S (length S; [0.0] when no season)
    sigma: float
    sse: float
    aic: float
    n: int


def _method(phi: float, seasonal: bool) -> str:
    trend = "N" if phi == 0 else ("A" if phi == 1 else "Ad")
    return f"ETS(A,{trend},{'A' if seasonal else 'N'})"


def _initial_states(y: np.ndarray, season: int) -> tuple[float, float, float, float, np.ndarray]:
    """(l0, b0) without season, (l0, b0, s0) with season, from the first observations (decomposition)."""
    n = y.size
    k = max(1, min(n // 2, 10))
    if n >= 2 * k and n > 1:
        b0 = (y[k:2 * k].mean() - y[:k].mean()) / k
    else:
        b0 = 0.0
    l0 = y[:k].mean() - b0 * (k + 1) / 2
    if season == 1 or n < 2 * season:
        return l0, b0, l0, b0, np.zeros(season)
    cycles = min(n // season, 3)
    blocks = y[: cycles * season].reshape(cycles, season)
    means = blocks.mean(axis=1)
    bs = (means[-1] - means[0]) / (season * (cycles - 1)) if cycles > 1 else 0.0
    ls = means[0] - bs * (season + 1) / 2
    within = np.arange(season) - (season - 1) / 2
    s0 = (blocks - means[:, None] - bs * within[None, :]).mean(axis=0)
    return l0, b0, ls, bs, s0 - s0.mean()


def ets_sse(Y: np.ndarray, active: np.ndarray, season: int, alpha: np.ndarray, beta: np.ndarray,
            gamma: np.ndarray, phi: np.ndarray, l0: np.ndarray, b0: np.ndarray, s0: np.ndarray,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run the recursion for B series × G parameter points at once; returns (sse, l, b, buf).

    Y (B, T) left-aligned and sorted by length descending; active[t] = how many series still have data at t.
    Parameters and l0/b0 are (B, G); s0 is (S, B, G). buf[j] ends as the seasonal state of times ≡ j (mod S).
    """
    l, b, buf = l0.copy(), b0.copy(), s0.copy()
    sse = np.zeros_like(l)
    seasonal = season > 1 and bool(np.any(gamma != 0) or np.any(s0 != 0))
    trend = bool(np.any(phi != 0))
    YT = np.ascontiguousarray(Y.T)
    e, tmp, pb = np.empty_like(l), np.empty_like(l), np.empty_like(l)
    last_k = -1
    # In-place ufuncs with out=: the loop runs T times over small arrays, so allocation and call
    # overhead, not arithmetic, is what costs; views are re-cut only when a series ends.
    for t in range(Y.shape[1]):
        k = int(active[t])
        if k == 0:
            break
        if k != last_k:
            lk, bk, ek, tk, pbk, ssek = l[:k], b[:k], e[:k], tmp[:k], pb[:k], sse[:k]
            ak, bek, gk, phk, bufk = alpha[:k], beta[:k], gamma[:k], phi[:k], buf[:, :k]
            last_k = k
        yk = YT[t, :k, None]
        if trend:
            np.multiply(phk, bk, out=pbk)
            lk += pbk  # l now holds the one-step state l + φb
        np.subtract(yk, lk, out=ek)
        if seasonal:
            sk = bufk[t % season]
            ek -= sk
        np.multiply(ek, ek, out=tk)
        ssek += tk
        np.multiply(ak, ek, out=tk)
        lk += tk
        if trend:
            np.multiply(bek, ek, out=tk)
            np.add(pbk, tk, out=bk)
        if seasonal:
            np.multiply(gk, ek, out=tk)
            sk += tk
    return sse, l, b, buf


def _aic(sse: np.ndarray, n: np.ndarray, k: np.ndarray) -> np.ndarray:
    n = n[:, None].astype(float)
    floor = 1e-12 * n  # a perfect fit has SSE 0: keep log finite, ties go to the simpler form
    return n * np.log((sse + floor) / n) + 2 * k


def _fit_group(ys: Sequence[np.ndarray], season: int) -> list[EtsState]:
    """Fit series that all use the same season (1 = none) in one padded batch."""
    order = np.argsort([-y.size for y in ys], kind="stable")
    ys_sorted = [ys[i] for i in order]
    B, T = len(ys_sorted), ys_sorted[0].size
    lengths = np.array([y.size for y in ys_sorted])
    Y = np.zeros((B, T))
    for i, y in enumerate(ys_sorted):
        Y[i, : y.size] = y
    active = (lengths[None, :] > np.arange(T)[:, None]).sum(axis=1)
    inits = [_initial_states(y, season) for y in ys_sorted]
    l0n, b0n, l0s, b0s = (np.array([x[i] for x in inits]) for i in range(4))
    s0 = np.stack([x[4] for x in inits], axis=1) if season > 1 else np.zeros((1, B))  # (S, B)

    # Stage 1: the coarse grid, the same for every series.
    seasons = (False,) + ((True,) * len(GAMMA_FRACS) if season > 1 else ())
    gfr = (0.0,) + (GAMMA_FRACS if season > 1 else ())
    grid = np.array([(a, phi, bf * a, g * (1 - a), float(s)) for s, g in zip(seasons, gfr)
                     for phi, bf in TRENDS for a in ALPHAS])
    alpha, phi, beta, gamma, has_s = (np.broadcast_to(grid[:, i], (B, grid.shape[0])) for i in range(5))
    sse, *_ = _run(Y, active, season, alpha, beta, gamma, phi, has_s, l0n, b0n, l0s, b0s, s0)
    k = 2 + (phi != 0) * 2 + ((phi != 0) & (phi != 1)) + has_s * season
    best = np.argmin(_aic(sse, lengths, k), axis=1)
    pick = np.arange(B)
    a, p, bt, g, s = (x[pick, best] for x in (alpha, phi, beta, gamma, has_s))

    # Stages 2-3: a local multiplicative grid around each series' best point, within its chosen form, on each
    # parameter some series of the batch has free. One recursion per round for the whole batch.
    best_sse = np.zeros(B)
    any_trend, any_season = bool((p != 0).any()), bool((s > 0).any())
    rounds = [ONE_ROUND_MULTS] if not (any_trend and any_season) else [(1 / f, 1.0, f) for f in REFINE_FACTORS]
    for mults in rounds:
        alpha, beta, gamma = _local_grid(a, bt, g, np.array(mults), any_trend, any_season)
        G = alpha.shape[1]
        phi = np.repeat(p[:, None], G, axis=1)
        hs = np.repeat(s[:, None], G, axis=1)
        sse, l, b, buf = _run(Y, active, season, alpha, beta, gamma, phi, hs, l0n, b0n, l0s, b0s, s0)
        j = np.argmin(sse, axis=1)
        a, bt, g = alpha[pick, j], beta[pick, j], gamma[pick, j]
        best_sse = sse[pick, j]
    bt, g = np.where(p != 0, bt, 0.0), np.where(s > 0, g, 0.0)  # as _run applied them
    l_fin, b_fin = l[pick, j], b[pick, j]
    buf_fin = buf[:, pick, j]

    states: list[EtsState | None] = [None] * B
    for i in range(B):
        n = int(lengths[i])
        seasonal = bool(s[i]) and season > 1
        ahead = buf_fin[(n + np.arange(season)) % season, i] if seasonal else np.zeros(1)
        npar = 2 + (2 if p[i] != 0 else 0) + (1 if p[i] not in (0.0, 1.0) else 0) + (season if seasonal else 0)
        sse_i = float(best_sse[i])
        sigma = float(np.sqrt(sse_i / max(n - min(npar, 5), 1)))
        aic = float(_aic(np.array([[sse_i]]), np.array([n]), np.array([[npar]]))[0, 0])
        states[int(order[i])] = EtsState(_method(float(p[i]), seasonal), float(a[i]), float(bt[i]),
                                         float(g[i]) if seasonal else 0.0, float(p[i]), float(l_fin[i]),
                                         float(b_fin[i]) if p[i] != 0 else 0.0, ahead, sigma, sse_i, aic, n)
    return states  # type: ignore[return-value]


def _local_grid(a: np.ndarray, bt: np.ndarray, g: np.ndarray, mult: np.ndarray, has_trend: bool,
                has_season: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """α, β, γ (rows, G) around each row's best point: × each multiplier on each free parameter."""
    m = mult.size
    A = np.clip(a[:, None] * mult, 0.001, 0.999)
    axes = [A]
    if has_trend:
        bf = np.where(a > 0, bt / a, 0.0)
        axes.append(np.clip(bf[:, None] * mult, 0.001, 1.0))
    if has_season:
        gf = np.where(a < 1, g / (1 - a), 0.0)
        start = np.linspace(0.0, 0.1, m)  # γ = 0 was best: look just above it
        axes.append(np.where(gf[:, None] > 0, np.clip(gf[:, None] * mult, 0.0, 1.0), start))
    mesh = np.stack(np.meshgrid(*[np.arange(m)] * len(axes), indexing="ij"), -1).reshape(-1, len(axes))
    rows = np.arange(a.size)[:, None]
    alpha = axes[0][rows, mesh[:, 0]]
    beta = axes[1][rows, mesh[:, 1]] * alpha if has_trend else np.zeros_like(alpha)
    gamma = axes[-1][rows, mesh[:, -1]] * (1 - alpha) if has_season else np.zeros_like(alpha)
    return alpha, beta, gamma


def _run(Y, active, season, alpha, beta, gamma, phi, has_s, l0n, b0n, l0s, b0s, s0):
    """Pick each grid point's initial states (seasonal or not), then run the recursion."""
    hs = has_s > 0
    gamma = np.where(hs, gamma, 0.0)  # a form without season keeps s ≡ 0
    beta = np.where(phi != 0, beta, 0.0)  # a form without trend keeps b out of the forecast
    l0 = np.where(hs, l0s[:, None], l0n[:, None])
    b0 = np.where(hs, b0s[:, None], b0n[:, None])
    S0 = s0[:, :, None] * hs[None, :, :] if season > 1 else np.zeros((1,) + alpha.shape)
    return ets_sse(Y, active, season, np.ascontiguousarray(alpha), np.ascontiguousarray(beta),
                   np.ascontiguousarray(gamma), np.ascontiguousarray(phi), l0, b0, S0)


def fit_ets_batch(ys: Sequence[np.ndarray], season: int) -> list[EtsState]:
    """Fit many series with the same nominal season; those shorter than two seasons drop the season."""
    out: list[EtsState | None] = [None] * len(ys)
    groups: dict[int, list[int]] = {}
    for i, y in enumerate(ys):
        groups.setdefault(season if season > 1 and y.size >= 2 * season else 1, []).append(i)
    for s, idx in groups.items():
        grid_points = 1 + len(GAMMA_FRACS) if s > 1 else 1
        per_series = s * grid_points * len(ALPHAS) * len(TRENDS)
        chunk = max(1, min(MAX_CHUNK_SERIES, MAX_BUFFER_ELEMS // per_series))
        # Similar lengths in one chunk waste fewer padded steps.
        idx = sorted(idx, key=lambda i: -ys[i].size)
        for start in range(0, len(idx), chunk):
            part = idx[start:start + chunk]
            for i, st in zip(part, _fit_group([ys[i] for i in part], s)):
                out[i] = st
    return out  # type: ignore[return-value]


def _mean(level, trend, phisum: np.ndarray, season_ahead: np.ndarray) -> np.ndarray:
    """mean_{n+j} = l_n + (φ + … + φ^j) b_n + s_{n+j-S⌈j/S⌉}, for one series or rows of many (broadcasting)."""
    return level + phisum * trend + season_ahead


def ets_predict(state: EtsState, h: int) -> tuple[np.ndarray, np.ndarray]:
    j = np.arange(1, h + 1)
    phisum = np.cumsum(state.phi ** j)  # φ = 1: j, φ = 0: 0, exactly
    season = state.season_ahead.size
    mean = _mean(state.level, state.trend, phisum, state.season_ahead[(j - 1) % season])
    c = state.alpha + state.beta * phisum[:-1] + state.gamma * ((j[:-1] % season) == 0) * (season > 1)
    var = np.concatenate([[1.0], 1.0 + np.cumsum(c * c)])
    return mean, state.sigma * np.sqrt(var)


def ets_means(states: Sequence[EtsState], h: int) -> np.ndarray:
    """(series, h) point forecasts of many fits at once, by the same `_mean` as `ets_predict`."""
    j = np.arange(1, h + 1)
    phisum = np.cumsum(np.array([st.phi for st in states])[:, None] ** j, axis=1)
    out = np.empty((len(states), h))
    by_size: dict[int, list[int]] = {}
    for i, st in enumerate(states):
        by_size.setdefault(st.season_ahead.size, []).append(i)
    for size, idx in by_size.items():
        out[idx] = _mean(np.array([states[i].level for i in idx])[:, None], np.array([states[i].trend for i in idx])[:, None],
                         phisum[idx], np.stack([states[i].season_ahead for i in idx])[:, (j - 1) % size])
    return out


class ETS(BaseForecaster):
    """Additive ETS (Holt-Winters) with the form and smoothing parameters fitted per series."""

    alias = "ets"

    def _fit_batch(self, ys: Sequence[np.ndarray]) -> list[EtsState]:
        return fit_ets_batch(ys, self.season)

    def _predict_state(self, state: EtsState, h: int) -> tuple[np.ndarray, np.ndarray]:
        return ets_predict(state, h)

    def _state_model(self, state: EtsState) -> str:
        return f"ets:{state.method}"


class EtsMemo:
    """ETS fits by (season, history): `auto` in a backtest refits the same prefixes (its validation windows at
    one cutoff are the training histories of the cutoffs before). Owned by one caller and passed down, never
    global; a fit depends only on its history, so a memo hit returns what a refit would.
    """

    def __init__(self) -> None:
        self._fits: dict[tuple[int, int, bytes], EtsState] = {}

    def fit(self, ys: Sequence[np.ndarray], season: int) -> list[EtsState]:
        keys = [(season, y.size, hashlib.blake2b(np.ascontiguousarray(y, dtype=float).tobytes(),
                                                 digest_size=16).digest()) for y in ys]
        missing: dict[tuple[int, int, bytes], int] = {}  # first series of each history not fitted yet
        for i, k in enumerate(keys):
            if k not in self._fits:
                missing.setdefault(k, i)
        for k, state in zip(missing, fit_ets_batch([ys[i] for i in missing.values()], season)):
            self._fits[k] = state
        return [self._fits[k] for k in keys]

    def __len__(self) -> int:
        return len(self._fits)
