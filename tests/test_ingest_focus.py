"""FOCUS bill ingest on hand-written FOCUS 1.0 fixtures (tests/data/focus_*.csv).

Ledger of focus_gpu_bill.csv (8 lines):
  line  provider  what                         billed    effective  GPU-hours (how)                 team / project / workload
  2     AWS       p5.48xlarge 1 h on-demand     98.32     98.32      8 (1 h × 8 GPUs, catalog)       ml-research / llama-ft / train-llama
  3     AWS       p5.48xlarge 1 h Savings Plan   0.00     61.92      8                               ml-research / llama-ft / train-llama
  4     AWS       g5.xlarge 1 h                  1.006     1.006     1                               inference / - / chat-api   (tag user:team, app)
  5     AWS       EBS 500 GB-Mo                 40.00     40.00      0                               ml-research / llama-ft / -
  6     AWS       tax                           11.93     11.93      0                               -
  7     Google    a3-highgpu-8g 1 h             88.25     79.43      8                               inference / chat / chat-api
  8     Lambda    24 GPU-Hours                  71.76     71.76     24 (ConsumedUnit GPU-Hours)      ml-research / evals / nightly-eval
  9     AWS       credit                       -25.00    -25.00      0                               -
  total                                        286.266   339.366    49
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from costplane.ingest import TagMapping, ingest_focus, parse_focus
from costplane.store import CostRecord, Store

DATA = Path(__file__).resolve().parent / "data"
BILL = DATA / "focus_gpu_bill.csv"
MALFORMED = DATA / "focus_malformed.csv"
NOW_S = 1_795_000_000.0  # 2026-11-18T19:33Z: after every charge period in the fixtures
GPUS = {"p5.48xlarge": 8, "a3-highgpu-8g": 8, "g5.xlarge": 1}


def _records(store: Store) -> list[CostRecord]:
    with store.session() as s:
        return list(s.scalars(select(CostRecord).order_by(CostRecord.id)))


def test_focus_bill_ledger_and_idempotent(db_url):
    store = Store.open(db_url)
    report = ingest_focus(BILL, store, NOW_S, gpus_per_instance=GPUS)
    assert (report.read, report.ingested, report.duplicates, report.rejected) == (8, 8, 0, 0)
    rows = _records(store)
    assert round(sum(r.billed_cost_usd for r in rows), 6) == 286.266
    assert round(sum(r.effective_cost_usd for r in rows), 6) == 339.366
    assert sum(r.gpu_hours for r in rows) == 49
    by_resource = {r.resource_id: r for r in rows if r.resource_id}
    sp = [r for r in rows if r.billed_cost_usd == 0][0]
    assert (sp.effective_cost_usd, sp.list_cost_usd, sp.gpu_hours) == (61.92, 98.32, 8)
    g5 = by_resource["i-0a1b2c3d4e5f60077"]
    assert (g5.team, g5.project, g5.workload, g5.cloud, g5.region) == ("inference", None, "chat-api", "aws", "us-west-2")
    a3 = [r for r in rows if r.cloud == "gcp"][0]
    assert (a3.team, a3.project, a3.workload, a3.gpu_hours) == ("inference", "chat", "chat-api", 8)
    lam = [r for r in rows if r.cloud == "lambda"][0]
    assert (lam.gpu_hours, lam.workload, lam.period_end_s - lam.period_start_s) == (24, "nightly-eval", 86400)
    assert lam.tags["_focus"]["ConsumedUnit"] == "GPU-Hours" and lam.tags["team"] == "ml-research"
    assert len({r.line_key for r in rows}) == 8

    again = ingest_focus(BILL, store, NOW_S, gpus_per_instance=GPUS)
    assert (again.ingested, again.duplicates, again.rejected) == (0, 8, 0)
    assert store.count(CostRecord) == 8


def test_malformed_rows_are_named_and_good_rows_kept(db_url):
    store = Store.open(db_url)
    report = ingest_focus(MALFORMED, store, NOW_S, gpus_per_instance=GPUS)
    assert (report.read, report.ingested, report.duplicates, report.rejected) == (11, 2, 1, 8)
    where = {(r.line, r.column) for r in report.rejections}
    assert where == {(3, "BilledCost"), (4, "Tags"), (5, "ChargePeriodEnd"), (6, "BillingCurrency"),
                     (7, "ChargePeriodStart"), (8, None), (9, "ChargePeriodStart"), (11, "BilledCost")}
    reasons = {r.line: r.reason for r in report.rejections}
    assert "future" in reasons[7] and "clock skew" in reasons[7]
    assert reasons[8] == "row has 6 fields, the header has 15"
    assert store.count(CostRecord) == 2
    assert sorted(r.resource_id for r in _records(store)) == ["i-good-1", "i-good-2"]


def test_strict_writes_nothing(db_url):
    store = Store.open(db_url)
    report = ingest_focus(MALFORMED, store, NOW_S, strict=True)
    assert report.ingested == 0 and report.details["written"] is False
    assert store.count(CostRecord) == 0


def test_line_key_ignores_amounts_but_keeps_split_lines(tmp_path):
    header = "ChargePeriodStart,ChargePeriodEnd,BilledCost,EffectiveCost,ResourceId,SkuId,Tags"
    base = "2026-10-01T00:00:00Z,2026-10-01T01:00:00Z,{cost},{cost},i-1,sku-1,{{}}"
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("\n".join([header, base.format(cost=10), base.format(cost=3)]) + "\n")
    b.write_text("\n".join([header, base.format(cost=10), base.format(cost=3)]) + "\n")
    rows_a, _ = parse_focus(a, NOW_S)
    rows_b, _ = parse_focus(b, NOW_S)
    assert len(rows_a) == 2 and rows_a[0]["line_key"] != rows_a[1]["line_key"]  # a split line is two lines
    assert [r["line_key"] for r in rows_a] == [r["line_key"] for r in rows_b]  # stable across files/runs
    restated = tmp_path / "restated.csv"
    restated.write_text("\n".join([header, base.format(cost=11)]) + "\n")
    assert parse_focus(restated, NOW_S)[0][0]["line_key"] == rows_a[0]["line_key"]


def test_tag_mapping_is_configurable(tmp_path):
    f = tmp_path / "bill.csv"
    f.write_text('ChargePeriodStart,ChargePeriodEnd,BilledCost,Tags\n'
                 '2026-10-01,2026-10-02,5,"{""CostCenter"":""cc-42"",""kubernetes.io/app"":""svc""}"\n')
    rows, report = parse_focus(f, NOW_S, TagMapping(team=("costcenter",), workload=("app",)))
    assert (rows[0]["team"], rows[0]["workload"], rows[0]["effective_cost_usd"]) == ("cc-42", "svc", 5.0)
    assert report.warnings == ["no EffectiveCost column: effective cost taken equal to BilledCost"]


def test_not_a_focus_file_names_missing_columns(tmp_path):
    from costplane.core.errors import InputError

    f = tmp_path / "x.csv"
    f.write_text("date,amount\n2026-10-01,5\n")
    with pytest.raises(InputError, match="BilledCost, ChargePeriodStart, ChargePeriodEnd missing"):
        parse_focus(f, NOW_S)


def test_cli_focus_exit_codes(cli, tmp_path):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    ok = cli("ingest", "focus", BILL, "--db", db, "--json")
    assert ok.code == 0 and ok.json()["ingested"] == 8 and ok.json()["gpu_hours"] == 49  # bundled catalog GPUs
    partial = cli("ingest", "focus", MALFORMED, "--db", db)
    assert partial.code == 0 and "warning: 8 of 11 rows rejected" in partial.err
    assert "line 3, column BilledCost: not a number" in partial.err
    strict = cli("ingest", "focus", MALFORMED, "--db", db, "--strict")
    assert strict.code == 1 and "--strict: nothing was written" in strict.err_lines[-1]
    bad = tmp_path / "all_bad.csv"
    bad.write_text("ChargePeriodStart,ChargePeriodEnd,BilledCost\n2026-10-01,2026-10-02,x\n")
    none_good = cli("ingest", "focus", bad, "--db", db, "--json")
    assert none_good.code == 1 and json.loads(none_good.out)["rejected"] == 1
    assert none_good.err_lines == ["error: all 1 rows rejected in focus " + str(bad) + " (first: line 2, column "
                                   "BilledCost: not a number (value 'x')). To fix: fix the rows named in the report "
                                   "(--json lists every line and column)"]
    missing = cli("ingest", "focus", tmp_path / "nope.csv", "--db", db)
    assert missing.code == 2 and "does not exist" in missing.err


def test_demo_ingest_runs(capsys):
    from costplane.cli._ingest import demo_ingest

    demo_ingest()
    out = capsys.readouterr().out
    assert "8 stored" in out and "ingested again: 0 added, 8 duplicates skipped" in out
