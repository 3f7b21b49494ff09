"""Hyperparameter search under a cost budget: any Optuna objective, or the built-in scikit-learn demo.

Any training code: `CostBudgetCallback` (an Optuna callback) charges each trial's GPU-seconds at the
chosen offer's price to a `BudgetLedger` and stops the study before the budget would be exceeded;
`run_objective` runs a user's `module:function` objective with it (`costplane hpo --objective`).
The ledger is injected: `MemoryLedger` here, the store's budgets in costplane.budget.StoreLedger.

The built-in demo (below, `run_hpo`):

Every epoch of every trial is measured with an injected CPU-time meter (default `time.process_time`),
the stand-in for GPU time on this GPU-less machine, and charged at a price per GPU-second taken from
the catalog (cheapest on-demand offer of the chosen GPU model, per GPU). The search stops when the
search budget or the team's remaining budget is spent: the trial that crosses it is cut after the
epoch that crossed it (so the overrun is at most one epoch) and no further trial starts.

Pruning is Optuna's own (SuccessiveHalvingPruner / HyperbandPruner, resource = epochs); nothing here
re-implements it. Training is `partial_fit`, one call per epoch, on datasets scikit-learn ships
offline (load_digits, load_breast_cancer, load_wine), so the search runs anywhere without downloads.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from costplane.core.errors import InputError
from costplane.core.types import Catalog

PRUNERS = ("hyperband", "sha", "none")
MODELS = ("sgd", "mlp")
DATASETS = ("digits", "breast_cancer", "wine")
VALIDATION_FRACTION = 0.3


@dataclass(frozen=True)
class HpoConfig:
    trials: int = 30
    max_epochs: int = 27
    pruner: str = "hyperband"
    model: str = "sgd"
    dataset: str = "digits"
    seed: int = 0
    budget_usd: float | None = None
    price_usd_per_gpu_hour: float = 1.0
    team: str | None = None
    team_budget_usd: float | None = None
    team_spent_usd: float = 0.0  # what the team spent before this search (from the ledger)

    def __post_init__(self) -> None:
        if self.trials <= 0 or self.max_epochs <= 0:
            raise InputError(f"trials and max epochs must be > 0, got {self.trials} and {self.max_epochs}",
                             fix="pass --trials 1 or more")
        if self.pruner not in PRUNERS:
            raise InputError(f"unknown pruner {self.pruner!r}", fix=f"use one of {', '.join(PRUNERS)}")
        if self.model not in MODELS:
            raise InputError(f"unknown model {self.model!r}", fix=f"use one of {', '.join(MODELS)}")
        if self.dataset not in DATASETS:
            raise InputError(f"unknown dataset {self.dataset!r}", fix=f"use one of {', '.join(DATASETS)}")
        for name in ("budget_usd", "team_budget_usd"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise InputError(f"{name} must be > 0, got {value!r}", fix="pass a positive budget in USD")
        if not self.price_usd_per_gpu_hour > 0:
            raise InputError(f"price per GPU-hour must be > 0, got {self.price_usd_per_gpu_hour!r}",
                             fix="choose a GPU with an on-demand price")

    @property
    def effective_budget_usd(self) -> float:
        """The tighter of the search budget and what is left of the team's budget (inf when neither)."""
        team_left = math.inf if self.team_budget_usd is None else max(0.0, self.team_budget_usd - self.team_spent_usd)
        return min(self.budget_usd if self.budget_usd is not None else math.inf, team_left)


@dataclass(frozen=True)
class TrialRecord:
    number: int
    state: str  # complete | pruned | stopped_by_budget
    epochs: int
    gpu_seconds: float
    cost_usd: float
    score: float | None  # last validation accuracy reached
    params: dict[str, Any]


