"""The HTTP service: REST API v1, Prometheus /metrics and the web dashboard, built by `create_app`.

`create_app(settings, store, clock)` returns a FastAPI app with no import-time state: the store,
clock, catalog and a per-app Prometheus registry hang off `app.state`, so tests build as many
independent apps as they like on SQLite. Routes only parse, authorise, call one core function and
serialise; every error leaves as `{"error": {"code", "message", "fix"}}`.

Access: `/healthz`, `/metrics` and the dashboard shell are open; `/api/v1/...` needs
`Authorization: Bearer TOKEN` (401 without, 403 for a role too low or a team outside the token's).
"""

from costplane.api._app import create_app
from costplane.api._settings import Settings
from costplane.api._tokens import ROLES, IssuedToken, create_token, ensure_admin_token

__all__ = ["ROLES", "IssuedToken", "Settings", "create_app", "create_token", "ensure_admin_token"]
