"""The perfect-foresight oracle: a lower bound on the cost of any replica schedule that serves all demand.

Model (the replay's, in steps of `step_s`): a replica started at step b is paid from b and serves from
b + c (c = ceil(cold_start_s / step_s)); `N0` replicas are up and ready at step 0 for free (the service
was running before the trace). Ready capacity per step is C = capacity_per_replica x step_s. Let a_t be
demand arriving in step t, D = floor(max_queue_s / step_s) the queue budget in steps, u_t the replicas
up (paid) and rho_t <= u_t the ready ones. Cost = price x step_s x sum_t u_t.

No queue (D = 0): closed form per layer. Demand needs n_t = min(max_replicas, ceil(a_t / C)) ready
replicas in step t (plus `floor` = max(min_replicas, 1) at all times when scale_to_zero is false).
Write S_k = {t : n_t >= k} and U_k = {t : u_t >= k}, so sum_t u_t = sum_k |U_k|. Claim: every maximal
run [b, e) of U_k that does not start at step 0 with k <= N0 has rho_t < k on [b, b + c): a replica
ready at t in that prefix was started at or before t - c < b and is still up, so it was up at b - 1,
where fewer than k were up. Hence S_k must be covered by runs of U_k minus their first c steps, and

    |U_k| >= cost_k = sum_i len(run_i of S_k) + sum_gaps min(gap, c) + lead_k

where the gaps are those between consecutive runs of S_k (keep the replica through a gap or pay a
fresh cold start, whichever is shorter), and lead_k = min(first start, c) if k <= N0 (keep the
initial replica or restart it) else c. Layers are independent, so sum_k cost_k is the exact minimum
over integer schedules (the layer construction attains it) and a lower bound for every policy.
Worked example: c = 2, a replica needed in steps {3, 4} and {6}, k <= N0: 2 + 1 + min(1, 2) +
min(3, 2) = 6 step-replicas (keep it through the 1-step gap; restart rather than idle 3 steps).

Decision ticks: a policy asked every E steps (the replay's decision interval) starts and stops replicas
only on ticks 0, E, 2E, ...; its ready fleet grows only on a tick + c and shrinks only on a tick. The
oracle for that interval has the same restriction (E = 1: every step), so it is still a lower bound for
every policy run at that interval, and a tighter one. In the closed form each run [s, e) of S_k needs the
replica paid on [the tick at or before s - c, the tick at or after e); the layer pays the union of those
intervals (overlaps = keeping it through the gap), which is the per-step formula above when E = 1.

Queue (D > 0): demand of step t may be served in steps t..t+D. LP relaxation (HiGHS), variables
rho_t in [floor, max_replicas], starts x_t >= 0 (ready at t + c), cumulative served s_t:

    min   sum_t rho_t + c sum_t x_t
    s.t.  rho_0 <= N0;  rho_t - rho_{t-1} - x_{t-c} <= 0                (readiness needs a start c earlier)
          s_t - s_{t-1} - C rho_t <= 0                                   (capacity per step)
          min(A_{t-D}, M_t) <= s_t <= A_t                                (serve by the deadline, not before arrival)

with A the cumulative arrivals and M_t what a fleet at max_replicas could have served by t (so an
undersized max_replicas leaves the LP feasible). With decision ticks, rho is one variable per segment
between the moments the fleet may change, x one per tick, and rho may not fall between ticks. Every
replay schedule maps to a feasible point of equal cost, so the LP optimum is a lower bound. Long traces
are cut into windows, each solved with a free initial fleet and no deadline past its end: every window
then relaxes the restriction of the global schedule, so the sum of window optima is still a lower bound.

Tighter by default on short traces: the same program with rho and x integer (the replay's schedules
are integer, so its optimum is still a lower bound) is handed to HiGHS' branch and cut when the trace
fits one window. Whenever HiGHS stops (optimal, gap or work limit), its *dual* bound is at most the
integer optimum (it is the least bound over open nodes, each a relaxation of its subtree), so
max(LP, dual bound) is a valid lower bound. The work is bounded in branch-and-bound nodes, never in
seconds, on one thread with a fixed seed, so the bound is the same on every machine and every run
(`core.highs`). By default only the root node runs (`MILP_AUTO_NODES`), without HiGHS' sub-MIP
heuristics: its cuts close most of the LP's gap (on the bundled one-hour chat sample the bound rises
from 10,014 to 10,870 replica-steps, about 3 s of one core) and the root is most of what a longer
search buys (10,904 after 50 nodes). `milp_nodes(n)` spends more; `milp_nodes(0)` keeps the LP alone.

Upper bound (`upper_replica_steps`, hence `gap`): the LP's fleet rounded up per segment, with the
starts it then needs, is an integer schedule the replay could run (more capacity, same constraints), so
its cost is at least the integer optimum; the MILP's incumbent replaces it when cheaper.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from costplane.autoscale import ServiceSpec
from costplane.core.highs import WorkLimits, solve

LP_WINDOW_STEPS = 14_400  # 4 h at 1 s: HiGHS solves one window in about a second
# Default integer-program work on a one-window trace: counted in branch-and-bound nodes, never seconds, so
# the bound is the same on every machine (root cuts do most of the work; see the module docstring).
MILP_AUTO_NODES = 1
MILP_AUTO_MAX_STEPS = LP_WINDOW_STEPS  # longer traces: LP only, so a week's oracle stays under a minute
_MILP_NODES: list[int | None] = [None]  # per-window MILP node budget; None = automatic (see milp_nodes())


def milp_limits(nodes: int) -> WorkLimits:
    """The deterministic work limits of one window's MILP with a budget of `nodes` branch-and-bound nodes."""
    if nodes <= 1:  # the root alone: its cuts give the bound; the LP's rounding gives the schedule
        return WorkLimits(max_nodes=1, rel_gap=1e-4, safety_s=MILP_SAFETY_S, sub_mip_heuristics=False)
    return WorkLimits(max_nodes=nodes, rel_gap=1e-4, safety_s=MILP_SAFETY_S)


