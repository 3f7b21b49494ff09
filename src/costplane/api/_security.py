"""The service's protections around the routes: body size limit, security headers, per-token rate limit,
and what /metrics shows to whom.

- `BodyLimit` (ASGI, outermost but one): a request body over `max_body_bytes` is a 413 before routing,
  authentication or parsing; `Content-Length` is checked first, and a chunked body is counted as it
  streams and buffered only up to the limit.
- `SecurityHeaders`: nosniff, no framing, no referrer, a CSP (the dashboard loads only its own files),
  and HSTS when the server runs TLS.
- `RateLimiter`: a token bucket per API token (monotonic time, in memory); an empty bucket is a 429
  with `Retry-After`.
- `metrics_view`: the Prometheus families a caller may see: unscoped tokens everything, a team token
  only its team's series, and no token (`serve --public-metrics`) no series that carries a team,
  project, workload, target or budget label.
"""

from __future__ import annotations

import json
import threading
import time

from costplane.api._errors import error_body

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024  # the largest valid body (20 000-point forecast or replay) is ~0.4 MB
DEFAULT_RATE_PER_S = 1000.0  # requests per second per token, sustained
DEFAULT_BURST = 2000  # requests a token may send at once
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
NAME_LABELS = ("team", "project", "workload", "target", "budget", "namespace", "hostname", "Hostname", "instance")

API_CSP = "default-src 'none'; frame-ancestors 'none'"
DASHBOARD_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                 "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


async def _send_error(send, status: int, code: str, message: str, fix: str, headers=()) -> None:
    body = json.dumps(error_body(code, message, fix)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """413 for a body over `max_bytes`, decided before the app (routing, auth, JSON parsing) sees it."""

    def __init__(self, app, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def _too_large(self, send) -> None:
        await _send_error(send, 413, "payload_too_large", f"request body over {self.max_bytes} bytes",
                          "send a smaller body (split the series or the plan)", [(b"connection", b"close")])

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = self.max_bytes + 1
            if declared > self.max_bytes:
                await self._too_large(send)
                return
        if scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        # Read the body here, counting: a chunked upload stops at the limit instead of filling memory.
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            total += len(body)
            if total > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": whole, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class SecurityHeaders:
    """Headers on every response, errors included."""

    def __init__(self, app, hsts: bool = False) -> None:
        self.app, self.hsts = app, hsts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        csp = API_CSP if path.startswith(("/api/", "/metrics", "/healthz", "/openapi.json")) else DASHBOARD_CSP
        extra = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                 (b"referrer-policy", b"no-referrer"), (b"content-security-policy", csp.encode()),
                 (b"cross-origin-opener-policy", b"same-origin")]
        if self.hsts or scope.get("scheme") == "https":
            extra.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        if path.startswith("/api/"):
            extra.append((b"cache-control", b"no-store"))

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []),
                                                  *[(k, v) for k, v in extra if k not in names]]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RateLimiter:
    """Token buckets per API token id: `rate_per_s` sustained, `burst` at once (monotonic time)."""

    def __init__(self, rate_per_s: float = DEFAULT_RATE_PER_S, burst: int = DEFAULT_BURST) -> None:
        self.rate_per_s, self.burst = rate_per_s, burst
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: int) -> float | None:
        """None when the request may pass; else the seconds until one more would."""
        if self.rate_per_s <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate_per_s)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return None
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate_per_s


class _View:
    """A registry look-alike for `generate_latest`: the source registry's families, samples filtered."""

    def __init__(self, registry, keep) -> None:
        self.registry, self.keep = registry, keep

    def collect(self):
        from prometheus_client.metrics_core import Metric

        for family in self.registry.collect():
            copy = Metric(family.name, family.documentation, family.type, family.unit)
            copy.samples = [s for s in family.samples if self.keep(s.labels)]
            yield copy


def metrics_view(registry, team: str | None, public: bool):
    """What /metrics shows: everything (unscoped token), one team's series (team token), or, without a
    token, only series that name no team, project, workload, target or budget."""
    if public:
        return _View(registry, lambda labels: not any(labels.get(k) for k in NAME_LABELS))
    if team is None:
        return registry

    def own(labels: dict) -> bool:
        if not any(labels.get(k) for k in NAME_LABELS):
            return True
        return labels.get("team") == team

    return _View(registry, own)
