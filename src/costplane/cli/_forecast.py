"""`costplane forecast backtest|predict|fit`: demand forecasting on long-format series files.

Reads CSV (`unique_id,ds,y`; also a replay demand series `timestamp,count` as one series, and the Alibaba
GPU-use layout `timestamp_anon,value,container_ip`), regularises it with `prepare_long`, and calls the pure
`costplane.forecast` functions. Too-short series are skipped with a warning that lists them (an error only when
none is left). Warnings go to stderr, so `--json` stdout always parses.
"""

from __future__ import annotations

import csv
import time
from importlib import resources
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.progress import Progress
from rich.table import Table

from costplane.cli._common import Finite, JsonOpt, console, emit_json, err_console
from costplane.core.errors import InputError
from costplane.forecast import (
    DEFAULT_MODEL,
    MODELS,
    BacktestResult,
    SeriesSet,
    backtest,
    cutoffs,
    detect_season,
    fit_many,
    prepare_columns,
    secondary_season,
    to_batch,
)

# Other layouts the reader accepts, mapped onto unique_id, ds, y.
_LAYOUTS = (
    ({"unique_id", "ds", "y"}, {}),
    ({"timestamp_anon", "value", "container_ip"}, {"container_ip": "unique_id", "timestamp_anon": "ds", "value": "y"}),
    ({"timestamp", "workload", "gpu_util_pct"}, {"workload": "unique_id", "timestamp": "ds", "gpu_util_pct": "y"}),
    ({"timestamp", "count"}, {"timestamp": "ds", "count": "y"}),
)

