"""HiGHS, called directly: every LP and MILP the project solves, silent and deterministic.

One entry point, `solve()`, for the oracle's LP/MILP bound and the fleet planner's MILP. Two rules:

- **Silent.** The solver is built from `highspy._Highs` (the bare binding, exported by highspy) with
  `output_flag` off *before* any other call: `highspy.Highs()` itself calls a method on construction,
  which prints HiGHS' banner on stdout and would break a `--json` document. Nothing touches the
  process's file descriptors, so other threads (under `serve`) are never affected.
- **Deterministic.** One thread, a fixed random seed, and only *work* limits (branch-and-bound nodes,
  simplex iterations, improving solutions) bound the effort, so the same model gives the same numbers
  on every machine and run. A wall-clock `safety_s` is there only so that a pathological model cannot
  hang a command; a solve that reaches it is reported (`hit_time_limit`) so callers can fall back to
  a deterministic answer instead of a machine-dependent one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import highspy
import numpy as np

INF = highspy.kHighsInf


@dataclass(frozen=True)
class WorkLimits:
    """How much work a MILP may do (deterministic: counts, never seconds)."""

    max_nodes: int = 2**31 - 1
    max_leaves: int = 2**31 - 1
    max_improving_sols: int = 2**31 - 1
    simplex_iterations: int = 2**31 - 1
    rel_gap: float = 1e-4
    heuristic_effort: float = 0.05  # HiGHS' default share of MILP work spent on primal heuristics
    sub_mip_heuristics: bool = True  # RINS, RENS, root reduced-cost and feasibility jump (most of a root's time)
    safety_s: float = 600.0  # a guard against hangs, never a result-shaping limit (see module docstring)


@dataclass(frozen=True)
class Solution:
    status: str                # HiGHS' model status, e.g. "Optimal", "Infeasible", "Node limit reached"
    optimal: bool              # solved to optimality (MILP: within rel_gap)
    infeasible: bool
    objective: float | None    # the best solution's objective (None: no feasible solution found)
    dual_bound: float | None   # a lower bound on the optimum (LP optimum; MILP dual bound); None if unknown
    x: np.ndarray | None       # the best solution found
    hit_time_limit: bool = False
    nodes: int = 0


def _csc(a, n_rows: int, n_cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if a is None:
        return np.zeros(n_cols + 1, dtype=np.int32), np.zeros(0, dtype=np.int32), np.zeros(0)
    import scipy.sparse as sp

    m = sp.csc_matrix(a)
    if m.shape != (n_rows, n_cols):
        raise ValueError(f"constraint matrix is {m.shape}, expected {(n_rows, n_cols)}")
    m.sum_duplicates()
    return m.indptr.astype(np.int32), m.indices.astype(np.int32), m.data.astype(float)


def _finite_or_inf(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=float).copy()
    v[np.isposinf(v)] = INF
    v[np.isneginf(v)] = -INF
    return v


def solve(cost, a, row_lower, row_upper, col_lower, col_upper, integrality=None,
          limits: WorkLimits | None = None) -> Solution:
    """Minimise cost·x s.t. row_lower <= A x <= row_upper, col_lower <= x <= col_upper (x_j integer where
    integrality[j] is true). `a` is any scipy sparse matrix (or None with no rows)."""
    limits = limits or WorkLimits()
    cost = np.asarray(cost, dtype=float)
    n_cols = cost.size
    row_lower = np.asarray(row_lower, dtype=float).reshape(-1)
    row_upper = np.asarray(row_upper, dtype=float).reshape(-1)
    n_rows = row_lower.size
    h = highspy._Highs()
    h.setOptionValue("output_flag", False)  # first, before any call that could print (see module docstring)
    h.setOptionValue("log_to_console", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("mip_rel_gap", float(limits.rel_gap))
    h.setOptionValue("mip_max_nodes", int(limits.max_nodes))
    h.setOptionValue("mip_max_leaves", int(limits.max_leaves))
    h.setOptionValue("mip_max_improving_sols", int(limits.max_improving_sols))
    h.setOptionValue("simplex_iteration_limit", int(limits.simplex_iterations))
    h.setOptionValue("mip_heuristic_effort", float(limits.heuristic_effort))
    h.setOptionValue("time_limit", float(limits.safety_s))
    if not limits.sub_mip_heuristics:
        for name in ("mip_heuristic_run_rins", "mip_heuristic_run_rens", "mip_heuristic_run_root_reduced_cost",
                     "mip_heuristic_run_feasibility_jump"):
            h.setOptionValue(name, False)
    lp = highspy.HighsLp()
    lp.num_col_ = n_cols
    lp.num_row_ = n_rows
    lp.col_cost_ = cost
    lp.col_lower_ = _finite_or_inf(np.broadcast_to(np.asarray(col_lower, dtype=float), (n_cols,)))
    lp.col_upper_ = _finite_or_inf(np.broadcast_to(np.asarray(col_upper, dtype=float), (n_cols,)))
    lp.row_lower_ = _finite_or_inf(row_lower)
    lp.row_upper_ = _finite_or_inf(row_upper)
    start, index, value = _csc(a, n_rows, n_cols)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_ = n_cols
    lp.a_matrix_.num_row_ = n_rows
    lp.a_matrix_.start_ = start
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = value
    is_mip = integrality is not None and bool(np.any(integrality))
    if is_mip:
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                           for i in np.asarray(integrality, dtype=bool)]
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    text = h.modelStatusToString(status)
    optimal = status == highspy.HighsModelStatus.kOptimal
    infeasible = status == highspy.HighsModelStatus.kInfeasible
    has_x = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value, dtype=float) if has_x else None
    objective = float(info.objective_function_value) if has_x else None
    if is_mip:
        bound = float(info.mip_dual_bound)
        dual = bound if math.isfinite(bound) and abs(bound) < INF else None
    else:
        dual = objective if optimal else None
    return Solution(text, optimal, infeasible, objective, dual, x,
                    hit_time_limit=status == highspy.HighsModelStatus.kTimeLimit,
                    nodes=int(info.mip_node_count) if is_mip else 0)
