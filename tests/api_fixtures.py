"""Shared builders for the API tests (not collected: no test_ prefix): an app on a seeded store, and tokens.

The ledger every API test reads (NOW = 2025-06-15 12:00 UTC, a Sunday; month started 2025-06-01):

| line        | team     | workload | from       | to        | cost_usd | gpu_hours |
|-------------|----------|----------|------------|-----------|----------|-----------|
| train-1     | research | train    | NOW - 3 h  | NOW - 1 h |    20.00 |         0 |
| train-2     | research | train    | NOW - 1 h  | NOW       |    12.00 |         0 |
| chat-1      | product  | chat     | NOW - 2 h  | NOW       |     8.00 |         2 |
| idle-node-1 | (none)   | (none)   | NOW - 1 h  | NOW       |     3.00 |         0 |
| chat-old    | product  | chat     | NOW - 10 d | NOW - 9 d |   100.00 |         0 |

Last hour: research/train 12 $/h, product/chat 4 $/h, unallocated 3 $/h. chat's GPU ran at 25 % and
75 % (mean 50 %), so its idle is 2 $/h and its efficiency 0.5; it paid 8 $ / 2 GPU-h = 4 $ per GPU-hour.
This month: research 32, product 108.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from costplane.api import Settings, create_app, create_token
from costplane.core.clock import SimClock
from costplane.store import DecisionRow, Store

NOW_S = 1_749_988_800.0
H = 3600.0
LEDGER = (
    ("train-1", "research", "train", NOW_S - 3 * H, NOW_S - H, 20.0, 0.0),
    ("train-2", "research", "train", NOW_S - H, NOW_S, 12.0, 0.0),
    ("chat-1", "product", "chat", NOW_S - 2 * H, NOW_S, 8.0, 2.0),
    ("idle-node-1", None, None, NOW_S - H, NOW_S, 3.0, 0.0),
    ("chat-old", "product", "chat", NOW_S - 10 * 86400, NOW_S - 9 * 86400, 100.0, 0.0),
)


@dataclass
class ApiWorld:
    app: object
    store: Store
    clock: SimClock
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def seed_ledger(store: Store) -> None:
    store.add_cost_records([
        {"source": "test", "line_key": key, "team": team, "workload": workload, "period_start_s": start,
         "period_end_s": end, "billed_cost_usd": cost, "effective_cost_usd": cost, "gpu_hours": gpu_hours}
        for key, team, workload, start, end, cost, gpu_hours in LEDGER])
    store.add_usage_samples([
        {"source": "test", "metric": "gpu_util_pct", "series_key": "chat", "ts_s": NOW_S - 1800, "value": 25.0,
         "workload": "chat", "team": "product"},
        {"source": "test", "metric": "gpu_util_pct", "series_key": "chat", "ts_s": NOW_S - 600, "value": 75.0,
         "workload": "chat", "team": "product"},
    ])
    with store.session() as s:
        for i, (at, target, team, replicas, current) in enumerate((
                (NOW_S - 120, "deployment/serving/chat", "product", 3, 2),
                (NOW_S - 60, "deployment/serving/chat", "product", 4, 3),
                (NOW_S - 60, "deployment/research/notebook", "research", 1, 1))):
            s.add(DecisionRow(cycle_id=f"cycle-{i}", created_at_s=at, kind="scale", target=target, team=team,
                              desired={"replicas": replicas, "current": current, "policy": "hybrid"},
                              observation={"now_s": at, "service": target.rsplit("/", 1)[1],
                                           "demand_ts_s": [at - 60, at], "demand_per_s": [5.0, 6.5],
                                           "current_replicas": current},
                              reasons=["test"], actuator="dry-run"))


TOKENS = (  # name, role, team
    ("admin", "admin", None),
    ("ops-research", "operator", "research"),
    ("ops-all", "operator", None),
    ("view-research", "viewer", "research"),
    ("view-product", "viewer", "product"),
)


def build_world(db_url: str, seed: bool = True) -> ApiWorld:
    store = Store.open(db_url)
    clock = SimClock(NOW_S)
    if seed:
        seed_ledger(store)
    tokens = {name: create_token(store, name, role, team, NOW_S - 10).secret for name, role, team in TOKENS}
    return ApiWorld(create_app(Settings(), store, clock), store, clock, tokens)


@contextmanager
def running_world(db_url: str) -> Iterator[ApiWorld]:
    """`build_world` with the app started (lifespan run) and its TestClient at `world.client`."""
    from fastapi.testclient import TestClient

    w = build_world(db_url)
    with TestClient(w.app) as client:
        w.client = client
        yield w


def self_signed_cert(tmp_path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files (a loopback TLS server's)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
