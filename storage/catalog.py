"""The catalog database: the engine, the schema's creation and migrations (``storage.migrations``), transactions.

Written against SQLAlchemy Core with portable SQL only, so the small case
(SQLite in WAL mode on a dock PC) and the large case (one PostgreSQL shared by
many stations) run the same code. For SQLite, ``synchronous=FULL``: a power cut
must not lose a committed log entry.

Log appends are serialised by the database itself: every append transaction
starts by bumping the single ``log_head`` row, which takes the write lock in
SQLite and a row lock in PostgreSQL. No process assumes it owns the database.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError

from storage.errors import StorageError
from storage.migrations import bring_up_to_date

log = logging.getLogger(__name__)

_SCHEMA_LOCK = 0x65766964_6F636B01
"""PostgreSQL advisory lock key held while the schema is checked, created or migrated ("evidock" + 1)."""


def open_engine(url: str) -> Engine:
    """Create the engine; for SQLite make the folder, use WAL and durable commits."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: object) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()

    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


def _lock_schema(conn: Connection) -> None:
    """Hold the schema until this transaction ends (both databases create tables transactionally).

    Stations (or a station's service and a command) starting at once on an empty catalog would
    race to create the same tables, and all but one would fail; with this, the first creates
    them and the others wait, then find them.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock now; the driver would begin only at the first write


class Catalog:
    """The database: one engine, the schema, and transactions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> Catalog:
        catalog = cls(open_engine(url))
        try:
            catalog.create()
        except StorageError:
            catalog.close()  # a refused catalog leaves no connection behind
            raise
        return catalog

    def create(self) -> None:
        """Create the tables of a new catalog, migrate an older one; refuse one from a newer evidock."""
        try:
            with self.engine.begin() as conn:
                _lock_schema(conn)
                bring_up_to_date(conn)
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot open the catalog database: {exc}") from exc

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction; everything inside commits together or not at all."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StorageError(f"catalog transaction failed: {exc}") from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StorageError(f"catalog read failed: {exc}") from exc

    def close(self) -> None:
        self.engine.dispose()
