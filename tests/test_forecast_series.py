"""Long-format input rules (`prepare_long`): ordering, frequency, gaps, duplicates, ds forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costplane.core.errors import InputError
from costplane.forecast import Forecast, detect_season, prepare_long


def _frame(ids, ds, y):
    return pd.DataFrame({"unique_id": ids, "ds": ds, "y": y})


@settings(max_examples=25, deadline=None)
@given(st.permutations(list(range(30))))
def test_row_order_does_not_matter(order):
    ds = np.concatenate([np.arange(15) * 60, np.arange(15) * 60])
    ids = ["a"] * 15 + ["b"] * 15
    y = np.arange(30, dtype=float)
    base, _ = prepare_long(_frame(ids, ds, y))
    shuffled, _ = prepare_long(_frame(np.array(ids)[order], ds[order], y[order]))
    assert base.ids == shuffled.ids == ["a", "b"]
    np.testing.assert_array_equal(base.values, shuffled.values)
    np.testing.assert_array_equal(base.freq_s, [60.0, 60.0])


def test_iso_ds_with_100ns_fractions_and_timezones():
    ss, warnings = prepare_long(_frame(["s"] * 3, ["2023-11-16 18:15:00.0000000", "2023-11-16 18:16:00.0000000",
                                                  "2023-11-16 18:17:00.0000000"], [1, 2, 3]))
    assert ss.iso and not ss.tz_aware and ss.freq_s[0] == 60.0 and not warnings
    assert ss.format_ds(ss.timestamps(0, [3]))[0] == "2023-11-16T18:18:00"
    tz, _ = prepare_long(_frame(["s"] * 2, ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z"], [1, 2]))
    assert tz.tz_aware and tz.format_ds(tz.timestamps(0, [2]))[0] == "2024-01-01T02:00:00+00:00"


def test_monthly_dates_are_regular():
    ds = pd.date_range("2020-01-01", periods=36, freq="MS").strftime("%Y-%m-%d")
    ss, warnings = prepare_long(_frame(["m"] * 36, ds, np.arange(36.0)))
    assert not warnings and ss.series(0).size == 36 and 27 * 86400 < ss.freq_s[0] < 32 * 86400


def test_gap_policies():
    df = _frame(["g"] * 4, [0, 10, 30, 40], [1.0, 2.0, 4.0, 5.0])
    ss, warnings = prepare_long(df)
    np.testing.assert_allclose(ss.series(0), [1, 2, 3, 4, 5])
    assert "interpolation" in warnings[0] and "g (1)" in warnings[0]
    ss, _ = prepare_long(df, gaps="zero")
    np.testing.assert_allclose(ss.series(0), [1, 2, 0, 4, 5])
    with pytest.raises(InputError, match="gap after ds 10"):
        prepare_long(df, gaps="error")


def test_irregular_steps_are_an_error_naming_the_series():
    with pytest.raises(InputError, match="'r' is irregular"):
        prepare_long(_frame(["r"] * 4, [0, 10, 25, 30], [1, 2, 3, 4]))


def test_duplicates_policies():
    df = _frame(["d"] * 3, [0, 0, 10], [1.0, 3.0, 5.0])
    with pytest.raises(InputError, match="duplicate.*lines 2, 3"):
        prepare_long(df)
    ss, warnings = prepare_long(df, duplicates="mean")
    np.testing.assert_allclose(ss.series(0), [2.0, 5.0])
    assert "aggregated by mean" in warnings[0]


def test_missing_columns_and_bad_values():
    with pytest.raises(InputError, match="missing column"):
        prepare_long(pd.DataFrame({"ds": [0], "y": [1]}))
    with pytest.raises(InputError, match="line 3, column y"):
        prepare_long(_frame(["a", "a"], [0, 1], ["1", "x"]))


def test_index_like_ds_still_finds_a_monthly_season():
    t = np.arange(144)
    y = 100 + t + 20 * np.sin(2 * np.pi * t / 12)
    assert detect_season(y, 1.0) == 12


def test_quantile_outside_0_1_is_an_input_error():
    fc = Forecast.from_normal(np.zeros(2), np.ones(2))
    with pytest.raises(InputError):
        fc.quantile(1.5)
