"""Security regressions of issue 14: team scoping with no escape, /metrics access, safe webhooks,
bounded requests (body size, rate limit, 409 on concurrent creates, 422 on nulls), security headers."""

from __future__ import annotations

import concurrent.futures
import textwrap

import pytest
from api_fixtures import NOW_S, build_world
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from costplane.api import Settings, create_app, create_token
from costplane.store import AuditLog, Budget


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.setenv("COSTPLANE_SECRET_KEY", "x8hbXo0d3hZ0Q2dQbVgdAcpn1lX7H6m5z8jVYVq4sE0=")
    w = build_world(f"sqlite:///{tmp_path / 's.db'}")
    w.tokens["admin-research"] = create_token(w.store, "admin-research", "admin", "research", NOW_S - 5).secret
    with TestClient(w.app) as client:
        w.client = client
        yield w


# ------------------------------------------------------------------ 1. scoping with no escape

def test_a_team_admin_cannot_mint_a_token_outside_its_team(world):
    c, h = world.client, world.auth("admin-research")
    assert c.post("/api/v1/tokens", json={"name": "x", "role": "admin"}, headers=h).status_code == 403
    assert c.post("/api/v1/tokens", json={"name": "y", "role": "viewer", "team": "product"}, headers=h).status_code == 403
    ok = c.post("/api/v1/tokens", json={"name": "z", "role": "viewer", "team": "research"}, headers=h)
    assert ok.status_code == 201 and ok.json()["team"] == "research"
    minted = {"Authorization": f"Bearer {ok.json()['token']}"}
    assert c.get("/api/v1/budgets?team=product", headers=minted).status_code == 403


def test_token_listing_audit_and_revocation_are_scoped(world):
    c, h = world.client, world.auth("admin-research")
    c.post("/api/v1/budgets", json={"name": "product", "amount_usd": 50,
                                    "webhook_url": "https://93.184.215.14/hook/SECRET"}, headers=world.auth("admin"))
    listed = c.get("/api/v1/tokens", headers=h).json()
    assert {t["team"] for t in listed["data"]} == {"research"} and listed["count"] == 3
    audit = c.get("/api/v1/audit", headers=h).json()
    assert audit["count"] >= 1 and all("product" not in str(r) for r in audit["data"])
    assert "SECRET" not in str(c.get("/api/v1/audit", headers=world.auth("admin")).json())
    admin_id = next(t["id"] for t in c.get("/api/v1/tokens", headers=world.auth("admin")).json()["data"]
                    if t["name"] == "admin")
    assert c.delete(f"/api/v1/tokens/{admin_id}", headers=h).status_code == 404
    assert c.get("/api/v1/whoami", headers=world.auth("admin")).status_code == 200


def test_other_teams_ids_are_404_not_403(world):
    c = world.client
    bid = c.post("/api/v1/budgets", json={"name": "product", "amount_usd": 50}, headers=world.auth("admin")).json()["id"]
    for method, path in (("get", f"/api/v1/budgets/{bid}"), ("delete", f"/api/v1/budgets/{bid}"),
                         ("get", f"/api/v1/budgets/{bid + 100}")):
        assert getattr(c, method)(path, headers=world.auth("ops-research")).status_code == 404


def test_controller_cycle_of_a_team_operator_touches_only_its_services(world, tmp_path):
    from costplane.actuate import DryRunActuator
    from costplane.controller import AutoscaleDecide, Controller, load_services

    spec = tmp_path / "services.yaml"
    common = ("gpu: H100, gpus_per_replica: 1, capacity_per_replica: 2.0, cold_start_s: 60, min_replicas: 1, "
              "max_replicas: 4, scale_to_zero: false")
    spec.write_text(textwrap.dedent(f"""\
        services:
          - {{name: chat, team: product, policy: hybrid, target: {{kind: deployment, namespace: serving, name: chat}}, {common}}}
          - {{name: notebook, team: research, policy: hybrid, target: {{kind: deployment, namespace: research, name: notebook}}, {common}}}
        """))
    world.app.state.controller = Controller(world.store, world.clock, DryRunActuator(), load_services(spec),
                                            AutoscaleDecide(), interval_s=60.0, validation_s=0.0)
    ran = world.client.post("/api/v1/controller/cycles", headers=world.auth("ops-research"))
    assert ran.status_code == 200, ran.text
    assert [d["target"] for d in ran.json()["actuated"]] == ["deployment/research/notebook"]
    decisions = world.client.get("/api/v1/decisions?window=1m", headers=world.auth("admin")).json()["data"]
    assert {d["target"] for d in decisions if d["created_at_s"] == NOW_S} == {"deployment/research/notebook"}


