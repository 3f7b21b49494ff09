"""The hourly roll-up of usage samples (`usage_hourly`): which hour a sample belongs to, its upsert at write time,
and its rebuild from raw rows (the migration that created it, bulk loads).

Invariant: for every (source, metric, series_key, hour) the roll-up row holds exactly what
`SELECT count(*), sum(value), min(ts_s), max(ts_s) FROM usage_samples ... GROUP BY` gives for that hour,
where hour = floor(ts_s / 3600) computed on the stored double (Python, PostgreSQL and the SQLite expression
below agree bit for bit). Only rows really inserted are added (`Store.add_usage_samples` passes what its
`INSERT ... ON CONFLICT DO NOTHING RETURNING` returned), in the same transaction, so re-ingest adds nothing
and a failed write leaves neither table changed. Whoever deletes samples deletes their roll-up rows too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from sqlalchemy import case
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from costplane.store.models import UsageHourly

HOUR_S = 3600.0
_BATCH = 2_000


def hour_of(ts_s: float) -> float:
    """Start of the sample's hour, epoch seconds: floor(ts / 3600) × 3600 (negative times included)."""
    return math.floor(ts_s / HOUR_S) * HOUR_S


def hour_index_sql(dialect: str, column: str = "ts_s") -> str:
    """SQL for floor(column / 3600) as an integer-valued number, equal to `math.floor(ts / 3600.0)`.

    SQLite's CAST truncates towards zero (and floor() exists only in builds with math functions): one less
    when the quotient is negative and not whole."""
    q = f"{column} / {HOUR_S!r}"
    if dialect == "postgresql":
        return f"floor({q})"
    return f"(CAST({q} AS INTEGER) - (({q}) < CAST({q} AS INTEGER)))"


def rebuild_sql(dialect: str, where: str = "") -> str:
    """INSERT ... SELECT ... GROUP BY filling usage_hourly from usage_samples (rows matching `where`).
    The target rows must not exist yet (the migration's backfill, a bulk load into an empty table)."""
    hour = hour_index_sql(dialect)
    return ("INSERT INTO usage_hourly (source, metric, series_key, hour_s, n, sum_value, min_ts_s, max_ts_s) "
            f"SELECT source, metric, series_key, {hour} * {HOUR_S!r}, count(*), sum(value), min(ts_s), max(ts_s) "
            f"FROM usage_samples {('WHERE ' + where) if where else ''} GROUP BY source, metric, series_key, {hour}")


def add_to_rollup(session: Session, inserted: Iterable[tuple[str, str, str, float, float]]) -> int:
    """Add newly inserted samples (source, metric, series_key, ts_s, value) to their hours: n and Σ added,
    first/last widened. One row per hour per statement (PostgreSQL's ON CONFLICT DO UPDATE needs it).
    Returns roll-up rows touched."""
    groups: dict[tuple[str, str, str, float], list] = {}
    for source, metric, key, ts, value in inserted:
        ts, value = float(ts), float(value)
        g = groups.get((source, metric, key, hour_of(ts)))
        if g is None:
            groups[(source, metric, key, hour_of(ts))] = [1, value, ts, ts]
        else:
            g[0] += 1
            g[1] += value
            g[2] = min(g[2], ts)
            g[3] = max(g[3], ts)
    if not groups:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(UsageHourly)
    old, new = UsageHourly.__table__.c, stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=["source", "metric", "series_key", "hour_s"],
        set_={"n": old.n + new.n, "sum_value": old.sum_value + new.sum_value,
              "min_ts_s": case((new.min_ts_s < old.min_ts_s, new.min_ts_s), else_=old.min_ts_s),
              "max_ts_s": case((new.max_ts_s > old.max_ts_s, new.max_ts_s), else_=old.max_ts_s)})
    rows = [{"source": k[0], "metric": k[1], "series_key": k[2], "hour_s": k[3], "n": g[0], "sum_value": g[1],
             "min_ts_s": g[2], "max_ts_s": g[3]} for k, g in groups.items()]
    for start in range(0, len(rows), _BATCH):
        session.execute(stmt, rows[start:start + _BATCH])
    return len(rows)
