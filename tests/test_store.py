"""The store on SQLite and on a real PostgreSQL: migrations, idempotent ingest, atomic writes, clear errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import select

from costplane.core.errors import StoreError
from costplane.store import CostRecord, Store, UsageSample, current_revision, table_names
from costplane.store.models import CatalogVersion, OfferRow


def _samples(n: int, offset: float = 0.0) -> list[dict]:
    return [{"source": "prometheus", "metric": "DCGM_FI_DEV_GPU_UTIL", "series_key": "gpu=0,pod=a",
             "ts_s": 1_700_000_000.0 + 60 * i + offset, "value": float(i % 100), "workload": "chat", "team": "product"}
            for i in range(n)]


def _head() -> str:
    from importlib import resources

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("costplane.store") / "migrations"))
    heads = ScriptDirectory.from_config(cfg).get_heads()
    assert len(heads) == 1, f"migrations must have one head, found {heads}"
    return heads[0]


def test_migration_creates_every_table(db_url):
    store = Store.open(db_url)
    assert current_revision(store.engine) == _head()
    assert {"offers", "usage_samples", "cost_records", "decisions", "api_tokens", "audit_log", "plans"} <= set(
        table_names(store.engine))
    Store.open(db_url)  # a second upgrade is a no-op
    assert current_revision(store.engine) == _head()


def test_reingesting_the_same_window_adds_nothing(db_url):
    store = Store.open(db_url)
    assert store.add_usage_samples(_samples(120)) == 120
    assert store.add_usage_samples(_samples(120)) == 0
    # an overlapping window adds only the new half
    assert store.add_usage_samples(_samples(120, offset=60 * 60)) == 60
    assert store.count(UsageSample) == 180


def test_cost_records_are_idempotent_and_keep_values(db_url):
    store = Store.open(db_url)
    rows = [{"source": "focus", "line_key": f"line-{i}", "period_start_s": 0.0, "period_end_s": 3600.0,
             "billed_cost_usd": 98.32, "effective_cost_usd": 70.5, "team": "research"} for i in range(3)]
    assert store.add_cost_records(rows) == 3
    assert store.add_cost_records(rows) == 0
    with store.session() as s:
        total = sum(r.effective_cost_usd for r in s.scalars(select(CostRecord)))
    assert total == pytest.approx(211.5)


def test_a_failed_write_leaves_nothing_half_written(db_url):
    store = Store.open(db_url)
    store.add_usage_samples(_samples(10))
    with pytest.raises(RuntimeError):
        with store.session() as s:
            s.add(UsageSample(source="x", metric="m", series_key="k", ts_s=1.0, value=1.0, labels={}))
            s.flush()
            raise RuntimeError("crash mid-transaction")
    assert store.count(UsageSample) == 10


def test_catalog_round_trip_and_dedup(db_url, bundled_catalog):
    store = Store.open(db_url)
    small = bundled_catalog.filter(gpu="H100")
    first = store.save_catalog(small, now_s=1.0)
    assert store.save_catalog(small, now_s=2.0) == first
    assert store.count(CatalogVersion) == 1
    assert store.count(OfferRow) == len(small.offers)
    again = store.load_catalog_version(first)
    assert again.offers == small.offers


def test_unreachable_database_is_one_clear_error():
    with pytest.raises(StoreError, match="unreachable.*127.0.0.1"):
        Store.open("postgresql+psycopg://nobody:pw@127.0.0.1:1/none")


def test_cli_reports_unreachable_database_on_one_line():
    proc = subprocess.run([sys.executable, "-m", "costplane.cli", "db", "status", "--db",
                           "postgresql://u:secret@127.0.0.1:1/x"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "unreachable" in lines[0] and "secret" not in lines[0]


def test_unwritable_sqlite_folder_is_a_store_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot create the database folder"):
        Store.open(f"sqlite:///{blocker / 'sub' / 'c.db'}")
