"""One set of value rules at the store's write path, the same on SQLite and PostgreSQL: a bad row is refused
before any SQL runs (nothing written), whichever ingest path sent it."""

from __future__ import annotations

import math

import pytest

from costplane.core.errors import InputError
from costplane.store import CostRecord, RowProblem, Store, UsageSample, check_cost_row, check_usage_row


def _cost(**over):
    return {"source": "focus", "line_key": "k", "period_start_s": 0.0, "period_end_s": 3600.0,
            "billed_cost_usd": 1.0, "effective_cost_usd": 1.0, "gpu_hours": 0.0, "tags": {}, **over}


def _sample(**over):
    return {"source": "prometheus", "metric": "requests_per_s", "series_key": "s", "ts_s": 0.0, "value": 1.0,
            "labels": {}, **over}


BAD_COSTS = [
    {"billed_cost_usd": 1e308}, {"effective_cost_usd": math.nan}, {"billed_cost_usd": math.inf},
    {"list_cost_usd": -2e12}, {"gpu_hours": -1.0}, {"gpu_hours": math.nan}, {"period_end_s": -1.0},
    {"team": "x" * 129}, {"workload": "a\x00b"}, {"tags": {"k": math.nan}}, {"tags": {"k": "v\x00"}},
    {"tags": ["not", "an", "object"]}, {"billed_cost_usd": "12"}, {"line_key": None},
]
BAD_SAMPLES = [
    {"value": -799998.68}, {"value": math.nan}, {"value": math.inf}, {"ts_s": math.nan}, {"metric": "m\x00"},
    {"series_key": "s" * 513}, {"labels": {"Hostname": math.inf}}, {"team": 7},
]


@pytest.mark.parametrize("over", BAD_COSTS)
def test_bad_cost_values_are_named(over):
    with pytest.raises(RowProblem):
        check_cost_row(_cost(**over))


@pytest.mark.parametrize("over", BAD_SAMPLES)
def test_bad_sample_values_are_named(over):
    with pytest.raises(RowProblem):
        check_usage_row(_sample(**over))


def test_good_rows_pass():
    check_cost_row(_cost(billed_cost_usd=-12.5, tags={"team": "a", "n": 3}))  # credits are negative money
    check_usage_row(_sample(value=0.0))


def test_the_store_refuses_a_batch_with_a_bad_row_on_every_backend(db_url):
    store = Store.open(db_url)
    for bad in ({"billed_cost_usd": 1e308}, {"tags": {"k": math.nan}}, {"team": "t\x00"}, {"workload": "w" * 300}):
        with pytest.raises(InputError):
            store.add_cost_records([_cost(line_key="good"), _cost(line_key="bad", **bad)])
    for bad in ({"value": -1.0}, {"value": math.nan}, {"workload": "w" * 300}):
        with pytest.raises(InputError):
            store.add_usage_samples([_sample(ts_s=1.0), _sample(**bad)])
    assert store.count(CostRecord) == 0 and store.count(UsageSample) == 0  # all or nothing
    assert store.add_cost_records([_cost()]) == 1 and store.add_usage_samples([_sample()]) == 1