@dataclass(frozen=True)
class HpoResult:
    best_score: float | None
    best_params: dict[str, Any]
    trials: int
    completed_trials: int
    pruned_trials: int
    epochs: int
    gpu_seconds: float
    cost_usd: float
    budget_usd: float | None
    stopped_by_budget: bool
    pruner: str
    model: str
    dataset: str
    seed: int
    price_usd_per_gpu_hour: float
    team: str | None
    team_budget_usd: float | None
    team_spent_usd: float
    trial_log: tuple[TrialRecord, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["trial_log"] = [asdict(t) for t in self.trial_log]
        return d


def price_per_gpu_hour(catalog: Catalog, gpu: str) -> float:
    """Cheapest on-demand price of one `gpu` GPU in the catalog (machine price / GPUs per machine)."""
    from costplane.core.gpus import resolve_gpu

    model = resolve_gpu(gpu, catalog.gpu_models)
    df = catalog.frame
    rows = df[(df["gpu"] == model) & df["price_usd_per_hour"].notna() & (df["price_usd_per_hour"] > 0)]
    if rows.empty:
        raise InputError(f"no on-demand price for {model} in the catalog", fix="choose another --gpu")
    return float((rows["price_usd_per_hour"] / rows["gpus"]).min())


def _load_data(name: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn import datasets
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    loader = {"digits": datasets.load_digits, "breast_cancer": datasets.load_breast_cancer,
              "wine": datasets.load_wine}[name]
    x, y = loader(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=VALIDATION_FRACTION, random_state=seed, stratify=y)
    scaler = StandardScaler().fit(x_tr)
    return scaler.transform(x_tr), scaler.transform(x_va), y_tr, y_va


def _suggest_model(trial: Any, model: str, seed: int) -> Any:
    if model == "sgd":
        from sklearn.linear_model import SGDClassifier

        learning_rate = trial.suggest_categorical("learning_rate", ["optimal", "constant", "invscaling"])
        return SGDClassifier(
            loss=trial.suggest_categorical("loss", ["hinge", "log_loss", "modified_huber"]),
            alpha=trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
            learning_rate=learning_rate,
            eta0=trial.suggest_float("eta0", 1e-4, 1e-1, log=True),
            random_state=seed,
        )
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=(trial.suggest_categorical("hidden", [16, 32, 64, 128]),),
        alpha=trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
        learning_rate_init=trial.suggest_float("learning_rate_init", 1e-4, 1e-1, log=True),
        batch_size=64,
        random_state=seed,
    )


def _pruner(cfg: HpoConfig) -> Any:
    import optuna

    if cfg.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=cfg.max_epochs, reduction_factor=3)
    if cfg.pruner == "sha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    return optuna.pruners.NopPruner()


def run_hpo(cfg: HpoConfig, meter: Callable[[], float] = time.process_time,
            on_trial: Callable[[int, float], None] | None = None) -> HpoResult:
    """Run the search; `meter` returns CPU seconds (injected so tests can count deterministically).

    `on_trial(trials_done, cost_usd_so_far)` is called after each trial (progress display).
    """
    import warnings

    import optuna
    from sklearn.exceptions import ConvergenceWarning

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    x_tr, x_va, y_tr, y_va = _load_data(cfg.dataset, cfg.seed)
    classes = np.unique(y_tr)
    usd_per_gpu_s = cfg.price_usd_per_gpu_hour / 3600.0
    budget = cfg.effective_budget_usd
    ledger = {"gpu_s": 0.0, "stopped": False}
    log: list[TrialRecord] = []

    def objective(trial: optuna.Trial) -> float:
        clf = _suggest_model(trial, cfg.model, cfg.seed)
        trial_gpu_s, score, epoch = 0.0, None, 0
        state = "complete"
        try:
            for epoch in range(1, cfg.max_epochs + 1):
                start = meter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    clf.partial_fit(x_tr, y_tr, classes=classes)
                score = float(clf.score(x_va, y_va))
                used = meter() - start
                trial_gpu_s += used
                ledger["gpu_s"] += used
                trial.report(score, epoch)
                if ledger["gpu_s"] * usd_per_gpu_s >= budget:
                    ledger["stopped"] = True
                    state = "stopped_by_budget"
                    raise optuna.TrialPruned()
                if trial.should_prune():
                    state = "pruned"
                    raise optuna.TrialPruned()
            return score if score is not None else 0.0
        finally:
            log.append(TrialRecord(trial.number, state, epoch, trial_gpu_s, trial_gpu_s * usd_per_gpu_s, score,
                                   dict(trial.params)))

    def after_trial(study: optuna.Study, _trial: optuna.trial.FrozenTrial) -> None:
        if on_trial:
            on_trial(len(log), ledger["gpu_s"] * usd_per_gpu_s)
        if ledger["stopped"]:
            study.stop()

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=cfg.seed),
                                pruner=_pruner(cfg))
    if budget > 0:
        study.optimize(objective, n_trials=cfg.trials, callbacks=[after_trial])
    else:
        ledger["stopped"] = True  # the team's budget is already spent: no trial starts
    complete = [t for t in log if t.state == "complete"]
    best = max(complete, key=lambda t: (t.score or 0.0, -t.number), default=None)
    cost = ledger["gpu_s"] * usd_per_gpu_s
    return HpoResult(
        best_score=None if best is None else best.score, best_params={} if best is None else best.params,
        trials=len(log), completed_trials=len(complete),
        pruned_trials=sum(t.state != "complete" for t in log), epochs=sum(t.epochs for t in log),
        gpu_seconds=ledger["gpu_s"], cost_usd=cost,
        budget_usd=None if math.isinf(budget) else budget, stopped_by_budget=bool(ledger["stopped"]),
        pruner=cfg.pruner, model=cfg.model, dataset=cfg.dataset, seed=cfg.seed,
        price_usd_per_gpu_hour=cfg.price_usd_per_gpu_hour, team=cfg.team, team_budget_usd=cfg.team_budget_usd,
        team_spent_usd=cfg.team_spent_usd + cost, trial_log=tuple(log))


