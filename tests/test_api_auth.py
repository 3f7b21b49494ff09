"""Access control: tokens (hash only), roles, team scope (401/403), audit of every change."""

from __future__ import annotations

import hashlib

import pytest
from api_fixtures import running_world
from sqlalchemy import select

from costplane.store import ApiToken, AuditLog


@pytest.fixture
def world(db_url):
    with running_world(db_url) as w:
        yield w


def test_health_and_openapi_need_no_token_metrics_does(world):
    assert world.client.get("/healthz").json() == {"status": "ok", "database": "ok", "controller": False}
    assert world.client.get("/openapi.json").status_code == 200
    assert world.client.get("/metrics").status_code == 401
    assert world.client.get("/metrics", headers=world.auth("view-product")).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}])
def test_api_without_a_valid_token_is_401_in_the_error_shape(world, headers):
    r = world.client.get("/api/v1/budgets", headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert set(r.json()["error"]) >= {"code", "message", "fix"}
    assert r.json()["error"]["code"] == "unauthorized"


def test_tokens_are_stored_only_as_sha256(world):
    with world.store.session() as s:
        rows = s.scalars(select(ApiToken)).all()
    stored = {r.name: r.token_sha256 for r in rows}
    for name, secret in world.tokens.items():
        assert stored[name] == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in stored.values()


def test_team_viewer_sees_only_its_team(world):
    c = world.client
    research = c.get("/api/v1/spend?window=3h&step=1h", headers=world.auth("view-research")).json()
    assert [s["key"] for s in research["series"]] == ["research"]
    assert research["total_usd"] == pytest.approx(32.0)
    r = c.get("/api/v1/spend?window=3h&step=1h&team=product", headers=world.auth("view-research"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    decisions = c.get("/api/v1/decisions", headers=world.auth("view-product")).json()
    assert decisions["count"] == 2 and {d["team"] for d in decisions["data"]} == {"product"}


def test_unscoped_token_sees_all_teams_and_may_narrow(world):
    everyone = world.client.get("/api/v1/spend?window=3h&step=1h", headers=world.auth("admin")).json()
    assert {s["key"] for s in everyone["series"]} == {"research", "product", "(unallocated)"}
    product = world.client.get("/api/v1/spend?window=3h&step=1h&team=product", headers=world.auth("admin")).json()
    assert product["total_usd"] == pytest.approx(8.0)


def test_roles_viewer_reads_operator_changes_admin_manages_tokens(world):
    c = world.client
    budget = {"name": "research", "amount_usd": 100}
    r = c.post("/api/v1/budgets", json=budget, headers=world.auth("view-research"))
    assert r.status_code == 403 and "needs operator" in r.json()["error"]["message"]
    assert c.post("/api/v1/budgets", json=budget, headers=world.auth("ops-research")).status_code == 201
    assert c.get("/api/v1/tokens", headers=world.auth("ops-all")).status_code == 403
    assert c.get("/api/v1/tokens", headers=world.auth("admin")).json()["count"] == 5


def test_operator_of_one_team_cannot_touch_another_teams_budget(world):
    c = world.client
    r = c.post("/api/v1/budgets", json={"name": "product", "amount_usd": 50}, headers=world.auth("ops-research"))
    assert r.status_code == 403
    created = c.post("/api/v1/budgets", json={"name": "product", "amount_usd": 50}, headers=world.auth("ops-all"))
    bid = created.json()["id"]
    # Another team's id answers like an id that does not exist: 404, nothing revealed.
    assert c.patch(f"/api/v1/budgets/{bid}", json={"amount_usd": 1}, headers=world.auth("ops-research")).status_code == 404
    assert c.get(f"/api/v1/budgets/{bid}", headers=world.auth("view-research")).status_code == 404
    assert c.delete(f"/api/v1/budgets/{bid}", headers=world.auth("ops-research")).status_code == 404
    assert c.get("/api/v1/budgets", headers=world.auth("view-research")).json()["count"] == 0


def test_token_lifecycle_over_the_api_and_revocation(world):
    c = world.client
    r = c.post("/api/v1/tokens", json={"name": "ci", "role": "viewer", "team": "product"}, headers=world.auth("admin"))
    assert r.status_code == 201
    secret, tid = r.json()["token"], r.json()["id"]
    headers = {"Authorization": f"Bearer {secret}"}
    assert c.get("/api/v1/whoami", headers=headers).json() == {"name": "ci", "role": "viewer", "team": "product"}
    assert c.post("/api/v1/tokens", json={"name": "ci"}, headers=world.auth("admin")).status_code == 409
    assert c.delete(f"/api/v1/tokens/{tid}", headers=world.auth("admin")).json()["revoked"] is True
    assert c.get("/api/v1/whoami", headers=headers).status_code == 401
    listed = c.get("/api/v1/tokens", headers=world.auth("admin")).json()["data"]
    assert all("token" not in t and "token_sha256" not in t for t in listed)


def test_every_change_is_audited_with_its_actor(world):
    c = world.client
    bid = c.post("/api/v1/budgets", json={"name": "research", "amount_usd": 100},
                 headers=world.auth("ops-research")).json()["id"]
    c.patch(f"/api/v1/budgets/{bid}", json={"amount_usd": 150}, headers=world.auth("ops-research"))
    c.delete(f"/api/v1/budgets/{bid}", headers=world.auth("ops-all"))
    c.post("/api/v1/tokens", json={"name": "x", "role": "viewer"}, headers=world.auth("admin"))
    with world.store.session() as s:
        rows = [(a.actor, a.action, a.target) for a in s.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert rows[-4:] == [("ops-research", "budget.create", f"budget:{bid}"),
                         ("ops-research", "budget.update", f"budget:{bid}"),
                         ("ops-all", "budget.delete", f"budget:{bid}"),
                         ("admin", "token.create", "token:x")]
    audit = c.get("/api/v1/audit?action=budget.update", headers=world.auth("admin")).json()
    assert audit["count"] == 1 and audit["data"][0]["detail"] == {"amount_usd": 150.0}
    assert c.get("/api/v1/audit", headers=world.auth("ops-all")).status_code == 403


def test_a_failed_change_writes_no_audit_row(world):
    c = world.client
    c.post("/api/v1/budgets", json={"name": "research", "amount_usd": 100}, headers=world.auth("ops-all"))
    before = world.store.count(AuditLog)
    assert c.post("/api/v1/budgets", json={"name": "research", "amount_usd": 5},
                  headers=world.auth("ops-all")).status_code == 409
    assert world.store.count(AuditLog) == before
