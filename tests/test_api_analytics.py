"""The optional routes: cost allocation, waste, forecasts, replays (each mounted when its package exists)."""

from __future__ import annotations

import pytest
from api_fixtures import running_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with running_world(f"sqlite:///{tmp_path_factory.mktemp('an') / 'an.db'}") as w:
        yield w


def test_cost_rows_plus_idle_equal_total_to_the_cent(world):
    r = world.client.get("/api/v1/cost?window=3h&by=team", headers=world.auth("admin")).json()
    rows = {row["key"]: row for row in r["rows"]}
    assert {k: v["cost_usd"] for k, v in rows.items()} == {"research": 32.0, "product": 8.0}
    assert r["idle_usd"] == 3.0 and r["total_usd"] == 43.0
    assert round(sum(v["cost_usd"] for v in rows.values()) + r["idle_usd"], 2) == r["total_usd"]
    assert rows["product"]["gpu_hours"] == 2.0 and rows["product"]["efficiency"] == 0.5
    assert rows["research"]["efficiency"] is None  # no GPU-hours recorded: efficiency is unknown, not 0


def test_cost_is_team_scoped_and_idle_belongs_to_no_team(world):
    r = world.client.get("/api/v1/cost?window=30d&by=workload", headers=world.auth("view-product")).json()
    assert r["rows"] == [{"key": "chat", "kind": "allocated", "cost_usd": 108.0, "gpu_hours": 2.0, "efficiency": 0.5}]
    assert r["idle_usd"] == 0.0 and r["total_usd"] == 108.0
    assert world.client.get("/api/v1/cost?team=research", headers=world.auth("view-product")).status_code == 403


def test_waste_prices_gpu_hours_at_what_the_lines_paid(world):
    r = world.client.get("/api/v1/waste?window=1d", headers=world.auth("view-product")).json()
    (chat,) = r["workloads"]
    # two samples 20 min apart, the last standing for the median interval: 40 min paid; each sample holds for
    # at most Prometheus' 300 s staleness (CONTRACTS.md waste): 25 % and 75 % of 5 min used, 30 min unobserved
    assert chat["paid_gpu_hours"] == pytest.approx(2 / 3, abs=1e-6)
    assert chat["used_gpu_hours"] == pytest.approx(1 / 12, abs=1e-6)
    assert chat["unobserved_gpu_hours"] == pytest.approx(1 / 2, abs=1e-6)
    assert chat["idle_usd"] == pytest.approx(4.0 * 7 / 12, abs=1e-3)  # 4 $ per GPU-hour from chat-1
    assert r["total_idle_usd"] == pytest.approx(chat["idle_usd"])
    priced = world.client.get("/api/v1/waste?window=1d&price_usd_per_gpu_hour=3",
                              headers=world.auth("admin")).json()
    assert priced["workloads"][0]["idle_usd"] == pytest.approx(3.0 * 7 / 12, abs=1e-3)
    empty = world.client.get("/api/v1/waste?window=1d", headers=world.auth("view-research")).json()
    assert empty["workloads"] == [] and empty["total_idle_usd"] == 0


def test_forecast_of_a_line_continues_the_line(world):
    body = {"values": [float(i) for i in range(48)], "horizon": 3, "model": "linear"}
    r = world.client.post("/api/v1/forecasts", json=body, headers=world.auth("view-research")).json()
    assert r["mean"] == pytest.approx([48.0, 49.0, 50.0], abs=1e-6)
    assert all(lo <= m <= hi for lo, m, hi in zip(r["lo"]["80"], r["mean"], r["hi"]["80"]))


def test_backtest_scores_a_seasonal_series(world):
    day = [10, 12, 15, 20, 18, 11] * 8
    r = world.client.post("/api/v1/forecasts/backtests", headers=world.auth("admin"),
                          json={"series": {"a": day}, "horizon": 6, "windows": 2, "model": "seasonal-naive",
                                "season": 6}).json()
    assert (r["series"], r["horizon"], r["windows"]) == (1, 6, 2)
    assert r["smape"] == pytest.approx(0.0, abs=1e-9)


def test_replay_is_never_below_the_oracle(world):
    counts = [0.0] * 60 + [8.0] * 120 + [1.0] * 120
    service = {"name": "svc", "gpu": "L4", "gpus_per_replica": 1, "capacity_per_replica": 2.0, "cold_start_s": 30,
               "min_replicas": 0, "max_replicas": 8, "scale_to_zero": True, "price_usd_per_hour": 3.6}
    for policy in ("static-peak", "hybrid"):
        r = world.client.post("/api/v1/replays", json={"counts": counts, "service": service, "policy": policy},
                              headers=world.auth("view-product")).json()
        assert r["policy"] == policy
        if r["demand_served_fraction"] >= 1.0:
            assert r["cost_usd"] >= r["oracle_cost_usd"] - 1e-9
    peak = world.client.post("/api/v1/replays", json={"counts": counts, "service": service, "policy": "static-peak"},
                             headers=world.auth("admin")).json()
    assert peak["peak_replicas"] == 4  # 8 units/s over 2 units/s per replica
    assert peak["cost_usd"] == pytest.approx(4 * 3.6 * 300 / 3600, rel=0.05)


def test_cost_adds_up_to_the_cent_for_any_ledger(tmp_path):
    """Property: for random lines, rows + idle == total to the cent, and total == the prorated line sum."""
    from api_fixtures import NOW_S
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from sqlalchemy import delete

    from costplane.api._analytics import cost_allocation
    from costplane.store import CostRecord, Store

    store = Store.open(f"sqlite:///{tmp_path / 'prop.db'}")
    line = st.tuples(st.sampled_from(["a", "b", None]), st.sampled_from(["w1", "w2", None]),
                     st.floats(-20 * 3600, 0), st.floats(60, 10 * 3600), st.floats(0, 500))

    @settings(max_examples=25, deadline=None)
    @given(st.lists(line, min_size=1, max_size=12), st.sampled_from(["team", "workload", "project"]))
    def check(lines, by):
        with store.session() as s:
            s.execute(delete(CostRecord))
        store.add_cost_records([
            {"source": "p", "line_key": str(i), "team": team, "workload": workload, "period_start_s": NOW_S + start,
             "period_end_s": NOW_S + start + length, "billed_cost_usd": cost, "effective_cost_usd": cost}
            for i, (team, workload, start, length, cost) in enumerate(lines)])
        start_s = NOW_S - 6 * 3600
        r = cost_allocation(store, start_s, NOW_S, by, None)
        cents = round(100 * sum(x["cost_usd"] for x in r["rows"])) + round(100 * r["idle_usd"])
        assert cents == round(100 * r["total_usd"])
        expected = sum(c * max(0.0, min(NOW_S + s0 + n, NOW_S) - max(NOW_S + s0, start_s)) / n
                       for _, _, s0, n, c in lines)
        assert abs(r["total_usd"] - expected) <= 0.005 + 1e-6 * len(lines)

    check()
