"""`costplane serve` and `costplane token`: first-start admin token, CLI tokens, the process end to end."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from costplane.api import ensure_admin_token
from costplane.api._tokens import authenticate
from costplane.store import Store

REPO = Path(__file__).resolve().parents[1]


def test_first_admin_token_is_issued_once(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    first = ensure_admin_token(store, 1.0)
    assert first is not None and first.role == "admin" and first.secret.startswith("cp_")
    assert ensure_admin_token(store, 2.0) is None
    assert authenticate(store, first.secret).role == "admin"


def test_token_cli_prints_the_secret_once_and_it_works(cli, tmp_path):
    db = f"sqlite:///{tmp_path / 't.db'}"
    r = cli("token", "create", "--name", "grafana", "--role", "viewer", "--team", "research", "--db", db, "--json")
    assert r.code == 0
    issued = r.json()
    principal = authenticate(Store.open(db), issued["token"])
    assert (principal.name, principal.role, principal.team) == ("grafana", "viewer", "research")
    listed = cli("token", "list", "--db", db, "--json").json()["tokens"]
    assert listed == [{"id": issued["id"], "name": "grafana", "role": "viewer", "team": "research", "revoked": False}]
    assert issued["token"] not in cli("token", "list", "--db", db).out
    bad = cli("token", "create", "--name", "x", "--role", "root", "--db", db)
    assert bad.code != 0 and len(bad.err_lines) == 1 and "To fix" in bad.err
    assert cli("token", "revoke", str(issued["id"]), "--db", db).code == 0
    assert authenticate(Store.open(db), issued["token"]) is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_starts_api_metrics_and_controller_on_a_fresh_home(tmp_path):
    """The real process: first start writes the admin token 0600 (never to stderr); the controller decides."""
    exe = shutil.which("costplane") or str(Path(sys.executable).parent / "costplane")
    port = _free_port()
    env = {**os.environ, "COSTPLANE_HOME": str(tmp_path / "home")}
    env.pop("COSTPLANE_DB_URL", None)
    log = tmp_path / "serve.err"
    with log.open("w") as err_file:
        proc = subprocess.Popen([exe, "serve", "--port", str(port), "--no-seed", "--interval", "1"], env=env,
                                stderr=err_file, stdout=subprocess.DEVNULL, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 40
        health = None
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"{base}/healthz", timeout=1).json()
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert health == {"status": "ok", "database": "ok", "controller": True}, log.read_text()
        token_file = tmp_path / "home" / "admin-token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "home" / "costplane.db").stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/api/v1/whoami", headers=headers).json()["role"] == "admin"
        assert httpx.get(f"{base}/api/v1/budgets").status_code == 401
        decisions = {}
        while time.monotonic() < deadline:  # the controller's first cycle runs at start
            decisions = httpx.get(f"{base}/api/v1/decisions", headers=headers).json()
            if decisions["count"]:
                break
            time.sleep(0.3)
        assert decisions["count"] >= 1 and decisions["data"][0]["target"] == "deployment/serving/chat", log.read_text()
        ran = httpx.post(f"{base}/api/v1/controller/cycles", headers=headers)
        assert ran.status_code == 200, (ran.text, log.read_text())
        audit = httpx.get(f"{base}/api/v1/audit?action=controller.run_cycle", headers=headers).json()
        assert audit["count"] == 1 and audit["data"][0]["actor"] == "admin"
        assert httpx.get(f"{base}/metrics").status_code == 401
        assert "costplane_http_requests_total" in httpx.get(f"{base}/metrics", headers=headers).text
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    err = log.read_text()
    assert token not in err and "admin-token" in err and "costplane token create" in err  # never printed


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian's prometheus package) not installed")
def test_metrics_pass_promtool_lint(tmp_path):
    from api_fixtures import build_world
    from fastapi.testclient import TestClient

    w = build_world(f"sqlite:///{tmp_path / 'p.db'}")
    with TestClient(w.app) as client:
        client.get("/healthz")
        text = client.get("/metrics", headers=w.auth("admin")).text
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


def test_serve_speaks_tls_with_hsts_and_verified_clients(tmp_path):
    """`serve --tls-cert/--tls-key`: https only, HSTS on every answer; a client verifying against the cert gets in."""
    from api_fixtures import self_signed_cert

    cert, key = self_signed_cert(tmp_path)
    exe = shutil.which("costplane") or str(Path(sys.executable).parent / "costplane")
    port = _free_port()
    env = {**os.environ, "COSTPLANE_HOME": str(tmp_path / "home")}
    env.pop("COSTPLANE_DB_URL", None)
    proc = subprocess.Popen([exe, "serve", "--port", str(port), "--no-seed", "--no-controller", "--tls-cert", str(cert),
                             "--tls-key", str(key)], env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        deadline, r = time.monotonic() + 40, None
        while time.monotonic() < deadline:
            try:
                r = httpx.get(f"https://127.0.0.1:{port}/healthz", verify=str(cert), timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert r is not None and r.status_code == 200
        assert r.headers["strict-transport-security"].startswith("max-age=")
        with pytest.raises(httpx.HTTPError):  # an unverified certificate is refused by a default client
            httpx.get(f"https://127.0.0.1:{port}/healthz", timeout=2)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_agent_listens_on_loopback_by_default():
    import inspect

    from costplane.cli._ingest import agent_cmd

    assert inspect.signature(agent_cmd).parameters["host"].default == "127.0.0.1"
