"""`costplane report`: a self-contained HTML file with real PNG charts, and the savings numbers behind it."""

from __future__ import annotations

import base64
import re

import pytest

from costplane.report._savings import median_list_gpu_hour, savings_report


@pytest.fixture(autouse=True)
def _empty_home(tmp_path, monkeypatch):
    monkeypatch.delenv("COSTPLANE_DB_URL", raising=False)
    monkeypatch.setenv("COSTPLANE_HOME", str(tmp_path / "home"))


def test_report_is_self_contained_with_png_charts(cli, tmp_path):
    out = tmp_path / "r" / "report.html"
    r = cli("report", "--out", out, "--sample", "--json")
    assert r.code == 0, r.err
    summary = r.json()
    html = out.read_text()
    assert summary["bytes"] == out.stat().st_size
    assert "<script" not in html and "http://" not in html and "https://" not in html  # nothing fetched
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 3
    for b64 in images:
        png = base64.b64decode(b64)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    for text in ("Spend over time", "Cost and efficiency by team", "Savings", "Top waste", "creative", "$2,160.27"):
        assert text in html
    assert summary["total_usd"] == pytest.approx(2160.27, abs=0.01)


def test_savings_against_the_median_list_price(bundled_catalog):
    median, n = median_list_gpu_hour(bundled_catalog, "A100-80GB")
    assert n > 50 and 1.0 < median < 6.0
    s = savings_report(100.0, 50.0, "A100-80GB", bundled_catalog, ({"total_usd": 70.0, "naive_total_usd": 90.0},), 12.5)
    d = s.to_dict()
    assert d["baseline_usd"] == pytest.approx(50.0 * median, abs=0.01)
    assert d["saved_usd"] == pytest.approx(50.0 * median - 100.0, abs=0.01)
    assert d["planned_saving_usd"] == 20.0 and d["potential_monthly_usd"] == 12.5
    assert "median on-demand A100-80GB list price" in d["baseline_rule"]
    none = savings_report(100.0, 50.0, None, bundled_catalog).to_dict()
    assert none["baseline_usd"] is None and none["saved_usd"] is None


def test_report_counts_stored_plans_in_the_window(cli, tmp_path, db_url):
    from costplane.store import Store

    store = Store.open(db_url)
    store.save_plan({"status": "optimal", "total_usd": 70.0, "naive_total_usd": 100.0, "assignments": []}, {}, "test",
                    now_s=1662900000.0)  # inside the sample's day
    store.add_cost_records([{"source": "focus", "line_key": "a", "period_start_s": 1662890000.0,
                             "period_end_s": 1662910000.0, "billed_cost_usd": 10.0, "effective_cost_usd": 10.0,
                             "team": "ml", "workload": "train"}])
    r = cli("report", "--out", tmp_path / "r.html", "--db", db_url, "--json")
    assert r.code == 0, r.err
    assert r.json()["savings"]["planned_saving_usd"] == 30.0 and r.json()["total_usd"] == 10.0


def test_unwritable_out_is_a_one_line_error(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = cli("report", "--out", blocker / "sub" / "r.html")
    assert r.code != 0 and len(r.err_lines) == 1 and "To fix" in r.err