SeriesOpt = Annotated[Path, typer.Option("--series", help="CSV unique_id,ds,y (ds: seconds or ISO 8601).")]
HorizonOpt = Annotated[int, typer.Option("--horizon", help="Steps ahead to forecast (1..100000).", parser=Finite(1, 100_000, whole=True))]
SeasonOpt = Annotated[int | None, typer.Option("--season", help="Season length in steps (default: detected).", parser=Finite(1, 100_000, whole=True))]
ModelOpt = Annotated[str, typer.Option("--model", help=f"One of {', '.join(MODELS)} (default {DEFAULT_MODEL}).")]
LevelOpt = Annotated[list[int] | None, typer.Option("--level", help="Central interval, percent (repeatable).")]
DupOpt = Annotated[str, typer.Option("--duplicates", help="Duplicate timestamps: error, sum or mean.")]
GapOpt = Annotated[str, typer.Option("--gaps", help="Missing timestamps: interpolate, zero or error.")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Write the forecasts as CSV.")]
PlotOpt = Annotated[Path | None, typer.Option("--plot", help="Draw up to 4 series with their forecasts (PNG).")]
PLOT_SERIES = 4


def read_series_csv(path: Path, duplicates: str = "error", gaps: str = "interpolate") -> SeriesSet:
    """Read and regularise a series file; warnings about fixes made go to stderr.

    The standard library's csv reader, not pandas: a backtest's start-up is part of its cost.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"series file {path} does not exist", fix="pass --series PATH to a CSV file")
    fix = "give a CSV with header unique_id,ds,y"
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh, skipinitialspace=True) if r]
    except (UnicodeDecodeError, csv.Error) as exc:
        detail = " ".join(str(exc).split())
        raise InputError(f"{path}: malformed CSV: {detail}", fix=fix) from None
    if not rows:
        raise InputError(f"{path}: the file is empty", fix=fix)
    header = [c.strip() for c in rows[0]]
    for line, row in enumerate(rows[1:], start=2):
        if len(row) > len(header):
            raise InputError(f"{path}: malformed CSV: line {line} has {len(row)} fields, the header "
                             f"{len(header)}", fix=fix)
    names = dict(zip(header, range(len(header))))
    for cols, rename in _LAYOUTS:
        if cols <= set(names):
            names = {rename.get(k, k): v for k, v in names.items()}
            break
    missing = [c for c in ("ds", "y") if c not in names]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)} (found {', '.join(header)})", fix=fix)

    def column(name: str) -> list[str]:
        k = names[name]
        return [r[k] if k < len(r) else "" for r in rows[1:]]

    ids = column("unique_id") if "unique_id" in names else [path.stem] * (len(rows) - 1)
    series, warnings = prepare_columns(ids, column("ds"), column("y"), str(path), duplicates, gaps)
    for w in warnings:
        err_console.print(f"warning: {w}", highlight=False, markup=False, soft_wrap=True)
    return series


def _seasons(ss: SeriesSet, season: int | None, train_len: list[int]) -> tuple[list[int], list[int | None]]:
    """The season of each series: given, or detected on the history the model may see."""
    seasons, second = [], []
    for i in range(len(ss)):
        y = ss.series(i)[: max(train_len[i], 1)]
        s = season if season else detect_season(y, ss.freq_s[i])
        seasons.append(int(s))
        second.append(secondary_season(int(s), ss.freq_s[i], y.size))
    return seasons, second


def _check_model(model: str) -> None:
    if model not in MODELS:
        raise InputError(f"unknown forecast model '{model}'", fix=f"use one of {', '.join(MODELS)}")


def _warn(msg: str) -> None:
    err_console.print(f"warning: {msg}", highlight=False, markup=False, soft_wrap=True)


def run_backtest(ss: SeriesSet, horizon: int, windows: int, season: int | None, model: str,
                 level: tuple[int, ...], show_progress: bool = False) -> tuple[BacktestResult, list[int]]:
    _check_model(model)
    if horizon < 1 or windows < 1:
        raise InputError(f"--horizon {horizon} and --windows {windows} must both be >= 1", fix="pass positive values")
    train = [cutoffs(ss.series(i).size, horizon, windows)[0] for i in range(len(ss))]
    seasons, second = _seasons(ss, season, train)
    ys = [ss.series(i) for i in range(len(ss))]
    if show_progress:
        with Progress(transient=True, console=err_console) as bar:
            task = bar.add_task(f"backtest {model} on {len(ss)} series", total=windows)
            result = backtest(ys, horizon, windows, model, seasons, level, season2s=second,
                              on_window=lambda w: bar.advance(task))
    else:
        result = backtest(ys, horizon, windows, model, seasons, level, season2s=second)
    if result.skipped:
        names = ", ".join(f"{ss.ids[i]} ({why})" for i, why in result.skipped[:5])
        more = f" and {len(result.skipped) - 5} more" if len(result.skipped) > 5 else ""
        if not result.scores:
            raise InputError(f"every series is too short for {windows} windows of {horizon}: {names}{more}",
                             fix="lower --windows or --horizon")
        _warn(f"skipped {len(result.skipped)} series too short for {windows} windows of {horizon}: {names}{more}")
    return result, seasons


def _write_backtest_csv(path: Path, ss: SeriesSet, result: BacktestResult) -> None:
    with Path(path).open("w", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        for k, w in enumerate(result.windows_out):
            fc, h = w.forecast, w.actual.size
            bounds = _interval_columns(fc)
            if k == 0:
                out.writerow(["unique_id", "ds", "cutoff", "y", "mean", *bounds, "model"])
            ds = ss.format_ds(ss.timestamps(w.series, np.arange(w.cutoff, w.cutoff + h)))
            cutoff = ss.format_ds(ss.timestamps(w.series, [w.cutoff - 1]))[0]
            for j in range(h):
                out.writerow([ss.ids[w.series], ds[j], cutoff, repr(float(w.actual[j])), repr(float(fc.mean[j])),
                              *(repr(float(v[j])) for v in bounds.values()), fc.model])


def _interval_columns(fc) -> dict[str, np.ndarray]:
    cols = {}
    for lv in sorted(fc.level, reverse=True):
        cols[f"lo-{lv}"] = fc.lo[lv]
    for lv in sorted(fc.level):
        cols[f"hi-{lv}"] = fc.hi[lv]
    return cols


def backtest_cmd(
    series: SeriesOpt,
    horizon: HorizonOpt,
    windows: Annotated[int, typer.Option("--windows", help="Number of rolling-origin windows (1..10000).", parser=Finite(1, 10_000, whole=True))],
    season: SeasonOpt = None,
    model: ModelOpt = DEFAULT_MODEL,
    level: LevelOpt = None,
    out: OutOpt = None,
    plot: PlotOpt = None,
    duplicates: DupOpt = "error",
    gaps: GapOpt = "interpolate",
    as_json: JsonOpt = False,
) -> None:
    """Rolling-origin backtest (statsforecast cross_validation, step = horizon): MASE, sMAPE, pinball."""
    lv = tuple(level or (80, 95))
    ss = read_series_csv(series, duplicates, gaps)
    t0 = time.perf_counter()
    result, seasons = run_backtest(ss, horizon, windows, season, model, lv, show_progress=not as_json)
    seconds = time.perf_counter() - t0
    if out:
        _write_backtest_csv(out, ss, result)
    if plot:
        _plot_backtest(plot, ss, result)
    used = sorted({seasons[s.series] for s in result.scores})
    summary = {"model": model, "series": len(result.scores), "horizon": horizon, "windows": windows,
               "mase": result.mase, "smape": result.smape, "seconds": round(seconds, 4),
               "smape_unit": "percent (0-200)", "pinball": result.pinball, "scaled_pinball": result.scaled_pinball,
               "coverage": {str(k): v for k, v in result.coverage().items()}, "mase_excluded": result.mase_excluded,
               "seasons": used, "models_chosen": result.model_counts(),
               "skipped": [{"unique_id": ss.ids[i], "reason": why} for i, why in result.skipped]}
    if as_json:
        emit_json(summary)
        return
    table = Table(title=f"backtest of {model}: {summary['series']} series, {windows} windows of {horizon} steps")
    for col in ("series", "season", "MASE", "sMAPE %", "pinball", "models"):
        table.add_column(col, justify="left" if col in ("series", "models") else "right")
    for s in result.scores[:30]:
        models = ", ".join(sorted(set(s.models)))
        table.add_row(ss.ids[s.series], str(s.season), _num(s.mase), _num(s.smape, 1), _num(s.pinball), models)
    console.print(table)
    if len(result.scores) > 30:
        console.print(f"… and {len(result.scores) - 30} more series")
    cov = ", ".join(f"{k} %: {v:.0%}" for k, v in result.coverage().items())
    console.print(f"mean MASE {_num(result.mase)} · sMAPE {_num(result.smape, 1)} % · pinball {_num(result.pinball)}"
                  f" · interval coverage {cov} · {seconds:.2f} s")


def _plot_backtest(path: Path, ss: SeriesSet, result: BacktestResult) -> None:
    """History tail, actuals and each window's mean with its widest interval, for the first few series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [s.series for s in result.scores[:PLOT_SERIES]]
    fig, axes = plt.subplots(len(shown), 1, figsize=(10, 2.6 * len(shown)), squeeze=False)
    widest = max(result.level)
    for ax, i in zip(axes[:, 0], shown):
        y = ss.series(i)
        wins = [w for w in result.windows_out if w.series == i]
        start = max(0, wins[0].cutoff - 3 * result.horizon * result.windows)
        ax.plot(np.arange(start, y.size), y[start:], color="0.3", lw=1, label="actual")
        for k, w in enumerate(wins):
            x = np.arange(w.cutoff, w.cutoff + w.actual.size)
            ax.fill_between(x, w.forecast.lo[widest], w.forecast.hi[widest], color="tab:blue", alpha=0.2,
                            label=f"{widest} % interval" if k == 0 else None)
            ax.plot(x, w.forecast.mean, color="tab:blue", lw=1.5, label="forecast" if k == 0 else None)
            ax.axvline(w.cutoff - 0.5, color="0.7", lw=0.8, ls=":")
        score = next(s for s in result.scores if s.series == i)
        ax.set_title(f"{ss.ids[i]} · {result.model} · MASE {_num(score.mase)}", fontsize=9)
        ax.set_xlabel("step")
    axes[0, 0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _num(x: float, digits: int = 3) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _fit_all(ss: SeriesSet, season: int | None, model: str, horizon: int | None):
    _check_model(model)
    seasons, second = _seasons(ss, season, [ss.series(i).size for i in range(len(ss))])
    fitted = [None] * len(ss)
    groups: dict[tuple[int, int | None], list[int]] = {}
    for i in range(len(ss)):
        groups.setdefault((seasons[i], second[i]), []).append(i)
    for (s, s2), idx in groups.items():
        values, indptr = to_batch([ss.series(i) for i in idx])
        for i, m in zip(idx, fit_many(model, values, indptr, seasons=s, season2=s2, horizon=horizon)):
            fitted[i] = m
    return fitted, seasons


def predict_cmd(
    series: SeriesOpt,
    horizon: HorizonOpt,
    season: SeasonOpt = None,
    model: ModelOpt = DEFAULT_MODEL,
    level: LevelOpt = None,
    out: OutOpt = None,
    duplicates: DupOpt = "error",
    gaps: GapOpt = "interpolate",
    as_json: JsonOpt = False,
) -> None:
    """Forecast the next H steps of every series: mean and interval bounds (quantiles)."""
    import pandas as pd  # lazily, like every heavy import of a command module

    lv = tuple(level or (80, 95))
    if horizon < 1:
        raise InputError(f"--horizon {horizon} must be >= 1", fix="pass a positive horizon")
    ss = read_series_csv(series, duplicates, gaps)
    fitted, seasons = _fit_all(ss, season, model, horizon)
    rows, frames = [], []
    for i, m in enumerate(fitted):
        fc = m.predict(horizon, lv)
        n = ss.series(i).size
        ds = ss.format_ds(ss.timestamps(i, np.arange(n, n + horizon)))
        bounds = _interval_columns(fc)
        rows.append({"unique_id": ss.ids[i], "season": seasons[i], "freq_s": _finite(ss.freq_s[i]),
                     "model": fc.model, "ds": ds, "mean": fc.mean.tolist(),
                     **{k: v.tolist() for k, v in bounds.items()}})
        frames.append(pd.DataFrame({"unique_id": ss.ids[i], "ds": ds, "mean": fc.mean, **bounds, "model": fc.model}))
    if out:
        pd.concat(frames, ignore_index=True).to_csv(out, index=False)
    if as_json:
        emit_json({"model": model, "horizon": horizon, "level": list(lv), "forecasts": rows})
        return
    table = Table(title=f"{model} forecast, {horizon} steps ahead")
    for col in ("series", "season", "model", "next", f"hi-{max(lv)} next", "mean over horizon"):
        table.add_column(col, justify="left" if col in ("series", "model") else "right")
    for r in rows[:30]:
        table.add_row(r["unique_id"], str(r["season"]), r["model"], _num(r["mean"][0], 2),
                      _num(r[f"hi-{max(lv)}"][0], 2), _num(float(np.mean(r["mean"])), 2))
    console.print(table)


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def fit_cmd(
    series: SeriesOpt,
    season: SeasonOpt = None,
    model: ModelOpt = DEFAULT_MODEL,
    duplicates: DupOpt = "error",
    gaps: GapOpt = "interpolate",
    as_json: JsonOpt = False,
) -> None:
    """Fit every series and show what was chosen: season, model form, parameters, residual scale."""
    ss = read_series_csv(series, duplicates, gaps)
    fitted, seasons = _fit_all(ss, season, model, None)
    rows = [{"unique_id": ss.ids[i], "n": int(ss.series(i).size), "freq_s": _finite(ss.freq_s[i]),
             "season": seasons[i], "model": m.predict(1).model, "params": _params(m.state)}
            for i, m in enumerate(fitted)]
    if as_json:
        emit_json({"model": model, "series": rows})
        return
    table = Table(title=f"{model} fitted on {len(rows)} series")
    for col in ("series", "points", "step s", "season", "model", "parameters"):
        table.add_column(col, justify="left" if col in ("series", "model", "parameters") else "right")
    for r in rows[:30]:
        params = ", ".join(f"{k}={v:.3g}" for k, v in r["params"].items() if isinstance(v, float))
        table.add_row(r["unique_id"], str(r["n"]), _num(r["freq_s"] or float("nan"), 0), str(r["season"]),
                      r["model"], params)
    console.print(table)


def _params(state) -> dict:
    inner = getattr(state, "inner", state)
    inner = getattr(inner, "ets", inner)  # the ensemble reports its ETS member's parameters
    out = {}
    for k in ("alpha", "beta", "gamma", "phi", "sigma", "level", "trend"):
        if hasattr(inner, k):
            out[k] = float(getattr(inner, k))
    if hasattr(state, "mae") and state.mae:
        out["backtest_mae"] = state.mae
    return out


def _bundled_series() -> Path | None:
    """A per-minute demand sample shipped in costplane.examples, if one is there."""
    import pandas as pd  # lazily, like every heavy import of a command module

    try:
        folder = Path(str(resources.files("costplane.examples")))
    except ModuleNotFoundError:
        return None
    # Demand (request counts) first: that is what the autoscaler forecasts.
    for path in sorted(folder.glob("*.csv"), key=lambda p: ("request" not in p.name, p.name)):
        try:
            header = set(pd.read_csv(path, nrows=0).columns.str.strip())
        except (ValueError, OSError):
            continue
        if any(cols <= header for cols, _ in _LAYOUTS):
            return path
    return None


def demo_forecast() -> None:
    """Backtest every model on the bundled demand sample (or a synthetic daily pattern when none is bundled)."""
    path = _bundled_series()
    if path is not None:
        ss = read_series_csv(path, "sum", "zero")  # a count series omits intervals where nothing arrived
        source = path.name
    else:
        minutes = np.arange(3 * 1440)
        y = 40 + 25 * np.sin(2 * np.pi * minutes / 1440) + np.random.default_rng(7).poisson(5, minutes.size)
        ss = SeriesSet(["synthetic"], y.astype(float), np.array([0, y.size]), np.array([0.0]),
                       np.array([60.0]), False, False)
        source = "a synthetic 3-day per-minute series (no bundled sample found)"
    n = min(ss.series(i).size for i in range(len(ss)))
    horizon = max(1, min(60, n // 6))
    windows = 3 if n >= 8 * horizon else 1
    console.print(f"forecasters on {source}: {windows} windows of {horizon} steps (default: {DEFAULT_MODEL})")
    for mname in MODELS:
        r, _ = run_backtest(ss, horizon, windows, None, mname, (80, 95))
        console.print(f"  {mname:<15} MASE {_num(r.mase)}  sMAPE {_num(r.smape, 1)} %  "
                      f"95 % coverage {r.coverage()[95]:.0%}")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Demand forecasting: backtest, predict and fit on long-format series.",
                        no_args_is_help=True)
    group.command("backtest")(backtest_cmd)
    group.command("predict")(predict_cmd)
    group.command("fit")(fit_cmd)
    app.add_typer(group, name="forecast")