# ------------------------------------------------------------------ any training code, bounded by cost

GPU_SECONDS_ATTR = "gpu_seconds"  # a trial's user attribute: GPU-seconds the objective measured itself (optional)


@dataclass(frozen=True)
class TrialCharge:
    """What one trial cost: its GPU-seconds at the offer's price, charged to a budget ledger."""

    study: str
    trial: int
    state: str  # complete | pruned | fail | stopped_by_budget
    gpu_seconds: float
    cost_usd: float
    value: float | None
    params: dict[str, Any]


class BudgetLedger(Protocol):
    """Where trial charges go and how much budget is left (the store's budgets: costplane.budget.StoreLedger)."""

    def remaining_usd(self) -> float: ...

    def charge(self, charge: TrialCharge) -> None: ...


class MemoryLedger:
    """A ledger in memory: a budget in USD (None: unbounded) and the charges made against it."""

    def __init__(self, budget_usd: float | None = None, spent_usd: float = 0.0) -> None:
        self.budget_usd, self.spent_usd = budget_usd, spent_usd
        self.charges: list[TrialCharge] = []

    def remaining_usd(self) -> float:
        return math.inf if self.budget_usd is None else self.budget_usd - self.spent_usd

    def charge(self, charge: TrialCharge) -> None:
        self.charges.append(charge)
        self.spent_usd += charge.cost_usd


class CostBudgetCallback:
    """Optuna callback that charges each finished trial's GPU-seconds to a budget and stops the study in time.

    GPU-seconds of a trial: its user attribute `gpu_seconds` when the objective sets it (measured
    with NVML, or known), else its running time × `gpus` (the GPUs a trial holds). Cost = GPU-seconds
    × `usd_per_gpu_hour` / 3600. After each trial the study stops when the budget left is smaller
    than the dearest trial so far (the next one could cost as much). `budgeted(trial)` wraps a trial
    so that its `should_prune()` also says yes once the running trial alone would exceed what is left:
    an objective that reports and prunes (Optuna's usual loop) then stops mid-trial, at most one
    report interval over.

        study.optimize(objective, callbacks=[CostBudgetCallback(ledger, usd_per_gpu_hour=3.9, gpus=8)])
    """

    def __init__(self, ledger: BudgetLedger, usd_per_gpu_hour: float, gpus: int = 1, study: str | None = None,
                 meter: Callable[[], float] = time.monotonic) -> None:
        if not usd_per_gpu_hour > 0 or gpus < 1:
            raise InputError(f"price per GPU-hour must be > 0 and GPUs >= 1, got {usd_per_gpu_hour!r}, {gpus!r}",
                             fix="pass the offer's price and the GPUs a trial holds")
        self.ledger, self.usd_per_gpu_s, self.gpus, self.study = ledger, usd_per_gpu_hour / 3600.0, gpus, study
        self.meter = meter
        self.stopped_by_budget = False
        self.log: list[TrialCharge] = []
        self._starts: dict[int, float] = {}
        self._over: set[int] = set()

    def gpu_seconds(self, trial: Any) -> float:
        """The trial's GPU-seconds so far (a running Trial) or in all (a FrozenTrial)."""
        own = (trial.user_attrs or {}).get(GPU_SECONDS_ATTR)
        if isinstance(own, (int, float)) and own >= 0:
            return float(own)
        start = self._starts.get(trial.number)
        if start is not None:
            return max(0.0, self.meter() - start) * self.gpus
        duration = getattr(trial, "duration", None)
        return 0.0 if duration is None else duration.total_seconds() * self.gpus

    def over_budget(self, trial: Any) -> bool:
        return self.gpu_seconds(trial) * self.usd_per_gpu_s >= self.ledger.remaining_usd() - 1e-9

    def budgeted(self, trial: Any) -> Any:
        self._starts[trial.number] = self.meter()
        return _BudgetedTrial(trial, self)

    def __call__(self, study: Any, trial: Any) -> None:
        gpu_s = self.gpu_seconds(trial)
        self._starts.pop(trial.number, None)
        state = "stopped_by_budget" if trial.number in self._over else trial.state.name.lower()
        charge = TrialCharge(self.study or study.study_name, trial.number, state, gpu_s, gpu_s * self.usd_per_gpu_s,
                             trial.value if trial.value is not None else None, dict(trial.params))
        self.ledger.charge(charge)
        self.log.append(charge)
        dearest = max(c.cost_usd for c in self.log)
        left = self.ledger.remaining_usd() + 1e-9  # micro-dollar slack for float sums
        if trial.number in self._over or left < dearest or left <= 1e-9:
            self.stopped_by_budget = True
            study.stop()


