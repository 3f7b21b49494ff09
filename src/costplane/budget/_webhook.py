"""Alert delivery (adapter, I/O): POST alerts as JSON to a webhook URL; nothing here decides anything.

Body: `{"source": "costplane", "alerts": [Alert.to_dict(), ...]}` with Content-Type application/json,
plus a Slack-compatible `text` line so a Slack incoming webhook shows it as is. Failures (refused,
timeout, HTTP ≥ 400) are returned as a message, never raised: an alert that cannot be delivered must
not stop the status report that found it.

Safety: a webhook URL is a secret and a way into the network the server sits in. `check_webhook_url`
accepts https only (http only when allowed), and refuses hosts that resolve to loopback, link-local,
private, multicast or reserved addresses unless the host is on the allow list
(`COSTPLANE_WEBHOOK_ALLOW_HOSTS`, comma-separated; set by an admin). Delivery checks again (DNS may
have changed), never follows redirects, verifies TLS (optionally against `ca_bundle`), and every
message names the URL only in its redacted form `https://host/…`.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

import httpx

from costplane.budget._budget import Alert
from costplane.core.errors import InputError

WEBHOOK_TIMEOUT_S = 5.0
ALLOW_HOSTS_ENV = "COSTPLANE_WEBHOOK_ALLOW_HOSTS"
ALLOW_HTTP_ENV = "COSTPLANE_WEBHOOK_ALLOW_HTTP"
CA_BUNDLE_ENV = "COSTPLANE_CA_BUNDLE"
TOKEN_ENV = "COSTPLANE_WEBHOOK_TOKEN"  # sent as `Authorization: Bearer`, for receivers that want one
MAX_URL_CHARS = 2048


def redact(url: str | None) -> str | None:
    """`https://hooks.example.com/…`: scheme and host only; the path and query (the secret part) never shown."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return "…"
    if not parts.scheme or not host:
        return "…"
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}/…"


def allowed_hosts(extra: Iterable[str] = ()) -> frozenset[str]:
    env = os.environ.get(ALLOW_HOSTS_ENV, "")
    return frozenset(h.strip().lower() for h in (*env.split(","), *extra) if h.strip())


def _resolve(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        raise InputError(f"webhook host {host!r} does not resolve", fix="use a public https:// URL") from None
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def _internal(addr) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return (addr.is_loopback or addr.is_link_local or addr.is_private or addr.is_multicast or addr.is_reserved
            or addr.is_unspecified or not addr.is_global)


def check_webhook_url(url: str, allow: Iterable[str] = (), allow_http: bool | None = None) -> str:
    """The URL when it is safe to POST to, else InputError (naming only the redacted URL)."""
    if allow_http is None:
        allow_http = os.environ.get(ALLOW_HTTP_ENV, "").lower() in ("1", "true", "yes")
    if len(url) > MAX_URL_CHARS:
        raise InputError(f"webhook URL longer than {MAX_URL_CHARS} characters", fix="use a shorter URL")
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        _ = parts.port
    except ValueError:
        raise InputError("webhook URL is not a valid URL", fix="use e.g. https://hooks.example.com/...") from None
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme.lower() not in schemes:
        raise InputError(f"webhook URL scheme {parts.scheme or '(none)'!r} is not allowed (only "
                         f"{' or '.join(schemes)})", fix="use an https:// URL")
    if not host:
        raise InputError("webhook URL has no host", fix="use e.g. https://hooks.example.com/...")
    if parts.username or parts.password:
        raise InputError("webhook URL carries credentials before the host", fix="put the secret in the path or query")
    if host in allowed_hosts(allow):
        return url.strip()
    bad = [str(a) for a in _resolve(host) if _internal(a)]
    if bad:
        raise InputError(f"webhook host {host} resolves to a loopback, link-local or private address ({bad[0]})",
                         fix=f"use a public host, or have an admin allow it in {ALLOW_HOSTS_ENV}")
    return url.strip()


def webhook_payload(alerts: Sequence[Alert]) -> dict:
    return {"source": "costplane", "text": "\n".join(a.message for a in alerts),
            "alerts": [a.to_dict() for a in alerts]}


def post_alerts(url: str, alerts: Sequence[Alert], timeout_s: float = WEBHOOK_TIMEOUT_S,
                ca_bundle: str | None = None, allow: Iterable[str] = (), bearer_token: str | None = None) -> str | None:
    """POST the alerts; None on success, else one line saying what went wrong (URL redacted).

    TLS is verified against `ca_bundle` (or `COSTPLANE_CA_BUNDLE`, else the system's CAs); `bearer_token`
    (or `COSTPLANE_WEBHOOK_TOKEN`) is sent as `Authorization: Bearer`."""
    if not alerts:
        return None
    shown = redact(url)
    try:
        check_webhook_url(url, allow)
    except InputError as exc:
        return f"webhook {shown} refused: {exc.message}"
    bundle = ca_bundle or os.environ.get(CA_BUNDLE_ENV)
    try:
        verify = ssl.create_default_context(cafile=bundle) if bundle else True
    except (OSError, ssl.SSLError):
        return f"webhook {shown} not sent: CA bundle {bundle} cannot be read"
    token = bearer_token or os.environ.get(TOKEN_ENV)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        resp = httpx.post(url, json=webhook_payload(alerts), timeout=timeout_s, verify=verify, headers=headers,
                          follow_redirects=False)
    except httpx.HTTPError as exc:
        return f"webhook {shown} unreachable: {type(exc).__name__}"
    if resp.status_code >= 400:
        return f"webhook {shown} answered HTTP {resp.status_code}"
    return None
