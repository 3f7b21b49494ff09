"""The one timestamp parser and the one duration grammar (core.times), as every file, flag and API reads them."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from costplane.core.errors import InputError
from costplane.core.times import (
    MAX_WINDOW_S,
    format_duration,
    parse_duration_s,
    parse_time_arg,
    parse_timestamp,
    timestamp_seconds,
)


@pytest.mark.parametrize("text, seconds", [
    ("1700000000", 1_700_000_000.0), ("12.5", 12.5), ("0", 0.0),
    ("2026-11-25T00:00:00Z", 1_795_564_800.0), ("2026-11-25T02:00:00+02:00", 1_795_564_800.0),
    ("2026-11-25 00:00:00", 1_795_564_800.0), ("2026-11-25", 1_795_564_800.0),
    ("2023-11-16 18:15:46.6805900", 1_700_158_546.68059),  # the Azure LLM trace's 7-digit fractions
])
def test_timestamps(text, seconds):
    assert parse_timestamp(text) == pytest.approx(seconds, abs=1e-6)


@pytest.mark.parametrize("text", ["", "yesterday", "nan", "inf", "2026-13-01"])
def test_bad_timestamps(text):
    with pytest.raises(ValueError):
        parse_timestamp(text)


def test_column_parser_agrees_with_the_scalar_one_and_may_mix_layouts():
    col = pd.Series(["2026-11-25T00:00:00Z", "1795564860", "2026-11-25T00:02:00+00:00", "junk", None])
    out = timestamp_seconds(col)
    assert out.iloc[:3].tolist() == [1_795_564_800.0, 1_795_564_860.0, 1_795_564_920.0]
    assert math.isnan(out.iloc[3]) and math.isnan(out.iloc[4])


@given(st.datetimes(timezones=st.just(__import__("datetime").timezone.utc)))
def test_iso_round_trip_of_any_utc_time(dt):
    text = dt.isoformat()
    assert parse_timestamp(text) == pytest.approx(dt.timestamp(), abs=1e-6)
    assert timestamp_seconds(pd.Series([text])).iloc[0] == parse_timestamp(text)


@pytest.mark.parametrize("text, seconds", [
    ("90s", 90), ("15m", 900), ("2h", 7200), ("7d", 604800), ("1w", 604800), ("1d12h", 129600),
    ("3600", 3600), ("0.5h", 1800), ("2H", 7200), ("PT1H", 3600), ("P1D", 86400), ("P1W", 604800),
    ("P1DT2H30M", 95400), ("pt90s", 90), (" 48h ", 172800),
])
def test_duration_grammar(text, seconds):
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize("text", ["0h", "-3h", "soon", "", "P", "PT", "1y", "P1M", "7dd", "inf", "nan", "1e999"])
def test_bad_durations_are_input_errors_with_a_fix(text):
    with pytest.raises(InputError) as e:
        parse_duration_s(text, "--window")
    assert "--window" in e.value.message and e.value.fix


def test_bounded_duration_names_the_limit():
    with pytest.raises(InputError, match="longer than the limit of 400d"):
        parse_duration_s("100000000d", "--window", MAX_WINDOW_S)
    assert format_duration(MAX_WINDOW_S) == "400d" and format_duration(90) == "90s"


def test_cli_times():
    now = 1_795_564_800.0
    assert parse_time_arg("now", now, "--end") == now
    assert parse_time_arg("-1h", now, "--start") == now - 3600
    assert parse_time_arg("-1d12h", now, "--start") == now - 129600
    assert parse_time_arg("-5", now, "--start") == -5.0  # a number is a timestamp, even a negative one
    assert parse_time_arg("2026-11-25T00:00:00Z", now, "--start") == now
    with pytest.raises(InputError, match="'yesterday' is not a time"):
        parse_time_arg("yesterday", now, "--start")