MILP_SAFETY_S = 300.0  # a hang guard only: a MILP that reaches it is dropped for the (deterministic) LP


@contextmanager
def milp_nodes(nodes: int | None) -> Iterator[None]:
    """Within the block, the queue bound runs the MILP for up to `nodes` nodes per window, keeping its dual bound.

    HiGHS' MILP dual bound is valid whenever it stops (it never exceeds the integer optimum) and is
    kept only when above the LP bound, so this only tightens the oracle. 0 = the LP only; None = the
    default (MILP_AUTO_NODES on traces of at most MILP_AUTO_MAX_STEPS steps, LP only on longer ones).
    """
    old = _MILP_NODES[0]
    _MILP_NODES[0] = None if nodes is None else max(0, int(nodes))
    try:
        yield
    finally:
        _MILP_NODES[0] = old


@dataclass(frozen=True)
class OracleResult:
    replica_steps: float          # sum over steps of replicas paid (cold starts included)
    step_s: float
    method: str                   # "closed-form", "lp" or "milp-dual-bound" (max of LP and MILP dual bound)
    unservable_units: float       # demand no schedule within max_replicas can serve in time
    # The cheapest integer schedule found (an upper bound on the optimum the bound approaches), when one
    # was: the closed form's own value, or HiGHS' incumbent on a one-window trace.
    upper_replica_steps: float | None = None

    @property
    def replica_hours(self) -> float:
        return self.replica_steps * self.step_s / 3600.0

    @property
    def gap(self) -> float | None:
        """How far above the bound the integer optimum may lie, as a fraction of the best schedule found."""
        if self.upper_replica_steps is None or self.upper_replica_steps <= 0:
            return None
        return max(0.0, (self.upper_replica_steps - self.replica_steps) / self.upper_replica_steps)


def cold_start_steps(spec: ServiceSpec, step_s: float) -> int:
    return int(math.ceil(spec.cold_start_s / step_s - 1e-9))


def queue_steps(spec: ServiceSpec, step_s: float) -> int:
    return int(math.floor(spec.max_queue_s / step_s + 1e-9))