def test_metrics_need_a_token_and_a_team_token_sees_its_team_only(world):
    c = world.client
    assert c.get("/metrics").status_code == 401
    text = c.get("/metrics", headers=world.auth("view-research")).text
    teams = {s.labels.get("team") for f in text_string_to_metric_families(text) for s in f.samples} - {None}
    assert teams == {"research"}
    assert "chat" not in text and "product" not in text


def test_public_metrics_show_no_names(tmp_path):
    w = build_world(f"sqlite:///{tmp_path / 'p.db'}")
    app = create_app(Settings(public_metrics=True), w.store, w.clock)
    with TestClient(app) as c:
        text = c.get("/metrics").text
        assert c.get("/metrics", headers=w.auth("admin")).text.count("research") > 0
    assert "costplane_" in text
    for name in ("research", "product", "chat", "train", "notebook"):
        assert name not in text


# ------------------------------------------------------------------ 2. safe webhooks

@pytest.mark.parametrize("url", ["file:///etc/passwd", "http://93.184.215.14/x", "https://169.254.169.254/latest",
                                 "https://127.0.0.1/x", "https://localhost/x", "https://10.1.2.3/x", "https://[::1]/x",
                                 "https://user:pw@93.184.215.14/x", "gopher://example.com/"])
def test_unsafe_webhook_urls_are_refused(world, url):
    r = world.client.post("/api/v1/budgets", json={"name": "research", "amount_usd": 5, "webhook_url": url},
                          headers=world.auth("ops-research"))
    assert r.status_code == 400, r.text
    assert "To fix" not in r.json()["error"]["message"] and r.json()["error"]["fix"]


def test_webhook_urls_are_encrypted_redacted_and_allowed_hosts_pass(world, tmp_path):
    c = world.client
    r = c.post("/api/v1/budgets", json={"name": "research", "amount_usd": 5,
                                        "webhook_url": "https://93.184.215.14/services/T0/B0/SECRET"},
               headers=world.auth("ops-research"))
    assert r.status_code == 201 and r.json()["webhook_url"] == "https://93.184.215.14/…"
    assert "SECRET" not in c.get("/api/v1/budgets", headers=world.auth("view-research")).text
    with world.store.engine.connect() as conn:
        raw = conn.exec_driver_sql("SELECT webhook_url FROM budgets").scalar()
        audit = conn.exec_driver_sql("SELECT detail FROM audit_log").all()
    assert raw.startswith("fernet:") and "SECRET" not in raw and "SECRET" not in str(audit)
    with world.store.session() as s:
        assert s.scalar(select(Budget.webhook_url)) == "https://93.184.215.14/services/T0/B0/SECRET"
    allowed = create_app(Settings(webhook_allow_hosts=("hooks.internal",)), world.store, world.clock)
    with TestClient(allowed) as c2:
        bad = c2.post("/api/v1/budgets", json={"name": "research", "period": "week", "amount_usd": 5,
                                               "webhook_url": "https://other.internal/x"}, headers=world.auth("admin"))
        good = c2.post("/api/v1/budgets", json={"name": "research", "period": "day", "amount_usd": 5,
                                                "webhook_url": "https://hooks.internal/x"}, headers=world.auth("admin"))
    assert bad.status_code == 400 and good.status_code == 201


def test_delivery_refuses_internal_hosts_and_never_names_the_url():
    from costplane.budget import Alert
    from costplane.budget._webhook import post_alerts

    alert = Alert("team", "research", 0.5, "actual", 60.0, 70.0, 100.0, "2025-06")
    problem = post_alerts("http://127.0.0.1:9/hook/SECRET", [alert])
    assert problem is not None and "SECRET" not in problem and "refused" in problem


# ------------------------------------------------------------------ 3. bounded requests

