"""The catalog database: recordings, receipts (ingest progress) and the log's tables.

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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    DateTime,
    Dialect,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
    insert,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError

from storage.errors import StorageError

log = logging.getLogger(__name__)

_SCHEMA_LOCK = 0x65766964_6F636B01
"""PostgreSQL advisory lock key held while the schema is checked and created ("evidock" + 1)."""

SCHEMA_VERSION = 2
"""2: clock reports are CLOCK entries (``clock_reports.entry``); cases change by CASE entries."""


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every database.

    SQLite keeps no zone; storing naive UTC and re-attaching UTC on the way out
    keeps the rule "stored in UTC" true everywhere and refuses naive input.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} refused: evidock stores aware UTC times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

schema_info = Table(
    "schema_info",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
)

# -- the log -----------------------------------------------------------------

log_head = Table(
    "log_head",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1
    Column("size", BigInteger, nullable=False),
)

log_entries = Table(
    "log_entries",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("type", String(16), nullable=False),
    Column("recording", String(64), nullable=True),
    Column("time", UTCDateTime(), nullable=False),
    Column("station", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),  # canonical bytes: what the leaf hashes
    Index("ix_log_entries_recording", "recording", "idx"),
    Index("ix_log_entries_type", "type", "idx"),
)

log_nodes = Table(
    "log_nodes",
    metadata,
    Column("level", Integer, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    PrimaryKeyConstraint("level", "idx"),
)

log_salts = Table(
    "log_salts",
    metadata,
    Column("entry", BigInteger, ForeignKey("log_entries.idx"), nullable=False),
    Column("field", String(64), nullable=False),
    Column("salt", LargeBinary(32), nullable=False),
    PrimaryKeyConstraint("entry", "field"),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("object_key", String(256), nullable=True),
    Column("version_id", String(128), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

# Outside trust for each checkpoint (storage.outside_trust): what the locked objects beside it hold, for
# the pages, metrics and alerts. `evidock verify` reads the objects themselves.
checkpoint_cosignatures = Table(
    "checkpoint_cosignatures",
    metadata,
    Column("size", BigInteger, nullable=False),
    Column("witness", String(512), nullable=False),  # the witness's verifier key, as configured
    Column("line", Text, nullable=False),  # its cosignature line (C2SP tlog-cosignature)
    Column("cosigned_at", UTCDateTime(), nullable=False),  # the time in the cosignature
    Column("object_key", String(256), nullable=False),
    Column("version_id", String(128), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("size", "witness"),
)

checkpoint_timestamps = Table(
    "checkpoint_timestamps",
    metadata,
    Column("size", BigInteger, nullable=False),
    Column("tsa", String(64), nullable=False),  # the TSA certificate's fingerprint (storage.timestamping)
    Column("gen_time", UTCDateTime(), nullable=False),  # RFC 3161 genTime
    Column("serial", String(64), nullable=False),  # the token's serial number, decimal (up to 160 bits)
    Column("reply", LargeBinary, nullable=False),  # the TimeStampResp, DER
    Column("object_key", String(256), nullable=False),
    Column("version_id", String(128), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("size", "tsa"),
)

# -- recordings ----------------------------------------------------------------

recordings = Table(
    "recordings",
    metadata,
    Column("id", String(64), primary_key=True),  # SHA-256 hex of the original bytes
    Column("size", BigInteger, nullable=False),
    Column("object_key", String(256), nullable=False),
    Column("version_id", String(128), nullable=False),
    Column("retain_until", UTCDateTime(), nullable=False),
    Column("original_name", Text, nullable=False),  # display form; raw bytes in receipts
    Column("station", String(64), nullable=False),
    Column("device", String(128), nullable=True),
    Column("officer", String(128), nullable=True),
    Column("seq", Integer, nullable=True),
    Column("start_raw", UTCDateTime(), nullable=True),  # device clock, as recorded
    Column("end_raw", UTCDateTime(), nullable=True),
    Column("duration_ms", BigInteger, nullable=True),
    Column("kind", String(16), nullable=False),  # video, audio, photo, other
    Column("media", JSON, nullable=False),  # container, codecs, resolution, ...
    Column("notes", JSON, nullable=False),  # e.g. "not media", "name did not match"
    Column("ingested_at", UTCDateTime(), nullable=False),
    Column("ingest_entry", BigInteger, ForeignKey("log_entries.idx"), nullable=False),
    Index("ix_recordings_device_start", "device", "start_raw"),
)

receipts = Table(
    "receipts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("station", String(64), nullable=False),
    Column("folder", LargeBinary, nullable=False),  # watch folder, raw path bytes
    Column("rel_path", LargeBinary, nullable=False),  # path under it, raw bytes (may be non-UTF-8)
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("inode", BigInteger, nullable=False),  # with size and mtime: the dock copy is unchanged
    Column("state", String(16), nullable=False),
    Column("staging_key", String(256), nullable=False),
    Column("staging_version", String(128), nullable=True),
    Column("sha256", String(64), nullable=True),
    Column("version_id", String(128), nullable=True),
    Column("recording", String(64), ForeignKey("recordings.id"), nullable=True),
    Column("duplicate", Integer, nullable=False, default=0),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("error", Text, nullable=True),
    UniqueConstraint("station", "folder", "rel_path", "size", "mtime_ns", name="uq_receipt_file"),
    Index("ix_receipts_state", "state"),
)


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
        catalog.create()
        return catalog

    def create(self) -> None:
        """Create missing tables; refuse a database from a newer evidock."""
        # The modules that define more tables on ``metadata`` register them on import.
        import storage.access  # noqa: PLC0415
        import storage.findings  # noqa: F401, PLC0415

        try:
            with self.engine.begin() as conn:
                _lock_schema(conn)
                metadata.create_all(conn)
                found = conn.execute(select(schema_info.c.version)).scalar()
                if found is None:
                    conn.execute(insert(schema_info).values(id=1, version=SCHEMA_VERSION))
                    conn.execute(insert(log_head).values(id=1, size=0))
                elif found > SCHEMA_VERSION:
                    raise StorageError(
                        f"the catalog database has schema {found}, this evidock knows {SCHEMA_VERSION}; "
                        "upgrade evidock before using this database"
                    )
                elif found < SCHEMA_VERSION:
                    raise StorageError(
                        f"the catalog database has schema {found}, made by an earlier evidock; this one needs "
                        f"schema {SCHEMA_VERSION} and has no migration for it yet: keep the earlier evidock for "
                        "this database, or start a new catalog"
                    )
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
