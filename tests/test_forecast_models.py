"""Contract tests for every forecaster (statsforecast's assert_class style) plus the numerics they rest on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costplane.core.errors import InputError, NotFittedError
from costplane.forecast import (
    ETS,
    MODELS,
    Forecast,
    backtest,
    cutoffs,
    detect_season,
    fit_many,
    forecast_many,
    get_model,
    to_batch,
)

RNG = np.random.default_rng(42)
T = np.arange(24 * 12)
SEASONAL = 20 + 8 * np.sin(2 * np.pi * T / 24) + RNG.normal(0, 1, T.size)
ALL = sorted(MODELS)


@pytest.fixture(params=ALL)
def model(request):
    return get_model(request.param, season=24, horizon=24)


def test_aliases_are_unique_and_registered():
    assert set(MODELS) >= {"seasonal-naive", "ets", "linear", "auto"}
    assert all(cls.alias == name for name, cls in MODELS.items())


def test_fit_predict_equals_forecast(model):
    a = model.clone().fit(SEASONAL).predict(24, level=(80, 95))
    b = model.forecast(SEASONAL, 24, level=(80, 95))
    np.testing.assert_allclose(a.mean, b.mean)
    for p in a.quantiles:
        np.testing.assert_allclose(a.quantiles[p], b.quantiles[p])
    assert not model.fitted  # forecast() leaves the instance untouched


def test_shapes_and_quantile_order(model):
    fc = model.fit(SEASONAL).predict(30, level=(50, 80, 95))
    assert isinstance(fc, Forecast) and fc.mean.shape == (30,) and fc.sd.shape == (30,)
    probs = sorted(fc.quantiles)
    assert probs == [0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975]
    stacked = np.stack([fc.quantiles[p] for p in probs])
    assert np.all(np.diff(stacked, axis=0) >= -1e-12)
    for lv in (50, 80, 95):
        assert np.all(fc.lo[lv] <= fc.mean + 1e-12) and np.all(fc.hi[lv] >= fc.mean - 1e-12)
    assert np.all(fc.hi[95] - fc.lo[95] >= fc.hi[80] - fc.lo[80] - 1e-12)
    assert fc.quantile(0.99)[0] >= fc.hi[95][0]


def test_unfitted_predict_raises(model):
    with pytest.raises(NotFittedError, match="fit"):
        model.predict(3)


def test_bad_horizon_and_input(model):
    with pytest.raises(InputError):
        model.fit(SEASONAL).predict(0)
    with pytest.raises(InputError):
        model.fit(np.array([1.0, np.nan, 2.0]))


def test_batch_equals_single_fits(model):
    series = [SEASONAL, SEASONAL[:150] * 2, SEASONAL[30:] + 5]
    values, indptr = to_batch(series)
    batch = forecast_many(model, values, indptr, 12)
    for y, fc in zip(series, batch):
        single = model.clone().fit(y).predict(12)
        np.testing.assert_allclose(fc.mean, single.mean, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(fc.sd, single.sd, rtol=1e-9, atol=1e-9)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.floats(0, 50, allow_nan=False), min_size=1, max_size=80), st.sampled_from(ALL),
       st.integers(1, 7))
def test_any_nonnegative_history_gives_ordered_nonnegative_quantiles(values, name, season):
    fc = get_model(name, season=season).fit(np.array(values)).predict(9)
    stacked = np.stack([fc.quantiles[p] for p in sorted(fc.quantiles)])
    assert np.isfinite(stacked).all() and (stacked >= 0).all()
    assert np.all(np.diff(stacked, axis=0) >= -1e-9)


def test_seasonal_naive_on_pure_season_has_zero_mase():
    y = np.tile([3.0, 7.0, 1.0, 9.0, 4.0, 6.0], 10)
    r = backtest([y], h=6, n_windows=3, model="seasonal-naive", seasons=6)
    assert r.mase == 0.0 and r.smape == 0.0


def test_ets_recovers_a_known_level_and_trend():
    t = np.arange(100.0)
    fc = ETS().fit(5 + 0.5 * t).predict(10)
    np.testing.assert_allclose(fc.mean, 5 + 0.5 * np.arange(100, 110), atol=1e-6)
    level = 10 + np.random.default_rng(3).normal(0, 1, 400)
    fc = ETS().fit(level).predict(5)
    assert abs(fc.mean[0] - 10) < 0.4 and 0.8 < fc.sd[0] < 1.2


def test_ets_learns_the_season():
    m = ETS(24).fit(SEASONAL)
    assert m.state.method.endswith(",A)")
    truth = 20 + 8 * np.sin(2 * np.pi * np.arange(T.size, T.size + 24) / 24)
    assert np.abs(m.predict(24).mean - truth).mean() < 1.0


def test_backtest_window_arithmetic_by_hand():
    # n = 10, H = 2, N = 3: cutoffs 4, 6, 8; seasonal naive (S = 1) repeats the last value.
    y = np.arange(1.0, 11.0)
    assert cutoffs(10, 2, 3) == [4, 6, 8]
    r = backtest([y], h=2, n_windows=3, model="seasonal-naive", seasons=1)
    assert [w.cutoff for w in r.windows_out] == [4, 6, 8]
    np.testing.assert_allclose(np.concatenate([w.forecast.mean for w in r.windows_out]), [4, 4, 6, 6, 8, 8])
    # errors 1,2,1,2,1,2 -> MAE 1.5; in-sample naive MAE on y[:4] = 1
    assert r.mase == pytest.approx(1.5)
    expected_smape = 200 * np.mean([1 / 9, 2 / 10, 1 / 13, 2 / 14, 1 / 17, 2 / 18])
    assert r.smape == pytest.approx(expected_smape)


def test_backtest_matches_statsforecast_cross_validation():
    sf = pytest.importorskip("statsforecast")
    pd = pytest.importorskip("pandas")
    from statsforecast.models import SeasonalNaive as SfNaive

    y = np.array([5.0, 3, 8, 6, 4, 9, 7, 5, 10, 8, 6, 11, 9])
    df = pd.DataFrame({"unique_id": "a", "ds": np.arange(y.size), "y": y})
    cv = sf.StatsForecast(models=[SfNaive(season_length=3)], freq=1).cross_validation(
        df=df, h=2, n_windows=3, step_size=2)
    ours = backtest([y], h=2, n_windows=3, model="seasonal-naive", seasons=3)
    np.testing.assert_allclose(np.concatenate([w.forecast.mean for w in ours.windows_out]), cv["SeasonalNaive"])
    assert [w.cutoff - 1 for w in ours.windows_out] == sorted(set(cv["cutoff"]))


def test_backtest_skips_short_series_and_lists_them():
    r = backtest([SEASONAL, SEASONAL[:20]], h=12, n_windows=2, model="ets", seasons=24)
    assert [s.series for s in r.scores] == [0]
    assert r.skipped and r.skipped[0][0] == 1 and "20 points" in r.skipped[0][1]


def test_pinball_and_coverage_are_sane():
    r = backtest([SEASONAL], h=24, n_windows=3, model="ets", seasons=24)
    assert 0 < r.pinball < 2 and r.coverage()[95] >= 0.8


def test_season_detection():
    assert detect_season(SEASONAL, 3600.0) == 24
    assert detect_season(SEASONAL) == 24
    walk = np.cumsum(np.random.default_rng(5).normal(size=600))
    assert detect_season(walk, 3600.0) == 1
    assert detect_season(np.ones(500), 60.0) == 1


def test_auto_picks_the_model_that_fits():
    pure = np.tile([0.0, 10, 3, 7], 40)
    assert get_model("auto", season=4, horizon=4).fit(pure).predict(4).model == "seasonal-naive" or \
        np.allclose(get_model("auto", season=4, horizon=4).fit(pure).predict(4).mean, [0, 10, 3, 7], atol=1e-6)
    fitted = fit_many("auto", *to_batch([SEASONAL, 5 + 0.2 * np.arange(200.0)]), seasons=24, horizon=24)
    assert fitted[1].predict(3).model in ("linear", "ets:ETS(A,A,N)")


def test_get_model_rejects_unknown_names():
    with pytest.raises(InputError, match="unknown forecast model"):
        get_model("prophet")


def test_linear_interval_stays_sane_with_a_weekly_season_on_top_of_a_daily_one():
    """Weekly harmonic 7 is daily harmonic 1: the same column twice (up to rounding) made XᵀX near-singular and
    the 80 % interval of hourly task arrivals reach 10^5 where the data is about 10."""
    from costplane.forecast._linear import _usable_seasons, design, fit_linear_batch, linear_predict

    t = np.arange(24 * 7 * 3, dtype=float)
    rng = np.random.default_rng(3)
    y = 10 + 4 * np.sin(2 * np.pi * t / 24) + rng.poisson(3, t.size)
    assert design(t, (24, 168)).shape[1] == 2 + 20 + 18  # 10 daily harmonics, 10 weekly minus k = 7 (= daily 1)
    # rows must exceed the design's real columns: seasons 2 and 4 have 2 + 1 + 2 (not 2 + 2 + 4), so 8 rows keep both
    assert _usable_seasons(8, 2, 4) == (2, 4) and _usable_seasons(7, 2, 4) == (2,)
    state = fit_linear_batch([y], 24, 168)[0]
    mean, sd = linear_predict(state, 24)
    assert state.seasons == (24, 168)
    assert np.all(sd < 2 * state.sigma) and np.all(np.abs(mean - 10) < 10)


def test_auto_backtest_reuses_ets_fits_and_forecasts_exactly_as_refitting():
    """`backtest` hands `auto` one memo of ETS fits: its validation prefixes at a cutoff are earlier cutoffs'
    histories. The memo must change nothing but the time: each window equals a fresh fit of the panel."""
    from costplane.forecast._ets import EtsMemo, fit_ets_batch

    rng = np.random.default_rng(11)
    t = np.arange(24 * 16, dtype=float)
    panel = [20 + a * np.sin(2 * np.pi * t / 24) + rng.poisson(3, t.size) for a in (2.0, 6.0, 9.0)]
    result = backtest(panel, 24, 3, "auto", 24)
    for c in cutoffs(t.size, 24, 3):
        fresh = fit_many("auto", *to_batch([y[:c] for y in panel]), seasons=24, horizon=24)
        for i, model in enumerate(fresh):
            got = next(w for w in result.windows_out if w.series == i and w.cutoff == c)
            np.testing.assert_array_equal(got.forecast.mean, model.predict(24).mean)
    memo = EtsMemo()
    first = memo.fit([panel[0][:200], panel[1][:200]], 24)
    again = memo.fit([panel[1][:200], panel[0][:200], panel[2][:200]], 24)
    assert len(memo) == 3 and again[0] is first[1] and again[1] is first[0]
    direct = fit_ets_batch([panel[2][:200]], 24)[0]  # fitted alone, not in the memo's batch of two
    assert (again[2].method, again[2].alpha, again[2].level) == (direct.method, direct.alpha, direct.level)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), season=st.sampled_from([1, 4, 24]), h=st.integers(1, 30))
def test_auto_validation_panel_forecasts_equal_each_models_own_predict(seed, season, h):
    """`auto` scores whole-panel arrays (ets_means, seasonal_naive_means, ensemble_means); each row must equal
    what the model's own per-series predict gives, for histories longer and shorter than the season."""
    from costplane.forecast._ensemble import ensemble_mean, ensemble_means, ensemble_states
    from costplane.forecast._ets import ets_means, ets_predict, fit_ets_batch
    from costplane.forecast._naive import seasonal_naive_fit, seasonal_naive_means, seasonal_naive_predict

    rng = np.random.default_rng(seed)
    sizes = [max(2, season), int(rng.integers(2, season + 2)), 3 * season + 11, 5 * season + 40, 60]
    ys = [rng.poisson(5.0, n).astype(float) + np.sin(np.arange(n)) for n in sizes]
    ets = fit_ets_batch(ys, season)
    em = ets_means(ets, h)
    np.testing.assert_allclose(em, np.stack([ets_predict(e, h)[0] for e in ets]), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(seasonal_naive_means(ys, season, h),
                                  np.stack([seasonal_naive_predict(seasonal_naive_fit(y, season), h)[0] for y in ys]))
    ens = ensemble_states(ys, season, ets)
    np.testing.assert_allclose(ensemble_means(ys, season, em), np.stack([ensemble_mean(s, h) for s in ens]),
                               rtol=1e-12, atol=1e-12)