def needed_replicas(counts: np.ndarray, spec: ServiceSpec, step_s: float) -> np.ndarray:
    """n_t: ready replicas step t needs with no queue (not yet clipped to max_replicas)."""
    per_step = spec.capacity_per_replica * step_s
    return np.ceil(counts / per_step - 1e-9).clip(min=0).astype(np.int64)


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and (exclusive) ends of the True runs of a boolean vector."""
    edges = np.diff(np.concatenate([[0], mask.view(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def layer_cost(mask: np.ndarray, cold_steps: int, initially_up: bool, every: int = 1) -> int:
    """Minimum paid steps of one replica layer that must be ready on `mask` (see the module docstring).

    Each run [s, e) of `mask` needs the replica paid on [tick at or before s - c, tick at or after e):
    it can be started and stopped only on decision ticks. The layer pays the union of those intervals
    (overlapping ones mean keeping the replica through the gap). An initially-up replica may instead
    be kept from step 0.
    """
    starts, ends = _runs(mask)
    if starts.size == 0:
        return 0
    begin = (starts - cold_steps) // every * every
    if initially_up:
        begin[0] = max(int(begin[0]), 0)
    finish = np.minimum(-(-ends // every) * every, mask.size)
    # union of [begin_i, finish_i): both sequences are non-decreasing, so a running max merges overlaps
    reach = np.maximum.accumulate(finish)
    new_block = np.concatenate([[True], begin[1:] >= reach[:-1]])
    block = np.cumsum(new_block) - 1
    block_begin = begin[new_block]
    block_end = np.zeros(block_begin.size, dtype=np.int64)
    np.maximum.at(block_end, block, finish)
    return int((block_end - block_begin).sum())


def closed_form(counts: np.ndarray, spec: ServiceSpec, step_s: float, initial_replicas: int,
                decision_interval_s: float | None = None) -> OracleResult:
    need = needed_replicas(counts, spec, step_s)
    per_step = spec.capacity_per_replica * step_s
    unservable = float(np.maximum(counts - spec.max_replicas * per_step, 0).sum())
    need = np.minimum(need, spec.max_replicas)
    floor = 0 if spec.scale_to_zero else spec.floor_replicas
    c = cold_start_steps(spec, step_s)
    total = 0
    for k in range(1, int(max(need.max(initial=0), floor)) + 1):
        if k <= floor:
            total += need.size  # up for the whole trace; the initial fleet covers it from step 0
        else:
            total += layer_cost(need >= k, c, initially_up=k <= initial_replicas,
                                every=decision_steps(decision_interval_s, step_s))
    return OracleResult(float(total), step_s, "closed-form", unservable, float(total))


def max_fleet_served(counts: np.ndarray, per_step_capacity: np.ndarray, d: int) -> np.ndarray:
    """Cumulative demand served on time (FIFO, deadline d steps) by the given capacity per step."""
    served = np.zeros(counts.size)
    queue: list[list[float]] = []  # [arrival step, units left]
    head = 0
    total = 0.0
    for t in range(counts.size):
        while head < len(queue) and queue[head][0] < t - d:
            head += 1
        if counts[t] > 0:
            queue.append([t, float(counts[t])])
        cap = per_step_capacity[t]
        while cap > 1e-12 and head < len(queue):
            take = min(cap, queue[head][1])
            queue[head][1] -= take
            cap -= take
            total += take
            if queue[head][1] <= 1e-12:
                head += 1
        served[t] = total
    return served


def _decision_segments(n: int, c: int, every: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the ready fleet may change: decision ticks (scale down) and ticks + c (replicas become ready).

    Returns the segment starts, the ticks whose starts become ready inside the window, and for each such
    start the segment it lands in.
    """
    ticks = np.arange(0, n, every)
    starts = ticks[ticks + c < n]
    bounds = np.union1d(ticks, starts + c)
    return bounds, starts, np.searchsorted(bounds, starts + c)


def _solve_window(counts: np.ndarray, spec: ServiceSpec, step_s: float, c: int, d: int, rho0_max: float,
                  floor: int, integer: WorkLimits | None = None, every: int = 1
                  ) -> tuple[float, float | None, bool]:
    """(lower bound, cost of the best integer schedule found or None, whether the MILP's bound was used)."""
    n = counts.size
    per_step = spec.capacity_per_replica * step_s
    cum = np.cumsum(counts)
    due = np.concatenate([np.zeros(min(d, n)), cum[: max(n - d, 0)]])
    cap = np.full(n, spec.max_replicas * per_step)
    cap[: min(c, n)] = rho0_max * per_step
    lower = np.minimum(due, max_fleet_served(counts, cap, d)) if cum[-1] > 0 else np.zeros(n)
    seg_start, tick_starts, lands = _decision_segments(n, c, every)
    tick_starts, lands = tick_starts[lands > 0], lands[lands > 0]  # c = 0: a start at step 0 is ready at once
    j_n, m = seg_start.size, tick_starts.size
    seg_len = np.diff(np.append(seg_start, n)).astype(float)
    seg_of = np.searchsorted(seg_start, np.arange(n), side="right") - 1
    # variable layout: rho per segment (j_n) | starts x per tick (m) | cumulative served s per step (n)
    ir, ix, is_ = 0, j_n, j_n + m
    rows, cols, vals = [], [], []
    r = 0
    j = np.arange(1, j_n)
    # rho_j - rho_{j-1} - x(landing at j) <= 0: the ready fleet grows only by starts made c steps earlier
    rr = np.arange(r, r + j.size)
    rows += [rr, rr, rr[lands - 1]]
    cols += [ir + j, ir + j - 1, ix + np.arange(m)]
    vals += [np.ones(j.size), -np.ones(j.size), -np.ones(m)]
    r += j.size
    # rho_{j-1} - rho_j <= 0 between ticks: the fleet shrinks only when the policy is asked
    between = j[seg_start[j] % every != 0]
    rr = np.arange(r, r + between.size)
    rows += [rr, rr]
    cols += [ir + between - 1, ir + between]
    vals += [np.ones(between.size), -np.ones(between.size)]
    r += between.size
    # s_t - s_{t-1} - C rho_seg(t) <= 0
    t = np.arange(n)
    rr = np.arange(r, r + n)
    rows += [rr, rr[1:], rr]
    cols += [is_ + t, is_ + t[1:] - 1, ir + seg_of]
    vals += [np.ones(n), -np.ones(n - 1), -per_step * np.ones(n)]
    r += n
    a = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(r, j_n + m + n))
    cost = np.concatenate([seg_len, np.full(m, float(c)), np.zeros(n)])
    lo_rho = np.full(j_n, float(floor))
    hi_rho = np.full(j_n, float(spec.max_replicas))
    hi_rho[0] = max(rho0_max, floor) if c > 0 else spec.max_replicas
    bounds = np.concatenate([
        np.column_stack([lo_rho, hi_rho]),
        np.column_stack([np.zeros(m), np.full(m, np.inf)]),
        np.column_stack([lower, cum]),
    ])
    res = solve(cost, a, np.full(r, -np.inf), np.zeros(r), bounds[:, 0], bounds[:, 1])
    if not res.optimal or res.objective is None or res.x is None:  # pragma: no cover - built to be feasible
        raise RuntimeError(f"oracle LP failed: {res.status}")
    lp = res.objective
    # The LP's fleet rounded up is an integer schedule (more capacity, same starts pattern): an upper bound.
    rho = np.ceil(res.x[:j_n] - 1e-7)
    grow = np.maximum(rho[lands] - rho[lands - 1], 0.0)
    upper = float(seg_len @ rho + c * grow.sum())
    if integer is not None:
        integrality = np.concatenate([np.ones(j_n + m), np.zeros(n)])
        mip = solve(cost, a, np.full(r, -np.inf), np.zeros(r), bounds[:, 0], bounds[:, 1], integrality, integer)
        if mip.dual_bound is not None and not mip.hit_time_limit:
            best = upper if mip.objective is None else min(upper, mip.objective)
            return max(mip.dual_bound, lp), best, True
    return lp, upper, False