def test_body_over_the_limit_is_413_before_authentication(tmp_path):
    w = build_world(f"sqlite:///{tmp_path / 'b.db'}", seed=False)
    app = create_app(Settings(max_body_bytes=1000), w.store, w.clock)
    with TestClient(app) as c:
        big = b'{"values": [' + b"1," * 5000 + b"1]}"
        r = c.post("/api/v1/forecasts", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"

        def chunks():
            for _ in range(50):
                yield b"x" * 100

        streamed = c.post("/api/v1/forecasts", content=chunks(), headers=w.auth("admin"))
        assert streamed.status_code == 413
        assert c.post("/api/v1/forecasts", json={"values": [1, 2, 3, 4], "horizon": 2, "model": "linear"},
                      headers=w.auth("admin")).status_code == 200


def test_rate_limit_per_token_is_429(tmp_path):
    w = build_world(f"sqlite:///{tmp_path / 'r.db'}", seed=False)
    app = create_app(Settings(rate_per_s=0.001, burst=3), w.store, w.clock)
    with TestClient(app) as c:
        codes = [c.get("/api/v1/whoami", headers=w.auth("admin")).status_code for _ in range(5)]
        other = c.get("/api/v1/whoami", headers=w.auth("view-product")).status_code
        limited = c.get("/api/v1/whoami", headers=w.auth("admin"))
    assert codes == [200, 200, 200, 429, 429] and other == 200
    assert limited.headers["retry-after"] and limited.json()["error"]["code"] == "rate_limited"


def test_security_headers_on_every_response(world):
    for path, headers in (("/healthz", {}), ("/api/v1/budgets", {}), ("/api/v1/whoami", world.auth("admin")), ("/", {})):
        r = world.client.get(path, headers=headers)
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert "strict-transport-security" not in r.headers
    page_csp = world.client.get("/").headers["content-security-policy"]
    assert "script-src 'self';" in page_csp and "default-src 'self'" in page_csp  # no inline or remote script
    tls = create_app(Settings(tls=True), world.store, world.clock)
    with TestClient(tls) as c:
        assert c.get("/healthz").headers["strict-transport-security"].startswith("max-age=")


@pytest.mark.parametrize("field", ["alert_thresholds", "amount_usd", "period"])
def test_patch_null_for_a_required_field_is_422_and_reads_still_work(world, field):
    c, h = world.client, world.auth("admin")
    bid = c.post("/api/v1/budgets", json={"name": "research", "amount_usd": 50}, headers=h).json()["id"]
    assert c.patch(f"/api/v1/budgets/{bid}", json={field: None}, headers=h).status_code == 422
    assert c.get("/api/v1/budgets", headers=h).status_code == 200
    assert c.patch(f"/api/v1/budgets/{bid}", json={"webhook_url": None}, headers=h).status_code == 200


def test_concurrent_creates_of_one_budget_give_one_201_and_409s(world):
    c, h = world.client, world.auth("admin")

    def create(_):
        return c.post("/api/v1/budgets", json={"name": "racing", "amount_usd": 5}, headers=h).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(create, range(8)))
    assert codes.count(201) == 1 and set(codes) == {201, 409}


def test_forecast_level_near_100_is_422_not_500(world):
    r = world.client.post("/api/v1/forecasts", json={"values": [1, 2, 3, 4, 5], "horizon": 2,
                                                     "level": [99.99999999999999]}, headers=world.auth("admin"))
    assert r.status_code == 422


def test_spend_is_cached_until_new_cost_lines_arrive(world):
    c, h = world.client, world.auth("admin")
    first = c.get("/api/v1/spend?window=1d&step=1h", headers=h).json()
    calls = []
    original = world.store.session

    def counting():
        calls.append(1)
        return original()

    world.store.session = counting
    try:
        assert c.get("/api/v1/spend?window=1d&step=1h", headers=h).json() == first
    finally:
        world.store.session = original
    assert calls == []


def test_audit_rows_of_a_team_carry_the_team(world):
    world.client.post("/api/v1/budgets", json={"name": "research", "amount_usd": 5}, headers=world.auth("ops-research"))
    with world.store.session() as s:
        row = s.scalar(select(AuditLog).where(AuditLog.action == "budget.create"))
    assert row.team == "research"


def test_webhook_delivery_verifies_tls_and_sends_a_bearer_token(tmp_path):
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from api_fixtures import self_signed_cert

    from costplane.budget import Alert
    from costplane.budget._webhook import post_alerts

    cert, key = self_signed_cert(tmp_path)
    seen = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            seen.append(self.headers.get("Authorization"))
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}/hook/SECRET"
    alert = Alert("team", "research", 0.5, "actual", 60.0, 70.0, 100.0, "2025-06")
    try:
        unverified = post_alerts(url, [alert], allow=("127.0.0.1",), timeout_s=3)
        assert unverified is not None and "unreachable" in unverified and "SECRET" not in unverified
        assert post_alerts(url, [alert], allow=("127.0.0.1",), ca_bundle=str(cert), bearer_token="tok") is None
    finally:
        server.shutdown()
        server.server_close()
    assert seen == ["Bearer tok"]
