"""HPO for any training code: a user's Optuna objective under `CostBudgetCallback`, charged to the store's budgets.

Objectives here report their own GPU-seconds (trial user attribute `gpu_seconds`), so every number is
exact and nothing depends on how fast this machine is.
"""

from __future__ import annotations

import json
import textwrap

import optuna
import pytest

from costplane.training import GPU_SECONDS_ATTR, CostBudgetCallback, MemoryLedger, run_objective

PRICE = 36.0  # USD per GPU-hour: 0.01 USD per GPU-second; each step below costs 100 GPU-s = 1 USD


def steps_objective(steps: int = 5, gpu_s_per_step: float = 100.0):
    def objective(trial):
        x = trial.suggest_float("x", -5, 5)
        used = 0.0
        for step in range(1, steps + 1):
            used += gpu_s_per_step
            trial.set_user_attr(GPU_SECONDS_ATTR, used)
            trial.report(-(x - 1) ** 2 - 1.0 / step, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return -(x - 1) ** 2

    return objective


def test_study_stops_before_the_next_trial_could_exceed_the_budget():
    ledger = MemoryLedger(budget_usd=12.0)
    out = run_objective(steps_objective(), ledger, PRICE, trials=20, pruner="none")
    assert out["trials"] == 2 and out["stopped_by_budget"]  # 5 + 5 spent; 2 left < the dearest trial (5)
    assert out["cost_usd"] == pytest.approx(10.0) == ledger.spent_usd
    assert [c.cost_usd for c in ledger.charges] == pytest.approx([5.0, 5.0])


def test_a_running_trial_is_pruned_when_it_alone_would_exceed_the_budget():
    ledger = MemoryLedger(budget_usd=3.0)
    out = run_objective(steps_objective(), ledger, PRICE, trials=20, pruner="none")
    assert out["trials"] == 1 and out["stopped_by_budget"]
    assert ledger.charges[0].state == "stopped_by_budget" and ledger.charges[0].cost_usd == pytest.approx(3.0)
    assert ledger.spent_usd <= 3.0 + 1e-9  # never over: the trial stopped at the step that reached it


def test_pruning_makes_the_same_budget_buy_more_trials():
    plain = run_objective(steps_objective(steps=9), MemoryLedger(60.0), PRICE, trials=40, pruner="none", seed=1)
    pruned = run_objective(steps_objective(steps=9), MemoryLedger(60.0), PRICE, trials=40, pruner="median", seed=1)
    assert pruned["trials"] > plain["trials"] and pruned["pruned_trials"] > 0
    assert plain["cost_usd"] <= 60.0 and pruned["cost_usd"] <= 60.0


def test_callback_in_a_users_own_script_with_running_time_as_gpu_time():
    ticks = iter(range(0, 10_000, 10))  # a fake monotonic clock: each read is 10 s later
    ledger = MemoryLedger(budget_usd=1.0)
    cb = CostBudgetCallback(ledger, usd_per_gpu_hour=9.0, gpus=8, meter=lambda: float(next(ticks)))
    study = optuna.create_study(direction="minimize")

    def objective(trial):
        trial = cb.budgeted(trial)  # starts this trial's meter
        return trial.suggest_float("lr", 1e-4, 1e-1, log=True)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, n_trials=50, callbacks=[cb])
    # each trial: 10 s × 8 GPUs = 80 GPU-s at 9 $/GPU-h = 0.2 $; 1 $ buys 5, the 5th leaves 0 < 0.2
    assert len(ledger.charges) == 5 and cb.stopped_by_budget
    assert ledger.spent_usd == pytest.approx(1.0)


def test_bad_objective_spec_is_a_one_line_error(cli, tmp_path):
    r = cli("hpo", "--objective", "nope", "--price-usd-per-gpu-hour", "1")
    assert r.code != 0 and "module:function" in r.err and "To fix" in r.err
    r = cli("hpo", "--objective", "missing_module_xyz:objective", "--price-usd-per-gpu-hour", "1", "--path", tmp_path)
    assert r.code != 0 and "cannot import" in r.err and len(r.err_lines) == 1


OBJECTIVE = textwrap.dedent('''
    import optuna

    def objective(trial):
        x = trial.suggest_float("x", -10, 10)
        used = 0.0
        for step in range(1, 6):
            used += 360.0  # 0.1 GPU-hour per step
            trial.set_user_attr("gpu_seconds", used)
            value = -(x - 2) ** 2 - 10.0 / step
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value
''')


def test_cli_charges_the_teams_budget_in_the_store(cli, tmp_path):
    (tmp_path / "train.py").write_text(OBJECTIVE)
    db = f"sqlite:///{tmp_path / 'hpo.db'}"
    args = ("hpo", "--objective", "train:objective", "--path", tmp_path, "--team", "ml", "--price-usd-per-gpu-hour",
            "4", "--trials", "50", "--study", "sweep", "--db", db, "--json")
    r = cli(*args, "--team-budget-usd", "10")
    assert r.code == 0, r.err
    first = json.loads(r.out)
    assert first["stopped_by_budget"] and 1 < first["trials"] < 50
    assert first["cost_usd"] <= 10.0 and first["ledger"]["month_budget_usd"] == 10.0
    assert first["ledger"]["charged_usd"] == pytest.approx(first["cost_usd"])
    # The charges are cost lines of the one cost path: `cost` and `budget status` count them.
    cost = json.loads(cli("cost", "--db", db, "--window", "1d", "--by", "workload", "--json").out)
    rows = {row["key"]: row["cost_usd"] for row in cost["rows"]}
    assert rows["hpo:sweep"] == pytest.approx(first["cost_usd"], abs=0.01)
    status = cli("budget", "status", "--db", db, "--json")
    assert status.code == 0, status.err
    assert "ml" in status.out
    # A second run sees what the first spent this month: it may only use what is left.
    r = cli(*args)
    second = json.loads(r.out)
    assert second["ledger"]["month_spent_before_usd"] == pytest.approx(first["cost_usd"], abs=0.01)
    assert first["cost_usd"] + second["cost_usd"] <= 10.0 + 0.01


def test_demo_charges_the_store_and_honours_costplane_home(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("COSTPLANE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COSTPLANE_DB_URL", raising=False)
    r = cli("hpo", "--trials", "3", "--epochs", "3", "--pruner", "sha", "--team", "ml", "--team-budget-usd", "5",
            "--price-usd-per-gpu-hour", "2", "--json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["trials"] == 3 and out["ledger"]["charged_usd"] == pytest.approx(out["cost_usd"], abs=1e-6)
    assert (tmp_path / "home" / "costplane.db").is_file()
