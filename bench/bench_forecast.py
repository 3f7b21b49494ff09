"""Benchmark: costplane.forecast vs statsforecast AutoETS on series derived from the real traces.

Run:  .venv/bin/python bench/bench_forecast.py [--tile 5000]
Needs statsforecast in the venv (a bench-only tool, not a costplane dependency).

Series: per-minute and per-10 s request counts of the Azure LLM conv/code traces and Mooncake, and the 72
Alibaba GenAI per-container GPU-utilisation series (~23 h at 57 s; gaps filled linearly). Each is backtested
with the same rolling origin (h, n_windows, step = h) by our models and by AutoETS with the same season;
MASE (our definition, seasonal-naive scale on the history before the first cutoff) is compared on the
series both can score. Fit time is per series on the full histories; throughput tiles the real series.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT / ".." / "shared" / "data" / "traces"
sys.path.insert(0, str(ROOT / "src"))

from costplane.forecast import backtest, cutoffs, detect_season, fit_many, prepare_long, to_batch  # noqa: E402
from costplane.forecast._naive import seasonal_naive_mae  # noqa: E402


def request_series() -> list[tuple[str, np.ndarray, float]]:
    out = []
    stamps = {}
    for name in ("conv", "code"):
        raw = pd.read_csv(TRACES / "azure-llm-2023" / f"AzureLLMInferenceTrace_{name}.csv", usecols=["TIMESTAMP"])
        stamps[f"azure-{name}"] = (pd.to_datetime(raw.TIMESTAMP).astype("int64") / 1e9).to_numpy()
    stamps["mooncake"] = pd.read_json(TRACES / "mooncake-2025" / "conversation_trace.jsonl", lines=True).timestamp.to_numpy() / 1e3
    for name, t in stamps.items():
        for width in (60.0, 10.0):
            bins = ((t - t.min()) // width).astype(int)
            out.append((f"{name}/{int(width)}s", np.bincount(bins).astype(float), width))
    return out


def alibaba_series() -> list[tuple[str, np.ndarray, float]]:
    df = pd.read_csv(TRACES / "alibaba-genai-2026-usage" / "pod_gpu_duty_cycle_anon.csv")
    df = df.rename(columns={"container_ip": "unique_id", "timestamp_anon": "ds", "value": "y"})
    ss, _ = prepare_long(df, "alibaba", "mean", "interpolate")
    return [(f"alibaba/{ss.ids[i][:8]}", ss.series(i), float(ss.freq_s[i])) for i in range(len(ss))]


def horizon_for(n: int, freq: float) -> int:
    return 30 if freq <= 10 else (60 if n > 600 else 5)


def autoets_backtest(y: np.ndarray, h: int, windows: int, season: int) -> tuple[np.ndarray, float]:
    from statsforecast.models import AutoETS
    preds, secs = [], 0.0
    for c in cutoffs(y.size, h, windows):
        t0 = time.perf_counter()
        preds.append(AutoETS(season_length=season).forecast(y=y[:c], h=h)["mean"])
        secs += time.perf_counter() - t0
    return np.concatenate(preds), secs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tile", type=int, default=5000, help="series in the throughput test")
    ap.add_argument("--windows", type=int, default=3)
    args = ap.parse_args()
    import statsforecast
    from statsforecast.models import AutoETS
    AutoETS(season_length=1).fit(np.arange(30.0))  # numba compile outside the timings

    series = request_series() + alibaba_series()
    rows = []
    for name, y, freq in series:
        h = horizon_for(y.size, freq)
        first = cutoffs(y.size, h, args.windows)[0]
        if first < 12:
            continue
        season = detect_season(y[:first], freq)
        scale = seasonal_naive_mae(y[:first], season)
        if not scale > 0:
            continue
        actual = y[first:]
        row = {"series": name, "n": y.size, "h": h, "season": season}
        for model in ("ets", "auto"):
            t0 = time.perf_counter()
            r = backtest([y], h, args.windows, model, season)
            row[f"{model}_s"] = time.perf_counter() - t0
            row[f"mase_{model}"] = r.mase
        pred, secs = autoets_backtest(y, h, args.windows, season)
        row["autoets_s"] = secs
        row["mase_autoets"] = float(np.abs(actual - pred).mean() / scale)
        rows.append(row)
    res = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(res.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print(f"\nstatsforecast {statsforecast.__version__}; {len(res)} series scored "
          f"({(res.series.str.startswith('alibaba')).sum()} Alibaba GPU-use, the rest request counts)")
    for col in ("mase_ets", "mase_auto", "mase_autoets"):
        print(f"mean {col:<13} {res[col].mean():.4f}   median {res[col].median():.4f}")
    wins = (res.mase_ets <= res.mase_autoets + 1e-9).mean()
    print(f"ets MASE <= AutoETS MASE on {wins:.0%} of series")

    # Fit time on the full histories, same season, one series at a time for AutoETS, one batch for us.
    full = [(y, detect_season(y, f)) for _, y, f in series if y.size >= 12]
    t0 = time.perf_counter()
    for y, s in full:
        AutoETS(season_length=s).fit(y)
    t_sf = time.perf_counter() - t0
    t0 = time.perf_counter()
    for s in sorted({s for _, s in full}):
        ys = [y for y, ss in full if ss == s]
        fit_many("ets", *to_batch(ys), seasons=s)
    t_ours = time.perf_counter() - t0
    print(f"\nfit {len(full)} full series: AutoETS {t_sf:.2f} s, ours {t_ours:.3f} s -> {t_sf / t_ours:.0f}x faster")

    # Throughput: tile the real Alibaba series (≈1,400 points each) to many series.
    ali = [y for name, y, _ in series if name.startswith("alibaba") and y.size > 1000]
    tiled = [ali[i % len(ali)] * (1 + 0.01 * (i // len(ali))) for i in range(args.tile)]
    for season in (1, 60):
        t0 = time.perf_counter()
        fit_many("ets", *to_batch(tiled), seasons=season)
        dt = time.perf_counter() - t0
        print(f"throughput ets season {season:>2}: {args.tile} series x ~{int(np.mean([y.size for y in tiled]))} "
              f"points in {dt:.2f} s = {args.tile / dt * 60:,.0f} series/minute")


if __name__ == "__main__":
    main()