class _BudgetedTrial:
    """An Optuna trial whose `should_prune()` is also true once this trial alone would exceed the budget."""

    def __init__(self, trial: Any, callback: CostBudgetCallback) -> None:
        self._trial, self._cb = trial, callback

    def should_prune(self) -> bool:
        if self._cb.over_budget(self._trial):
            self._cb._over.add(self._trial.number)
            return True
        return self._trial.should_prune()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trial, name)


def objective_pruner(name: str, max_resource: int | str = "auto") -> Any:
    import optuna

    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_resource, reduction_factor=3)
    if name == "sha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise InputError(f"unknown pruner {name!r}", fix="use hyperband, sha, median or none")


def run_objective(objective: Callable[[Any], float], ledger: BudgetLedger, usd_per_gpu_hour: float, gpus: int = 1,
                  trials: int = 30, direction: str = "maximize", pruner: str = "hyperband", seed: int = 0,
                  study_name: str = "costplane-hpo", meter: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    """Run a user's Optuna objective (it may report and prune) under a cost budget; a summary dict."""
    import optuna

    if direction not in ("maximize", "minimize"):
        raise InputError(f"direction {direction!r} is not maximize or minimize", fix="pass --direction maximize")
    if trials <= 0:
        raise InputError(f"trials must be > 0, got {trials}", fix="pass --trials 1 or more")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cb = CostBudgetCallback(ledger, usd_per_gpu_hour, gpus, study_name, meter)
    study = optuna.create_study(direction=direction, study_name=study_name, pruner=objective_pruner(pruner),
                                sampler=optuna.samplers.TPESampler(seed=seed))
    if ledger.remaining_usd() > 0:
        study.optimize(lambda t: objective(cb.budgeted(t)), n_trials=trials, callbacks=[cb], catch=(Exception,))
    else:
        cb.stopped_by_budget = True  # nothing left: no trial starts
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = (max if direction == "maximize" else min)(done, key=lambda t: t.value) if done else None
    remaining = ledger.remaining_usd()
    return {"study": study_name, "direction": direction, "best_value": None if best is None else best.value,
            "best_params": {} if best is None else dict(best.params), "trials": len(cb.log),
            "completed_trials": len(done), "pruned_trials": sum(c.state in ("pruned", "stopped_by_budget") for c in cb.log),
            "failed_trials": sum(c.state == "fail" for c in cb.log),
            "gpu_seconds": sum(c.gpu_seconds for c in cb.log), "cost_usd": sum(c.cost_usd for c in cb.log),
            "usd_per_gpu_hour": usd_per_gpu_hour, "gpus_per_trial": gpus, "stopped_by_budget": cb.stopped_by_budget,
            "budget_remaining_usd": None if math.isinf(remaining) else remaining,
            "trial_log": [asdict(c) for c in cb.log]}
