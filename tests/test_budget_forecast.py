"""Budgets: month bounds, forecast, thresholds (actual vs forecast) and the webhook on a real local server."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest

from costplane.budget import BudgetSpec, evaluate, forecast_rest, month_bounds
from costplane.budget._webhook import post_alerts
from costplane.core.errors import InputError


def _ts(*args) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def test_month_bounds_utc_and_leap_february():
    start, end, name = month_bounds(_ts(2024, 2, 10, 12))
    assert (start, end, name) == (_ts(2024, 2, 1), _ts(2024, 3, 1), "2024-02")


def test_constant_spend_forecasts_the_same_rate_for_the_rest_of_the_month():
    now = _ts(2026, 11, 11)  # 10 days in, 20 days (480 h) left
    spend = np.full(240, 10.0)
    st = evaluate(BudgetSpec("team", "ml", 10_000.0), spend, now)
    assert st.spent_usd == pytest.approx(2400.0)
    assert st.forecast_usd == pytest.approx(7200.0, rel=0.01)
    assert [(a.threshold, a.basis) for a in st.alerts] == [(0.5, "forecast")]


def test_actual_crossing_wins_over_forecast_and_every_threshold_is_listed():
    now = _ts(2026, 11, 2)
    st = evaluate(BudgetSpec("project", "p", 100.0, (0.5, 0.8, 1.0)), np.full(24, 4.0), now)
    assert [(a.threshold, a.basis) for a in st.alerts] == [(0.5, "actual"), (0.8, "actual"), (1.0, "forecast")]
    assert "has spent $96.00 of its $100.00" in st.alerts[0].message


def test_forecast_never_negative_and_works_with_few_points():
    pred, method = forecast_rest(np.array([50.0, 10.0, 0.0, 0.0]), 100)
    assert (pred >= 0).all() and len(pred) == 100 and method
    pred, method = forecast_rest(np.array([3.0]), 5)
    assert list(pred) == [3.0] * 5 and method == "mean hourly spend"


def test_daily_season_used_with_two_days_of_history():
    hours = np.arange(24 * 7)
    y = 10 + 5 * np.sin(2 * np.pi * hours / 24)
    pred, method = forecast_rest(y, 24)
    assert "24" in method
    assert pred.sum() == pytest.approx(240, rel=0.05)


def test_bad_budgets_are_input_errors():
    with pytest.raises(InputError):
        BudgetSpec("org", "x", 10.0)
    with pytest.raises(InputError):
        BudgetSpec("team", "x", -1.0)
    with pytest.raises(InputError):
        BudgetSpec("team", "x", 10.0, (0.0,))


class _Recorder(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Recorder.received.append((self.path, self.headers["Content-Type"], json.loads(body)))
        self.send_response(204 if self.path != "/fail" else 500)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook_server(monkeypatch):
    # a loopback http receiver is refused by default (internal address, not https): the admin allows this one
    monkeypatch.setenv("COSTPLANE_WEBHOOK_ALLOW_HOSTS", "127.0.0.1")
    monkeypatch.setenv("COSTPLANE_WEBHOOK_ALLOW_HTTP", "1")
    _Recorder.received = []
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.received
    server.shutdown()
    server.server_close()


def test_webhook_posts_json_alerts_to_a_real_server(webhook_server):
    url, received = webhook_server
    st = evaluate(BudgetSpec("team", "ml", 100.0), np.full(24, 4.0), _ts(2026, 11, 2))
    assert post_alerts(url + "/hook", st.alerts) is None
    (path, ctype, body) = received[0]
    assert path == "/hook" and ctype == "application/json"
    assert body["source"] == "costplane" and [a["threshold"] for a in body["alerts"]] == [0.5, 0.8, 1.0]
    assert "team ml has spent $96.00" in body["text"]
    assert "HTTP 500" in post_alerts(url + "/fail", st.alerts)
    assert "unreachable" in post_alerts("http://127.0.0.1:9/", st.alerts, timeout_s=1.0)
