"""Cumulative counters on /metrics (costplane_cost_usd_total, decisions, actuations) used the way Grafana's
increase() uses them, and the alerting rules checked and unit-tested by promtool.

Ledger: api_fixtures (research/train 32 $, product/chat 8 + 100 $ ten days ago, an idle node 3 $).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from api_fixtures import NOW_S, running_world
from conftest import IN_CI
from prometheus_client.parser import text_string_to_metric_families

from costplane.store import DecisionRow

GRAFANA = Path(__file__).resolve().parents[1] / "grafana"
H = 3600.0


def _scrape(w) -> tuple[dict, dict]:
    r = w.client.get("/metrics", headers=w.auth("admin"))
    assert r.status_code == 200, r.text
    fams = {f.name: f for f in text_string_to_metric_families(r.text)}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in fams.values() for s in f.samples}
    return fams, samples


def _cost(samples, team, workload) -> float:
    return samples[("costplane_cost_usd_total", (("team", team), ("workload", workload)))]


@pytest.fixture
def world(tmp_path):
    with running_world(f"sqlite:///{tmp_path / 'c.db'}") as w:
        yield w


def test_cost_counter_is_cumulative_and_increase_is_the_cost_between_scrapes(world):
    fams, s = _scrape(world)
    assert fams["costplane_cost_usd"].type == "counter"
    assert _cost(s, "research", "train") == pytest.approx(32.0)
    assert _cost(s, "product", "chat") == pytest.approx(108.0)
    assert _cost(s, "(unallocated)", "(unallocated)") == pytest.approx(3.0)
    first = sum(v for (name, _), v in s.items() if name == "costplane_cost_usd_total")
    # An hour passes and one more hour of train is billed: increase() over it is that hour's cost.
    world.store.add_cost_records([{"source": "test", "line_key": "train-3", "team": "research", "workload": "train",
                                   "period_start_s": NOW_S, "period_end_s": NOW_S + H, "billed_cost_usd": 12.5,
                                   "effective_cost_usd": 12.5, "gpu_hours": 0.0}])
    world.clock.advance(H / 2)  # half the line is in the past: counted half (prorated like /cost)
    _, mid = _scrape(world)
    assert _cost(mid, "research", "train") == pytest.approx(32.0 + 6.25)
    world.clock.advance(H)
    _, later = _scrape(world)
    assert _cost(later, "research", "train") == pytest.approx(44.5)
    assert _cost(later, "product", "chat") == pytest.approx(108.0)  # no new cost: flat, never down
    increase = sum(v for (name, _), v in later.items() if name == "costplane_cost_usd_total") - first
    assert increase == pytest.approx(12.5)


def test_decision_and_actuation_counters(world):
    _, s = _scrape(world)
    assert s[("costplane_decisions_total", (("kind", "scale"), ("team", "product")))] == 2.0
    assert s[("costplane_decisions_total", (("kind", "scale"), ("team", "research")))] == 1.0
    assert not any(name == "costplane_actuations_total" for name, _ in s)
    with world.store.session() as session:
        row = session.query(DecisionRow).filter(DecisionRow.team == "product").first()
        row.actuated_at_s, row.actuator = NOW_S, "kubernetes"
    _, s = _scrape(world)
    assert s[("costplane_actuations_total", (("actuator", "kubernetes"), ("team", "product")))] == 1.0


def test_team_token_sees_only_its_counters(world):
    r = world.client.get("/metrics", headers=world.auth("view-research"))
    teams = {s.labels.get("team") for f in text_string_to_metric_families(r.text) for s in f.samples
             if s.name == "costplane_cost_usd_total"}
    assert teams == {"research"}


def test_dashboard_uses_the_counters():
    board = json.loads((GRAFANA / "costplane-dashboard.json").read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    assert any(re.search(r"increase\(costplane_cost_usd_total\{[^}]*\}\[\$__range\]\)", e) for e in exprs)
    assert any("rate(costplane_cost_usd_total" in e for e in exprs)
    assert any("costplane_actuations_total" in e for e in exprs)


@pytest.fixture(scope="module")
def promtool() -> str:
    exe = shutil.which("promtool")
    if exe is None:
        reason = "promtool not installed (Debian's prometheus package; scripts/test.sh installs it)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return exe


def test_alert_rules_pass_promtool_check_and_unit_tests(promtool):
    check = subprocess.run([promtool, "check", "rules", str(GRAFANA / "alerts.yaml")], capture_output=True,
                           text=True, timeout=60, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS" in check.stdout
    test = subprocess.run([promtool, "test", "rules", str(GRAFANA / "alerts_test.yaml")], capture_output=True,
                          text=True, timeout=120, check=False)
    assert test.returncode == 0, test.stdout + test.stderr
    rules = (GRAFANA / "alerts.yaml").read_text()
    for name in ("CostplaneBudgetExceeded", "CostplaneBudgetBurnRateHigh", "CostplaneApiErrorBudgetBurnFast"):
        assert f"alert: {name}" in rules
