"""Shared fixtures: paths to ../shared data, catalogs, and database URLs (SQLite always, PostgreSQL for real)."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
SHARED_DATA = SHARED / "data"
SKYPILOT_DIR = SHARED_DATA / "catalog" / "skypilot-v8"
TRACES = SHARED_DATA / "traces"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Secrets at rest (webhook URLs) need a Fernet key: a fixed test key, so no test writes ~/.costplane/secret.key.
os.environ.setdefault("COSTPLANE_SECRET_KEY", "x8hbXo0d3hZ0Q2dQbVgdAcpn1lX7H6m5z8jVYVq4sE0=")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def skypilot_dir(shared_dir) -> Path:
    return SKYPILOT_DIR


@pytest.fixture(scope="session")
def traces_dir(shared_dir) -> Path:
    return TRACES


@pytest.fixture(scope="session")
def bundled_catalog():
    from costplane.catalog import load_catalog

    return load_catalog()


def _postgres_base_url() -> str | None:
    url = os.environ.get("COSTPLANE_TEST_POSTGRES_URL")
    if url:
        return url
    if os.geteuid() == 0:  # a developer machine as root can start Debian's cluster itself
        try:
            out = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "postgres.sh")], capture_output=True,
                                 text=True, timeout=90, check=True)
            return out.stdout.strip().splitlines()[-1]
        except (subprocess.SubprocessError, OSError, IndexError):
            return None
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A PostgreSQL URL for a fresh schema; skips with the reason outside CI, fails in CI."""
    url = _postgres_base_url()
    if not url:
        reason = "no PostgreSQL server: set COSTPLANE_TEST_POSTGRES_URL or run as root with postgresql installed"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return url


@pytest.fixture()
def fresh_postgres_url(postgres_url) -> str:
    """A new, empty database on the PostgreSQL server for one test (dropped afterwards)."""
    import sqlalchemy as sa

    name = f"cp_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    yield url
    # FORCE ends the test's own sessions; it may not end a server process of another role (an autovacuum
    # worker that just started on the new database), so try again a moment later rather than fail the test.
    for attempt in range(20):
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            break
        except sa.exc.ProgrammingError:
            if attempt == 19:
                raise
            time.sleep(0.25)
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """Every store test runs on SQLite and on a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'costplane.db'}"
    return request.getfixturevalue("fresh_postgres_url")


# ---------------------------------------------------------------- catalogs and the CLI (foundation tests)

@pytest.fixture(scope="session")
def skypilot_catalog(skypilot_dir):
    """The real SkyPilot v8 snapshot under ../shared, imported once per session."""
    from costplane.catalog import load_catalog

    if not skypilot_dir.is_dir():
        pytest.skip(f"SkyPilot catalog not found at {skypilot_dir}")
    return load_catalog(skypilot_dir)


@pytest.fixture(scope="session")
def bundled_path() -> Path:
    from costplane.catalog import bundled_catalog_path

    return bundled_catalog_path()


class CliResult:
    """Exit code and captured output of one in-process `costplane` run."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self):
        import json

        return json.loads(self.out)

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


@pytest.fixture
def cli(capsys):
    """Run `costplane ARGS...` in-process (the console script's own entry point) and capture its output."""
    from costplane.cli import main

    def run(*args) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
