"""Alert delivery (adapter, I/O): POST alerts as JSON to a webhook URL; nothing here decides anything.

Body: `{"source": "costplane", "alerts": [Alert.to_dict(), ...]}` with Content-Type application/json,
plus a Slack-compatible `text` line so a Slack incoming webhook shows it as is. Failures (refused,
timeout, HTTP ≥ 400) are returned as a message, never raised: an alert that cannot be delivered must
not stop the status report that found it.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from costplane.budget._budget import Alert

WEBHOOK_TIMEOUT_S = 5.0


def webhook_payload(alerts: Sequence[Alert]) -> dict:
    return {"source": "costplane", "text": "\n".join(a.message for a in alerts),
            "alerts": [a.to_dict() for a in alerts]}


def post_alerts(url: str, alerts: Sequence[Alert], timeout_s: float = WEBHOOK_TIMEOUT_S) -> str | None:
    """POST the alerts; None on success, else one line saying what went wrong."""
    if not alerts:
        return None
    try:
        resp = httpx.post(url, json=webhook_payload(alerts), timeout=timeout_s)
    except httpx.HTTPError as exc:
        return f"webhook {url} unreachable: {type(exc).__name__}: {exc}"
    if resp.status_code >= 400:
        return f"webhook {url} answered HTTP {resp.status_code}"
    return None
