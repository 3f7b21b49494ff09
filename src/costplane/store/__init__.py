"""The store adapter: typed reads and idempotent writes of costplane entities (SQLite default, PostgreSQL).

`Store.open(url)` migrates the schema to head with Alembic and returns a store whose writes are
all-or-nothing (one transaction per call). Re-ingesting the same samples or cost lines adds nothing
twice: their natural keys are unique and inserts skip conflicts on both SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from costplane.core.errors import InputError, StoreError
from costplane.core.types import OFFER_COLUMNS, Catalog
from costplane.store._engine import (
    current_revision,
    default_url,
    existing_store_engine,
    make_engine,
    masked,
    migrate,
    session_scope,
    table_names,
)
from costplane.store._rollup import HOUR_S, add_to_rollup, hour_of, rebuild_sql
from costplane.store._validate import RowProblem, check_cost_row, check_usage_row
from costplane.store.models import (
    ApiToken,
    AuditLog,
    Base,
    Budget,
    CatalogVersion,
    ControllerLease,
    ControllerState,
    CostRecord,
    DecisionRow,
    OfferRow,
    PlanRow,
    UsageHourly,
    UsageSample,
    WorkloadRow,
)

__all__ = [
    "ApiToken",
    "AuditLog",
    "Base",
    "Budget",
    "CatalogVersion",
    "ControllerLease",
    "ControllerState",
    "CostRecord",
    "DecisionRow",
    "HOUR_S",
    "OfferRow",
    "PlanRow",
    "RowProblem",
    "Store",
    "UsageHourly",
    "UsageSample",
    "WorkloadRow",
    "check_cost_row",
    "check_usage_row",
    "current_revision",
    "default_url",
    "hour_of",
    "make_engine",
    "masked",
    "migrate",
    "rebuild_sql",
    "session_scope",
    "table_names",
]

_INSERT_BATCH = 2_000  # rows per INSERT: 2 000 × ~12 columns stays under SQLite and PostgreSQL bind-parameter limits


def _validated(rows: Sequence[dict[str, Any]], check, what: str) -> Sequence[dict[str, Any]]:
    """Every row passes `check` or nothing is written: the same rules on SQLite and PostgreSQL."""
    for i, row in enumerate(rows):
        try:
            check(row)
        except RowProblem as p:
            raise InputError(f"{what} row {i + 1} of {len(rows)}: {p}",
                             fix="reject the row at ingest (costplane.store.check_* names the problem)") from None
    return rows


def _catalog_digest(catalog: Catalog) -> str:
    h = hashlib.sha256(f"{catalog.as_of}|{catalog.source}|{catalog.discounts_applied}".encode())
    for o in catalog.offers:
        h.update(repr(tuple(getattr(o, c) for c in OFFER_COLUMNS)).encode())
    return h.hexdigest()


@dataclass
class Store:
    engine: Engine

    @classmethod
    def open(cls, url: str | None = None, upgrade: bool = True, create: bool = True) -> Store:
        """`create=False` for commands that only read: a missing store or a database without costplane's
        schema is a StoreError (never new tables in someone else's database); an older costplane schema is
        upgraded."""
        engine = make_engine(url) if create else existing_store_engine(url)
        if upgrade:
            migrate(engine)
        return cls(engine)

    @property
    def url(self) -> str:
        return masked(str(self.engine.url))

    def session(self):
        return session_scope(self.engine)

    # ------------------------------------------------------------ idempotent bulk inserts

    def _insert_ignoring_duplicates(self, model: type[Base], rows: Sequence[dict[str, Any]],
                                    conflict_cols: Sequence[str], returning: Sequence[Any] = (),
                                    then: Callable[[Session, list], Any] | None = None) -> int:
        """Insert rows; those whose unique key is already stored are skipped. Returns rows added.

        `then(session, inserted)` runs in the same transaction with the `returning` columns of the rows
        really inserted (the usage roll-up is kept in step this way)."""
        if not rows:
            return 0
        dialect = self.engine.dialect.name
        insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
        if insert is None:
            raise StoreError(f"idempotent inserts are not supported on {dialect}", fix="use SQLite or PostgreSQL")
        inserted: list = []
        # One compiled statement run with many parameter sets (SQLAlchemy's "insertmanyvalues" batching):
        # 3-5x faster than compiling a new multi-VALUES statement per chunk (bench: 20k samples, SQLite 5.8 -> 1.2 s).
        stmt = (insert(model).on_conflict_do_nothing(index_elements=list(conflict_cols))
                .returning(*(returning or (model.id,))))
        with self.session() as s:
            for start in range(0, len(rows), _INSERT_BATCH):
                chunk = list(rows[start:start + _INSERT_BATCH])
                # RETURNING names what was really inserted; rowcount is -1 for multi-row inserts on psycopg.
                inserted.extend(s.execute(stmt, chunk).all())
            if then is not None:
                then(s, inserted)
        return len(inserted)

    def upsert(self, model: type[Base], rows: Sequence[dict[str, Any]], key_cols: Sequence[str]) -> None:
        """Insert rows, or update every other column of those whose key is already stored (one statement per chunk)."""
        if not rows:
            return
        dialect = self.engine.dialect.name
        insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
        if insert is None:
            raise StoreError(f"upserts are not supported on {dialect}", fix="use SQLite or PostgreSQL")
        stmt = insert(model)
        stmt = stmt.on_conflict_do_update(index_elements=list(key_cols),
                                          set_={c: stmt.excluded[c] for c in rows[0] if c not in key_cols})
        with self.session() as s:
            for start in range(0, len(rows), _INSERT_BATCH):
                s.execute(stmt, list(rows[start:start + _INSERT_BATCH]))

    def add_usage_samples(self, rows: Sequence[dict[str, Any]]) -> int:
        """Rows: source, metric, series_key, ts_s, value, [workload, team, project, labels].

        The samples really inserted (duplicates of stored ones are skipped) are added to the hourly roll-up
        (`usage_hourly`, store._rollup) in the same transaction: both change together or not at all."""
        normalised = [{"labels": {}, "workload": None, "team": None, "project": None, **r} for r in rows]
        u = UsageSample
        return self._insert_ignoring_duplicates(u, _validated(normalised, check_usage_row, "usage sample"),
                                                ("source", "metric", "series_key", "ts_s"),
                                                returning=(u.source, u.metric, u.series_key, u.ts_s, u.value),
                                                then=add_to_rollup)

    def add_cost_records(self, rows: Sequence[dict[str, Any]]) -> int:
        """Rows: source, line_key, period_start_s, period_end_s, billed_cost_usd, effective_cost_usd, ..."""
        defaults = {"tags": {}, "gpu_hours": 0.0, "resource_id": None, "service": None, "cloud": None,
                    "region": None, "list_cost_usd": None, "workload": None, "team": None, "project": None}
        rows = _validated([{**defaults, **r} for r in rows], check_cost_row, "cost record")
        return self._insert_ignoring_duplicates(CostRecord, rows, ("source", "line_key"))

    def count(self, model: type[Base]) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)

    # ------------------------------------------------------------ catalog and plans

    def save_catalog(self, catalog: Catalog, now_s: float | None = None) -> int:
        """Store a catalog version once (same content -> same id)."""
        digest = _catalog_digest(catalog)
        with self.session() as s:
            existing = s.scalar(select(CatalogVersion.id).where(CatalogVersion.content_sha256 == digest))
            if existing is not None:
                return int(existing)
            version = CatalogVersion(as_of=catalog.as_of, source=catalog.source, content_sha256=digest,
                                     imported_at_s=now_s if now_s is not None else time.time())
            s.add(version)
            s.flush()
            s.bulk_insert_mappings(OfferRow, [{"catalog_id": version.id, **o.to_dict()} for o in catalog.offers])
            return int(version.id)

    def load_catalog_version(self, catalog_id: int) -> Catalog:
        from costplane.core.types import Offer

        with self.session() as s:
            version = s.get(CatalogVersion, catalog_id)
            if version is None:
                raise StoreError(f"no catalog version {catalog_id} in {self.url}", fix="list versions with `costplane db status`")
            rows = s.scalars(select(OfferRow).where(OfferRow.catalog_id == catalog_id).order_by(OfferRow.id)).all()
            offers = tuple(Offer(**{c: getattr(r, c) for c in OFFER_COLUMNS}) for r in rows)
            return Catalog(offers, version.as_of, version.source)

    def save_plan(self, plan_dict: dict[str, Any], spec: dict[str, Any], catalog_source: str,
                  now_s: float | None = None) -> int:
        with self.session() as s:
            row = PlanRow(created_at_s=now_s if now_s is not None else time.time(), catalog_source=catalog_source,
                          status=plan_dict["status"], total_usd=plan_dict["total_usd"],
                          naive_total_usd=plan_dict["naive_total_usd"], spec=spec,
                          assignments=plan_dict["assignments"])
            s.add(row)
            s.flush()
            return int(row.id)

    def upsert_workloads(self, workloads: Iterable[dict[str, Any]]) -> int:
        n = 0
        with self.session() as s:
            for w in workloads:
                row = s.scalar(select(WorkloadRow).where(WorkloadRow.name == w["name"]))
                if row is None:
                    row = WorkloadRow(name=w["name"])
                    s.add(row)
                for key in ("kind", "team", "project", "labels", "spec"):
                    if key in w:
                        setattr(row, key, w[key])
                n += 1
        return n

