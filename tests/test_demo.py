"""The README's main job: `costplane demo` on the embedded defaults runs every step and uses SQLite."""

from __future__ import annotations

import os
import subprocess
import sys

from costplane.store import PlanRow, Store


def test_demo_runs_every_step_on_the_embedded_defaults(tmp_path):
    env = {**os.environ, "COSTPLANE_HOME": str(tmp_path), "COLUMNS": "160"}
    env.pop("COSTPLANE_DB_URL", None)
    proc = subprocess.run([sys.executable, "-m", "costplane", "demo"], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for step in ("place", "plan", "replay", "jobs", "measure", "forecast", "ingest", "training", "serve"):
        assert f" {step} " in proc.stdout, f"demo step {step} missing"
    # The fleet plan was stored in the default SQLite store, with the optimal total the table shows.
    store = Store.open(f"sqlite:///{tmp_path / 'costplane.db'}")
    with store.session() as s:
        plans = s.query(PlanRow).all()
        assert len(plans) == 1 and plans[0].status == "optimal"
        assert plans[0].total_usd < plans[0].naive_total_usd
    assert f"${plans[0].total_usd:,.2f}" in proc.stdout
