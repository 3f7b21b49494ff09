"""`costplane cost`: the contract's shape and to-the-cent invariant, on the bundled sample and on the store."""

from __future__ import annotations

import pytest

H = 3600.0


@pytest.fixture(autouse=True)
def _empty_home(tmp_path, monkeypatch):
    """A fresh machine: no COSTPLANE_DB_URL, an empty data dir."""
    monkeypatch.delenv("COSTPLANE_DB_URL", raising=False)
    monkeypatch.setenv("COSTPLANE_HOME", str(tmp_path / "home"))


def _sums_to_the_cent(out):
    assert abs(sum(r["cost_usd"] for r in out["rows"]) + out["idle_usd"] - out["total_usd"]) < 0.005


@pytest.mark.parametrize("by", ["team", "project", "workload", "node"])
def test_cost_with_sample_flag_uses_the_bundled_sample(cli, by):
    r = cli("cost", "--window", "7d", "--by", by, "--sample", "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert set(out) >= {"window", "rows", "idle_usd", "total_usd"}
    assert set(out["window"]) >= {"start", "end"}
    assert out["source"].startswith("bundled sample")
    _sums_to_the_cent(out)
    # 4 a2-ultragpu-8g nodes at $23.56656/h for the sample's 22.9167 h (first bin to last bin + 5 min)
    assert out["total_usd"] == pytest.approx(4 * 23.56656 * 22.916667, abs=0.05)
    assert all(set(row) >= {"key", "cost_usd", "gpu_hours", "efficiency"} for row in out["rows"])
    assert all(0 <= row["efficiency"] <= 1 for row in out["rows"])
    if by == "team":
        assert {row["key"] for row in out["rows"]} == {"creative", "marketing", "research"}


def test_window_end_is_the_newest_point_and_end_flag_moves_it(cli):
    whole = cli("cost", "--window", "7d", "--sample", "--json").json()
    assert whole["window"]["end_s"] - whole["window"]["start_s"] == 7 * 86400
    half = cli("cost", "--window", "6h", "--end", str(whole["window"]["end_s"]), "--sample", "--json").json()
    assert half["total_usd"] == pytest.approx(4 * 23.56656 * 6, abs=0.05)
    _sums_to_the_cent(half)


def test_share_idle_moves_idle_into_rows_and_keeps_the_total(cli):
    plain = cli("cost", "--by", "project", "--sample", "--json").json()
    shared = cli("cost", "--by", "project", "--share-idle", "--sample", "--json").json()
    assert plain["idle_usd"] > 100 and shared["idle_usd"] == 0
    assert shared["total_usd"] == plain["total_usd"]
    _sums_to_the_cent(shared)


def test_catalog_without_the_nodes_gives_an_unpriced_bucket(cli, skypilot_dir, tmp_path):
    # A catalog that holds only the AWS offers: the sample's GCP nodes have no price.
    aws_only = tmp_path / "aws"
    aws_only.mkdir()
    (aws_only / "aws").symlink_to(skypilot_dir / "aws", target_is_directory=True)
    out = cli("cost", "--catalog", aws_only, "--sample", "--json").json()
    assert out["total_usd"] == 0 and out["idle_usd"] == 0
    (row,) = out["rows"]
    assert row["kind"] == "unpriced" and row["gpu_hours"] > 500


def test_bad_flags_are_one_line_errors(cli):
    r = cli("cost", "--window", "soon", "--json")
    assert r.code != 0 and len(r.err_lines) == 1 and "To fix" in r.err
    r = cli("cost", "--by", "colour")
    assert r.code != 0 and "team" in r.err


def test_cost_reads_usage_samples_from_the_store(cli, db_url):
    from costplane.store import Store

    store = Store.open(db_url)
    rows = []
    for gpu_idx, (workload, team, util) in enumerate([("chat", "web", 50.0), ("train", "ml", 100.0)]):
        for k in range(60):  # one sample a minute for an hour
            rows.append({"source": "test", "metric": "gpu_util_pct", "series_key": f"{workload}/gpu{gpu_idx}",
                         "ts_s": 1_700_000_000.0 + 60 * k, "value": util, "workload": workload, "team": team,
                         "labels": {"modelName": "NVIDIA H100 80GB HBM3"}})
    store.add_usage_samples(rows)
    out = cli("cost", "--db", db_url, "--by", "team", "--price-usd-per-gpu-hour", "3", "--json").json()
    assert out["source"].startswith("store")
    by = {r["key"]: r for r in out["rows"]}
    assert by["web"]["cost_usd"] == pytest.approx(3.0) and by["web"]["efficiency"] == pytest.approx(0.5)
    assert by["ml"]["efficiency"] == pytest.approx(1.0)
    assert out["total_usd"] == pytest.approx(6.0) and out["idle_usd"] == 0
    # No instance type and no fallback: nothing is priced silently; the series are listed with the fix.
    r = cli("cost", "--db", db_url, "--json")
    unpriced = r.json()
    assert unpriced["total_usd"] == 0 and unpriced["rows"][0]["kind"] == "unpriced"
    assert unpriced["rows"][0]["gpu_hours"] == pytest.approx(2.0)
    (u,) = unpriced["unpriced"]
    assert u["series"] == 2 and "no instance type" in u["reason"] and "node.kubernetes.io/instance-type" in u["fix"]
    assert "To fix" in r.err and "unpriced" in r.err
    # --gpu is an explicit fallback at a stated rule: the median on-demand H100 offer, named.
    by_gpu = cli("cost", "--db", db_url, "--gpu", "H100", "--json").json()
    (p,) = by_gpu["pricing"]
    assert "median on-demand per-GPU price" in p["rule"] and by_gpu["total_usd"] == pytest.approx(
        2 * p["usd_per_gpu_hour"], abs=0.01)


def test_cost_reads_cost_records_from_the_store(cli, db_url):
    from costplane.store import Store

    store = Store.open(db_url)
    day = 86400.0
    t0 = 1_700_000_000.0
    store.add_cost_records([
        {"source": "focus", "line_key": "a", "period_start_s": t0, "period_end_s": t0 + day, "billed_cost_usd": 240.0,
         "effective_cost_usd": 200.0, "gpu_hours": 24.0, "team": "ml", "workload": "train", "resource_id": "i-1"},
        {"source": "focus", "line_key": "b", "period_start_s": t0, "period_end_s": t0 + day, "billed_cost_usd": 100.0,
         "effective_cost_usd": 100.0, "gpu_hours": 24.0, "resource_id": "i-2"},  # untagged: idle
    ])
    out = cli("cost", "--db", db_url, "--window", "12h", "--json").json()
    assert out["source"].endswith("2 bill lines")
    assert out["rows"] == [pytest.approx(out["rows"][0])] and out["rows"][0]["key"] == "ml"
    assert out["rows"][0]["cost_usd"] == 100.0 and out["idle_usd"] == 50.0 and out["total_usd"] == 150.0
    assert out["rows"][0]["efficiency"] is None  # a bill line alone says nothing about use


def test_an_empty_store_reports_no_money_and_how_to_fill_it(cli, db_url):
    r = cli("cost", "--db", db_url, "--json")  # no store yet: reading never creates one
    assert r.code != 0 and "no costplane store" in r.err and "costplane ingest" in r.err and "To fix" in r.err
    assert cli("db", "upgrade", "--db", db_url).code == 0
    r = cli("cost", "--db", db_url, "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["empty"] and out["rows"] == [] and out["total_usd"] == 0 and out["idle_usd"] == 0
    assert "costplane ingest prometheus" in out["source"] and "--sample" in out["source"]
    assert "no cost data" in r.err
    r = cli("report", "--db", db_url, "--out", "unused.html")
    assert r.code != 0 and "no cost data" in r.err and "To fix" in r.err
    r = cli("waste", "--db", db_url)
    assert r.code != 0 and "--utilisation" in r.err


def _gpu_series(node: str, labels: dict, workload, team, util: float, n: int = 12, t0: float = 1_700_000_000.0,
                gpu: int = 0):
    return [{"source": "prometheus", "metric": "gpu_util_pct", "series_key": f"DCGM{{{node},{gpu},{workload}}}",
             "ts_s": t0 + 300 * k, "value": util, "workload": workload, "team": team,
             "labels": {"Hostname": node, "gpu": str(gpu), **labels}} for k in range(n)]


def test_series_are_priced_at_their_node_instance_type_with_discounts(cli, db_url, tmp_path, bundled_catalog):
    """Each GPU series is priced at its node's instance type (per-GPU share), from labels or the mapping file."""
    from costplane.store import Store

    offers = [o for o in bundled_catalog.offers if o.instance_type == "a2-ultragpu-8g" and o.region == "us-central1"]
    per_gpu = min(o.price_usd_per_hour for o in offers) / 8
    store = Store.open(db_url)
    store.add_usage_samples(
        _gpu_series("n1", {"node_kubernetes_io_instance_type": "a2-ultragpu-8g",
                           "topology_kubernetes_io_region": "us-central1"}, "chat", "web", 40.0)
        + _gpu_series("n1", {"node_kubernetes_io_instance_type": "a2-ultragpu-8g",
                             "topology_kubernetes_io_region": "us-central1"}, None, None, 0.0, gpu=1)
        + _gpu_series("n2", {}, "train", "ml", 100.0))
    mapping = tmp_path / "m.yaml"
    mapping.write_text("nodes:\n  n2: {instance_type: a2-ultragpu-8g, cloud: gcp, region: us-central1}\n")
    out = cli("cost", "--db", db_url, "--mapping", mapping, "--by", "team", "--json").json()
    by = {r["key"]: r for r in out["rows"]}
    hours = 12 * 300 / 3600
    assert by["web"]["cost_usd"] == pytest.approx(per_gpu * hours, abs=0.01)
    assert by["web"]["efficiency"] == pytest.approx(0.4)
    assert by["ml"]["cost_usd"] == pytest.approx(per_gpu * hours, abs=0.01)
    assert out["idle_usd"] == pytest.approx(per_gpu * hours, abs=0.01)  # GPU 1 of n1 ran no workload
    assert out["unpriced"] == [] and {p["node"] for p in out["pricing"]} == {"n1", "n2"}
    assert round(sum(r["cost_usd"] for r in out["rows"]) + out["idle_usd"], 2) == out["total_usd"]
    discounts = tmp_path / "d.yaml"
    discounts.write_text("- {cloud: gcp, percent: 25}\n")
    cheaper = cli("cost", "--db", db_url, "--mapping", mapping, "--discounts", discounts, "--json").json()
    assert cheaper["total_usd"] == pytest.approx(out["total_usd"] * 0.75, abs=0.02)
    by_cloud = cli("cost", "--db", db_url, "--mapping", mapping, "--by", "cloud", "--json").json()
    assert [r["key"] for r in by_cloud["rows"]] == ["gcp"]
    # without the mapping row, n2 is unpriced and named with its fix
    out = cli("cost", "--db", db_url, "--json").json()
    (u,) = out["unpriced"]
    assert u["node"] == "n2" and "nodes:" in u["fix"] and u["gpu_hours"] == pytest.approx(hours)
