"""Budgeted HPO: Optuna + scikit-learn on load_digits; the budget stops the search, pruning saves epochs."""

from __future__ import annotations

import itertools

import pytest

from costplane.core.errors import InputError
from costplane.training._hpo import HpoConfig, price_per_gpu_hour, run_hpo


class CountingMeter:
    """A deterministic CPU meter: every reading advances 0.5 s, so each epoch costs exactly 0.5 GPU-s."""

    def __init__(self) -> None:
        self._ticks = itertools.count()

    def __call__(self) -> float:
        return next(self._ticks) * 0.5


def test_budget_stops_the_search():
    # 3600 USD/GPU-h = 1 USD per GPU-s; each epoch 0.5 GPU-s; budget 6 USD = 12 epochs = under 3 trials of 5.
    cfg = HpoConfig(trials=20, max_epochs=5, pruner="none", budget_usd=6.0, price_usd_per_gpu_hour=3600.0)
    result = run_hpo(cfg, meter=CountingMeter())
    assert result.stopped_by_budget
    assert result.trials == 3 and result.completed_trials == 2
    assert result.epochs == 12
    assert result.gpu_seconds == pytest.approx(6.0)
    assert result.cost_usd == pytest.approx(6.0)
    assert result.best_score is not None and result.best_score > 0.8


def test_team_budget_left_binds_before_the_search_budget():
    cfg = HpoConfig(trials=20, max_epochs=5, pruner="none", budget_usd=100.0, price_usd_per_gpu_hour=3600.0,
                    team="ml", team_budget_usd=10.0, team_spent_usd=8.0)
    result = run_hpo(cfg, meter=CountingMeter())
    assert result.stopped_by_budget and result.epochs == 4
    assert result.team_spent_usd == pytest.approx(10.0)
    spent = HpoConfig(trials=5, price_usd_per_gpu_hour=1.0, team="ml", team_budget_usd=1.0, team_spent_usd=1.0)
    assert run_hpo(spent).trials == 0


def test_pruning_uses_fewer_epochs_with_the_same_seed():
    base = dict(trials=12, max_epochs=9, price_usd_per_gpu_hour=1.0, seed=3)
    full = run_hpo(HpoConfig(pruner="none", **base), meter=CountingMeter())
    pruned = run_hpo(HpoConfig(pruner="sha", **base), meter=CountingMeter())
    assert full.pruned_trials == 0 and full.epochs == 12 * 9
    assert pruned.pruned_trials > 0 and pruned.epochs < full.epochs
    assert pruned.best_score >= full.best_score - 0.05


def test_catalog_prices_a_gpu_second():
    from costplane.catalog import load_catalog

    price = price_per_gpu_hour(load_catalog(), "H100")
    assert 0.5 < price < 20


@pytest.mark.parametrize("kw", [dict(pruner="asha"), dict(trials=0), dict(budget_usd=0.0), dict(model="xgb")])
def test_bad_config_is_an_input_error(kw):
    with pytest.raises(InputError):
        HpoConfig(**kw)