def decision_steps(decision_interval_s: float | None, step_s: float) -> int:
    """Steps between the policy's decisions, as the replay rounds them (1 = the fleet may change every step)."""
    return 1 if decision_interval_s is None else max(1, int(round(decision_interval_s / step_s)))


def lp_bound(counts: np.ndarray, spec: ServiceSpec, step_s: float, initial_replicas: int,
             window_steps: int = LP_WINDOW_STEPS, decision_interval_s: float | None = None) -> OracleResult:
    every = decision_steps(decision_interval_s, step_s)
    window_steps = every * max(1, -(-window_steps // every))  # windows start on decision ticks
    c = cold_start_steps(spec, step_s)
    d = queue_steps(spec, step_s)
    floor = 0 if spec.scale_to_zero else spec.floor_replicas
    nodes = _MILP_NODES[0]
    if nodes is None:
        nodes = MILP_AUTO_NODES if counts.size <= MILP_AUTO_MAX_STEPS else 0
    integer = milp_limits(nodes) if nodes > 0 else None
    used_milp = False
    total = 0.0
    uppers: list[float | None] = []
    for start in range(0, counts.size, window_steps):
        chunk = counts[start: start + window_steps]
        rho0 = initial_replicas if start == 0 else spec.max_replicas  # later windows: free initial fleet
        lower, upper, milp = _solve_window(chunk, spec, step_s, c, d, rho0, floor, integer, every)
        used_milp = used_milp or milp
        total += lower
        uppers.append(upper)
    # Windows relax their edges, so only a one-window incumbent is a schedule for the whole trace.
    upper_total = uppers[0] if len(uppers) == 1 else None
    per_step = spec.capacity_per_replica * step_s
    cap = np.full(counts.size, spec.max_replicas * per_step)
    cap[: min(c, counts.size)] = initial_replicas * per_step
    served = max_fleet_served(counts, cap, d)
    unservable = float(counts.sum() - (served[-1] if served.size else 0.0))
    return OracleResult(total, step_s, "milp-dual-bound" if used_milp else "lp", max(0.0, unservable), upper_total)


def oracle(counts: np.ndarray, spec: ServiceSpec, step_s: float, initial_replicas: int,
           decision_interval_s: float | None = None) -> OracleResult:
    """The lower bound for policies asked every `decision_interval_s` (None: every step).

    Closed form without a queue; with one, the HiGHS LP relaxation, tightened by the MILP on short traces.
    """
    if queue_steps(spec, step_s) == 0:
        return closed_form(counts, spec, step_s, initial_replicas, decision_interval_s)
    return lp_bound(counts, spec, step_s, initial_replicas, decision_interval_s=decision_interval_s)
