"""Hyperparameter search under a cost budget: Optuna samplers and pruners, real scikit-learn training.

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
from typing import Any

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
