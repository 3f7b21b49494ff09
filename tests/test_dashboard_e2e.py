"""The web dashboard end to end: uvicorn on loopback, headless Debian Chromium driven by Playwright.

Asserts on what a person sees: the team totals drawn on the page equal the API's numbers, and a
team-scoped viewer's page holds no other team's name or money.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
from api_fixtures import build_world
from fastapi.testclient import TestClient

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Written to the docs only when asked (COSTPLANE_UPDATE_DOCS=1), so a test run leaves the tree clean.
DOCS_SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "img" / "dashboard.png"
PAGE_TIMEOUT_MS = 20_000


def _need_chromium() -> None:
    if Path(CHROMIUM).exists() and shutil.which("chromium"):
        return
    reason = f"{CHROMIUM} is missing: apt-get install -y chromium (scripts/test.sh does it in CI)"
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    _need_chromium()
    world = build_world(f"sqlite:///{tmp_path_factory.mktemp('dash') / 'dash.db'}")
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(world.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    world.base = base
    yield world
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    _need_chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _open(browser, server, who: str):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(f"{server.base}/?token={server.tokens[who]}")
    page.wait_for_selector("body[data-ready=true]", timeout=PAGE_TIMEOUT_MS)
    return page


def _drawn_totals(page) -> dict[str, str]:
    cells = page.locator("[data-testid=spend-total]")
    return {cells.nth(i).get_attribute("data-key"): cells.nth(i).inner_text() for i in range(cells.count())}


def test_team_totals_on_the_page_equal_the_api(browser, server):
    api = httpx.get(f"{server.base}/api/v1/spend", params={"window": "7d", "step": "1d", "by": "team"},
                    headers=server.auth("admin")).json()
    page = _open(browser, server, "admin")
    drawn = _drawn_totals(page)
    assert drawn == {s["key"]: f"${s['cost_usd']:,.2f}" for s in api["series"]}
    assert drawn["research"] == "$32.00" and drawn["product"] == "$8.00"
    assert page.locator("[data-testid=spend-grand-total]").inner_text() == "$43.00"
    assert page.locator("#spend-chart svg rect").count() == 7 * 3  # 7 days × 3 keys
    assert "all teams" in page.locator("[data-testid=whoami]").inner_text()
    # the token left the address bar as soon as it was stored
    assert "token=" not in page.url
    page.close()


def test_team_viewer_sees_nothing_of_another_team(browser, server):
    page = _open(browser, server, "view-research")
    assert _drawn_totals(page) == {"research": "$32.00"}
    text = page.locator("main").inner_text()
    assert "product" not in text and "$8.00" not in text
    assert "team research" in page.locator("[data-testid=whoami]").inner_text()
    charts = page.locator("#forecast-charts .chart")
    assert [charts.nth(i).get_attribute("data-target") for i in range(charts.count())] == [
        "deployment/research/notebook"]
    page.close()


def test_unknown_token_shows_the_login_form(browser, server):
    page = browser.new_page()
    page.goto(f"{server.base}/?token=cp_wrong")
    page.wait_for_selector("#login:not([hidden])", timeout=PAGE_TIMEOUT_MS)
    assert "unknown or revoked" in page.locator("#login-error").inner_text()
    assert page.locator("#panels").is_hidden()
    page.close()


def _controller_cycles(world, cycles: int) -> None:
    """Run the real controller (dry-run actuator) over the last minutes of the seeded demand."""
    from costplane.actuate import DryRunActuator
    from costplane.cli._demo import example_path
    from costplane.controller import AutoscaleDecide, Controller, load_services
    from costplane.core.clock import SimClock

    now_s = world.clock.now_s()
    clock = SimClock(now_s - 60 * cycles)
    controller = Controller(world.store, clock, DryRunActuator(), load_services(example_path("services.yaml")),
                            AutoscaleDecide(), interval_s=60)
    for _ in range(cycles):
        clock.advance(60)
        controller.run_cycle()


def test_screenshot_of_the_seeded_demo(browser, tmp_path):
    """The page on the bundled demo data (as `costplane serve` seeds it), saved for docs/service.md."""
    shot = DOCS_SCREENSHOT if os.environ.get("COSTPLANE_UPDATE_DOCS") == "1" else tmp_path / "dashboard.png"
    import uvicorn

    from costplane.api._seed import seed_demo
    from costplane.catalog import load_catalog

    world = build_world(f"sqlite:///{tmp_path / 'demo.db'}", seed=False)
    seed_demo(world.store, load_catalog(), world.clock.now_s(), days=2)
    _controller_cycles(world, cycles=10)
    with TestClient(world.app) as client:
        client.post("/api/v1/budgets", json={"name": "research", "amount_usd": 20_000}, headers=world.auth("admin"))
        client.post("/api/v1/budgets", json={"name": "creative", "amount_usd": 2_000, "period": "week"},
                    headers=world.auth("admin"))
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(world.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not srv.started:
            time.sleep(0.05)
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.goto(f"http://127.0.0.1:{port}/?token={world.tokens['admin']}")
        page.wait_for_selector("body[data-ready=true]", timeout=PAGE_TIMEOUT_MS)
        totals = _drawn_totals(page)
        assert set(totals) == {"creative", "marketing", "research", "(unallocated)"}
        assert page.locator("[data-testid=budget]").count() == 2
        assert page.locator("#forecast-charts .chart").count() == 1  # the controller's chat service
        page.wait_for_selector("[data-testid=replay-table] td", timeout=60_000)
        page.select_option("#window", "1d")  # hourly bars read better for a two-day sample
        page.wait_for_selector("body[data-ready=true]", timeout=PAGE_TIMEOUT_MS)
        assert page.locator("#spend-chart svg rect").count() == 24 * 4
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        page.close()
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
