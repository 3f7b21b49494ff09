"""Database engine and migrations: SQLite file by default, any SQLAlchemy URL (PostgreSQL) by configuration.

The URL comes from `--db`, else `COSTPLANE_DB_URL`, else `sqlite:///<data dir>/costplane.db` where the
data dir is `COSTPLANE_HOME` or `~/.costplane`. Connection failures become a StoreError that names
the URL (password masked) and never a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from costplane.core.errors import StoreError

DB_URL_ENV = "COSTPLANE_DB_URL"
HOME_ENV = "COSTPLANE_HOME"
CONNECT_TIMEOUT_S = 5
SQLITE_BUSY_TIMEOUT_S = 10.0  # a writer waits this long for the lock; ingests commit in short chunks, so ~1 s suffices


def data_dir() -> Path:
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".costplane")


def default_url() -> str:
    return os.environ.get(DB_URL_ENV) or f"sqlite:///{data_dir() / 'costplane.db'}"


def masked(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def make_engine(url: str | None = None) -> Engine:
    url = url or default_url()
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"database URL {url!r} is not a valid SQLAlchemy URL",
                         fix="use sqlite:///path.db or postgresql+psycopg://user@host/db") from None
    # hide_parameters: SQL errors and logs never show bound values (webhook URLs, tags, names).
    kwargs: dict = {"future": True, "pool_pre_ping": True, "hide_parameters": True, "echo": False}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _create_private_file(Path(parsed.database).expanduser())
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
    elif parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(f"cannot use database {masked(url)}: {exc}", fix="check the URL's driver") from None
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _create_private_file(path: Path) -> None:
    """Create a new SQLite file 0600 (its -wal and -shm files inherit the mode); an existing file is left as is."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the database folder {path.parent}: {exc.strerror}",
                         fix=f"set {HOME_ENV} or --db to a writable place") from None
    if path.exists():
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(f"cannot create the database file {path}: {exc.strerror}",
                         fix=f"set {HOME_ENV} or --db to a writable place") from None


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")  # readers do not block the controller's writes
    cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints, never corrupt; short commits
    cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    cur.close()


def _alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("costplane.store") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` with Alembic (creates it on an empty database)."""
    from alembic import command

    cfg = _alembic_config(engine)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except DBAPIError as exc:  # unreachable, or not a database at all (`file is not a database`)
        raise StoreError(f"database {masked(str(engine.url))} is unreachable or not a database: {_first_line(exc)}",
                         fix="start the database or fix --db / COSTPLANE_DB_URL") from None


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except DBAPIError as exc:  # unreachable, or not a database at all (`file is not a database`)
        raise StoreError(f"database {masked(str(engine.url))} is unreachable or not a database: {_first_line(exc)}",
                         fix="start the database or fix --db / COSTPLANE_DB_URL") from None


def existing_store_engine(url: str | None = None) -> Engine:
    """An engine on a store costplane created (for commands that only read): never creates a file or a table.

    A missing SQLite file, or a database without costplane's schema, is a StoreError that says how to create it.
    """
    url = url or default_url()
    fix = (f"fill it (costplane ingest prometheus|usage|focus --db {url}) or create it empty "
           f"(costplane db upgrade --db {url})")
    try:
        parsed = make_url(url)
    except ArgumentError:
        parsed = None
    if parsed is not None and parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).expanduser().is_file():
            raise StoreError(f"no costplane store at {masked(url)}", fix=fix)
    engine = make_engine(url)
    if current_revision(engine) is None:
        engine.dispose()
        raise StoreError(f"no costplane store at {masked(url)} (the database has no costplane schema)", fix=fix)
    return engine


def table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", exc)) or exc.__class__.__name__
    return text.strip().splitlines()[0][:200]


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back everything on any error (nothing half-written)."""
    factory = sessionmaker(engine, expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except OperationalError as exc:
        session.rollback()
        raise StoreError(f"database {masked(str(engine.url))} failed: {_first_line(exc)}",
                         fix="check that the database is up; nothing was written") from None
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
