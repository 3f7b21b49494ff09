"""Training cost: throughput scaling curves, the expected-cost plan under spot interruptions, budgeted HPO.

Pure decision logic (no I/O, no clock reads) except `_hpo`, which runs Optuna studies (a user's objective
under `CostBudgetCallback`, or the scikit-learn demo) and measures their time; budgets are injected ledgers.
"""

from costplane.training._hpo import (
    GPU_SECONDS_ATTR,
    BudgetLedger,
    CostBudgetCallback,
    MemoryLedger,
    TrialCharge,
    run_objective,
)
from costplane.training._plan import PlanOption, TrainingPlan, enumerate_options, pareto_frontier, plan_training
from costplane.training._profile import (
    JobProfile,
    ThroughputPoint,
    parse_duration_s,
    parse_profile,
    parse_rates,
    read_profile,
)
from costplane.training._spot import (
    DEFAULT_INTERRUPTIONS_PER_HOUR,
    FALLBACK_INTERRUPTIONS_PER_HOUR,
    expected_wall_s,
    interruptions_per_hour,
    simulate_wall_s,
)
from costplane.training._throughput import EXTRAPOLATION_FACTOR, ScalingCurve, fit_curve

__all__ = [
    "DEFAULT_INTERRUPTIONS_PER_HOUR",
    "GPU_SECONDS_ATTR",
    "BudgetLedger",
    "CostBudgetCallback",
    "MemoryLedger",
    "TrialCharge",
    "run_objective",
    "EXTRAPOLATION_FACTOR",
    "FALLBACK_INTERRUPTIONS_PER_HOUR",
    "JobProfile",
    "PlanOption",
    "ScalingCurve",
    "ThroughputPoint",
    "TrainingPlan",
    "enumerate_options",
    "expected_wall_s",
    "fit_curve",
    "interruptions_per_hour",
    "pareto_frontier",
    "parse_duration_s",
    "parse_profile",
    "parse_rates",
    "plan_training",
    "read_profile",
    "simulate_wall_s",
]
