"""`costplane budget set|status` on SQLite and PostgreSQL, alerts printed and delivered once to a webhook."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest


class _Hook(BaseHTTPRequestHandler):
    bodies: list = []

    def do_POST(self):  # noqa: N802
        _Hook.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hook(monkeypatch):
    monkeypatch.setenv("COSTPLANE_WEBHOOK_ALLOW_HOSTS", "127.0.0.1")  # a loopback receiver, allowed by the admin
    monkeypatch.setenv("COSTPLANE_WEBHOOK_ALLOW_HTTP", "1")
    _Hook.bodies = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", _Hook.bodies
    server.shutdown()
    server.server_close()


def test_budget_on_the_sample_shows_alerts_but_never_sends_them(cli, db_url, hook):
    url, bodies = hook
    assert cli("budget", "set", "--team", "creative", "--amount", "1000", "--webhook", url, "--db", db_url).code == 0
    assert cli("budget", "set", "--project", "banner-gen", "--amount", "100000", "--db", db_url).code == 0
    r = cli("budget", "set", "--team", "creative", "--amount", "800", "--webhook", url, "--db", db_url, "--json")
    assert r.json()["amount_usd"] == 800  # updated in place, not duplicated
    r = cli("budget", "status", "--db", db_url, "--sample", "--json")
    assert r.code == 0, r.err
    out = r.json()
    by = {(b["scope"], b["name"]): b for b in out["budgets"]}
    assert set(by) == {("team", "creative"), ("project", "banner-gen")}
    creative = by[("team", "creative")]
    # the sample's creative team spends $656.43 over its ~23 h (allocated cost, idle not charged to teams)
    assert creative["spent_usd"] == pytest.approx(656.43, abs=0.02) and creative["month"] == "2022-09"
    assert creative["forecast_usd"] > creative["spent_usd"]
    assert [a["threshold"] for a in creative["alerts"]][:1] == [0.5] and creative["alerts"][0]["basis"] == "actual"
    assert by[("project", "banner-gen")]["alerts"] == []
    assert bodies == [] and "never sent" in r.err


def _line(key, team, start_s, hours, usd, source="focus"):
    return {"source": source, "line_key": key, "team": team, "workload": f"{team}-job", "period_start_s": start_s,
            "period_end_s": start_s + hours * 3600.0, "billed_cost_usd": usd, "effective_cost_usd": usd}


def test_budget_alerts_go_out_once_for_real_data_and_never_for_demo_or_empty(cli, db_url, hook):
    from costplane.store import Store

    url, bodies = hook
    assert cli("budget", "set", "--team", "creative", "--amount", "100", "--webhook", url, "--db", db_url).code == 0
    now = "2026-11-20T12:00:00Z"
    r = cli("budget", "status", "--db", db_url, "--now", now, "--json")  # an empty store: no money, no alert
    assert r.code == 0 and r.json()["budgets"][0]["spent_usd"] == 0 and bodies == []
    store = Store.open(db_url)
    t0 = 1_795_132_800.0  # 2026-11-20 00:00 UTC
    store.add_cost_records([_line("demo-1", "creative", t0, 10, 656.43, source="demo-seed")])
    r = cli("budget", "status", "--db", db_url, "--now", now, "--json")
    assert r.json()["budgets"][0]["spent_usd"] == 0 and r.json()["budgets"][0]["alerts"] == [] and bodies == []
    store.add_cost_records([_line("real-1", "creative", t0, 10, 60.0)])
    r = cli("budget", "status", "--db", db_url, "--now", now, "--json")
    creative = r.json()["budgets"][0]
    assert creative["spent_usd"] == pytest.approx(60.0) and creative["alerts"][0]["threshold"] == 0.5
    assert len(bodies) == 1 and {a["name"] for a in bodies[0]["alerts"]} == {"creative"}
    cli("budget", "status", "--db", db_url, "--now", now)  # same alerts again: not re-sent
    assert len(bodies) == 1
    r = cli("budget", "status", "--db", db_url, "--now", now, "--resend")
    assert len(bodies) == 2 and "ALERT" in r.out
    assert cli("db", "purge-demo", "--db", db_url).code == 0
    with store.session() as s:
        from costplane.store import CostRecord

        assert [c.line_key for c in s.query(CostRecord).all()] == ["real-1"]


def test_budget_errors(cli, tmp_path):
    db = f"sqlite:///{tmp_path / 'b.db'}"
    r = cli("budget", "set", "--amount", "10", "--db", db)
    assert r.code != 0 and "--team or --project" in r.err
    r = cli("budget", "set", "--team", "x", "--amount", "-5", "--db", db)
    assert r.code != 0 and "positive" in r.err
    r = cli("budget", "status", "--db", db)  # reading never creates the store
    assert r.code != 0 and "no costplane store" in r.err and "To fix" in r.err
    assert cli("db", "upgrade", "--db", db).code == 0
    r = cli("budget", "status", "--db", db)
    assert r.code == 0 and "no budgets yet" in r.out
