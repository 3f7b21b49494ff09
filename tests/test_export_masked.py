"""`costplane export`: no original name (team, project, workload, namespace, host, resource) and no
original time survives in any output file; numbers and joins survive; one key masks alike."""

from __future__ import annotations

import csv
import json
import stat

from costplane.store import DecisionRow, Store

NAMES = ("research-secret", "proj-atlas", "llama-train-7", "ns-private", "gpu-host-0042", "i-0deadbeef1234",
         "acct-998877", "Amazon Elastic Compute", "chat-prod", "cost-center-zeta")
T0 = 1_749_988_800.0


def _seed(url: str) -> Store:
    store = Store.open(url)
    store.add_cost_records([{
        "source": "focus", "line_key": "k1", "period_start_s": T0, "period_end_s": T0 + 3600, "billed_cost_usd": 98.32,
        "effective_cost_usd": 61.92, "gpu_hours": 8.0, "team": "research-secret", "project": "proj-atlas",
        "workload": "llama-train-7", "resource_id": "i-0deadbeef1234", "service": "Amazon Elastic Compute",
        "cloud": "aws", "region": "us-east-1",
        "tags": {"team": "research-secret", "cost-center-zeta": "yes", "_focus": {"ResourceName": "gpu-host-0042",
                                                                              "BillingAccountId": "acct-998877"}}}])
    store.add_usage_samples([{
        "source": "prometheus", "metric": "gpu_util_pct", "series_key": "Hostname=gpu-host-0042,namespace=ns-private",
        "ts_s": T0 + 60, "value": 87.5, "workload": "llama-train-7", "team": "research-secret", "project": "proj-atlas",
        "labels": {"Hostname": "gpu-host-0042", "namespace": "ns-private"}}])
    with store.session() as s:
        s.add(DecisionRow(cycle_id="cycle-29166480", created_at_s=T0 + 120, kind="scale",
                          target="deployment/ns-private/chat-prod", team="research-secret",
                          desired={"replicas": 3, "policy": "hybrid"},
                          observation={"current_replicas": 2, "demand_per_s": [4.0, 5.5], "service": "chat-prod"},
                          reasons=["chat-prod demand rising in ns-private"], actuator="dry-run"))
    return store


def test_no_original_name_or_time_survives_and_numbers_do(cli, tmp_path):
    db = f"sqlite:///{tmp_path / 'x.db'}"
    _seed(db)
    out, key = tmp_path / "share", tmp_path / "export.key"
    r = cli("export", "--out", str(out), "--key-file", str(key), "--db", db, "--json")
    assert r.code == 0, r.err
    assert r.json()["files"] == {"usage.csv": 1, "cost.csv": 1, "decisions.csv": 1}
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    texts = {p.name: p.read_text() for p in out.iterdir()}
    assert set(texts) == {"usage.csv", "cost.csv", "decisions.csv"}
    for name, text in texts.items():
        for original in (*NAMES, "1749988"):
            assert original.lower() not in text.lower(), (name, original)
    cost = next(csv.DictReader((out / "cost.csv").open()))
    assert float(cost["billed_cost_usd"]) == 98.32 and float(cost["gpu_hours"]) == 8.0
    assert float(cost["period_start_s"]) == 0.0 and float(cost["period_end_s"]) == 3600.0
    usage = next(csv.DictReader((out / "usage.csv").open()))
    decision = next(csv.DictReader((out / "decisions.csv").open()))
    assert float(usage["value"]) == 87.5 and float(usage["ts_s"]) == 60.0
    assert usage["team"] == cost["team"] == decision["team"]  # one key: joins survive
    assert json.loads(usage["labels"])["Hostname"].startswith("m_")
    assert decision["target"].startswith("deployment/m_") and float(decision["desired_replicas"]) == 3
    # The same key masks alike in a second export; an explicit shift is applied as given.
    again = tmp_path / "again"
    assert cli("export", "--out", str(again), "--key-file", str(key), "--shift-s", "1000", "--db", db).code == 0
    second = next(csv.DictReader((again / "cost.csv").open()))
    assert second["team"] == cost["team"] and float(second["period_start_s"]) == T0 - 1000
    # Without a key file, a fresh key: the masks differ.
    fresh = tmp_path / "fresh"
    assert cli("export", "--out", str(fresh), "--db", db).code == 0
    assert next(csv.DictReader((fresh / "cost.csv").open()))["team"] != cost["team"]
