"""HiGHS called directly: silent on stdout (no banner, no log), and the same numbers on every run."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import scipy.sparse as sp

from costplane.core.highs import WorkLimits, solve

SCRIPT = textwrap.dedent("""
    import numpy as np, scipy.sparse as sp
    from costplane.core.highs import solve
    print("before", flush=True)
    # a knapsack: max 5a + 4b + 3c s.t. 2a + 3b + c <= 4, a, b, c in {0, 1}: a and c
    r = solve([-5.0, -4.0, -3.0], sp.csr_matrix([[2.0, 3.0, 1.0]]), [-np.inf], [4.0], 0.0, 1.0, [1, 1, 1])
    print(r.objective, [int(round(v)) for v in r.x], flush=True)
""")


def test_no_solver_output_reaches_stdout_or_stderr():
    p = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["before", "-8.0 [1, 0, 1]"]
    assert p.stderr == ""


def test_lp_and_milp_values_and_bounds():
    a = sp.csr_matrix([[1.0, 1.0]])
    lp = solve([1.0, 2.0], a, [1.5], [np.inf], 0.0, np.inf)
    assert lp.optimal and lp.objective == 1.5 and lp.dual_bound == 1.5
    mip = solve([1.0, 2.0], a, [1.5], [np.inf], 0.0, np.inf, [1, 1])
    assert mip.optimal and mip.objective == 2.0 and mip.dual_bound == 2.0 and list(mip.x) == [2.0, 0.0]
    bad = solve([1.0], sp.csr_matrix([[1.0]]), [2.0], [np.inf], 0.0, 1.0)
    assert bad.infeasible and bad.objective is None


def test_node_limit_still_gives_a_valid_dual_bound_and_repeats_exactly():
    rng = np.random.default_rng(1)
    n = 40  # a random set-cover: hard enough that one node does not prove optimality
    a = sp.csr_matrix((rng.uniform(size=(60, n)) < 0.12).astype(float))
    a = sp.vstack([a[np.asarray(a.sum(axis=1)).ravel() > 0]])
    cost = rng.integers(1, 20, size=n).astype(float)
    args = (cost, a, np.ones(a.shape[0]), np.full(a.shape[0], np.inf), 0.0, 1.0, np.ones(n))
    full = solve(*args)
    root = solve(*args, WorkLimits(max_nodes=1, sub_mip_heuristics=False))
    again = solve(*args, WorkLimits(max_nodes=1, sub_mip_heuristics=False))
    assert full.optimal
    assert root.dual_bound <= full.objective + 1e-9
    assert (root.dual_bound, root.objective, root.status) == (again.dual_bound, again.objective, again.status)
