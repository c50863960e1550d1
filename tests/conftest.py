"""Shared fixtures: the real local S3 server (started by scripts/s3-up.sh), buckets, settings, acting people.

The catalog database is SQLite by default. With ``EVIDOCK_TEST_DATABASE=postgresql`` every catalog a test makes
is a fresh database on the local PostgreSQL server (started by scripts/pg-up.sh): ``catalog_url`` gives it.
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, create_engine, make_url, text
from sqlalchemy.exc import ProgrammingError

from access.people import Person, Role, add_user, issue_token
from evidock import settings as settings_mod
from evidock.app import App, open_app
from evidock.settings import Settings
from ingest.watcher import look

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


TEST_S3_ENV = "EVIDOCK_TEST_S3"
S3_SCRIPTS = {"single": "s3-up.sh", "cluster": "ceph-cluster-up.sh"}  # EVIDOCK_TEST_S3=cluster: the 3-OSD cluster


@pytest.fixture(scope="session")
def s3_env() -> dict[str, str]:
    """Endpoint and keys of the local Ceph RGW; starts it if needed (idempotent)."""
    script = S3_SCRIPTS.get(os.environ.get(TEST_S3_ENV, "single"))
    if script is None:
        pytest.fail(f"{TEST_S3_ENV}={os.environ[TEST_S3_ENV]!r}: use single or cluster")
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / script)], capture_output=True, text=True, check=False, timeout=600
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/{script} failed:\n{done.stderr[-3000:]}")
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


# -- the catalog database: SQLite, or PostgreSQL with EVIDOCK_TEST_DATABASE=postgresql --

TEST_DATABASE_ENV = "EVIDOCK_TEST_DATABASE"
ON_POSTGRESQL = os.environ.get(TEST_DATABASE_ENV, "sqlite") == "postgresql"
if os.environ.get(TEST_DATABASE_ENV, "sqlite") not in {"sqlite", "postgresql"}:
    raise pytest.UsageError(f"{TEST_DATABASE_ENV}={os.environ[TEST_DATABASE_ENV]!r}: use sqlite or postgresql")

sqlite_only = pytest.mark.skipif(ON_POSTGRESQL, reason="edits or reads the SQLite catalog file itself")
"""For the few tests that are about the SQLite file (tamper it with sqlite3, delete it), skipped on PostgreSQL."""


@functools.cache
def _postgresql_server() -> str:
    """The local PostgreSQL server's URL (scripts/pg-up.sh, idempotent); its role may create databases."""
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "pg-up.sh")], capture_output=True, text=True, check=False, timeout=300
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/pg-up.sh failed:\n{done.stderr[-3000:]}")
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)["DATABASE_URL"]


def _postgresql(sql: str) -> None:
    engine = create_engine(_postgresql_server(), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


_databases: dict[Path, str] = {}  # folder -> its PostgreSQL database, dropped when the test module ends


def catalog_url(folder: Path) -> str:
    """The catalog of the station whose files are in ``folder``: ``evidock.db`` there, or a fresh PostgreSQL
    database (the same one for the same folder)."""
    if not ON_POSTGRESQL:
        return f"sqlite:///{folder / 'evidock.db'}"
    name = _databases.get(folder)
    if name is None:
        name = f"t_{uuid.uuid4().hex}"
        _postgresql(f"CREATE DATABASE {name}")
        _databases[folder] = name
    return make_url(_postgresql_server()).set(database=name).render_as_string(hide_password=False)


def _drop_database(name: str) -> None:
    """Drop a test database even while autovacuum works in it.

    ``WITH (FORCE)`` ends the test's own leftover sessions, but refuses to signal an autovacuum worker
    unless the role is in ``pg_signal_backend`` (InsufficientPrivilege); a plain ``DROP DATABASE`` stops
    autovacuum by itself, so that is the second try (after the first has ended the other sessions).
    """
    try:
        _postgresql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    except ProgrammingError as error:
        if not isinstance(error.orig, psycopg.errors.InsufficientPrivilege):
            raise
        _postgresql(f"DROP DATABASE IF EXISTS {name}")


@contextmanager
def scratch_catalog_url(folder: Path) -> Iterator[str]:
    """``catalog_url`` for a catalog that lives only inside the block (e.g. one Hypothesis example)."""
    url = catalog_url(folder)
    try:
        yield url
    finally:
        if ON_POSTGRESQL:
            _drop_database(_databases.pop(folder))


@pytest.fixture(autouse=True, scope="module")
def _drop_test_databases() -> Iterator[None]:
    """No catalog outlives its test module (no fixture above module scope makes one)."""
    yield
    while _databases:
        _, name = _databases.popitem()
        _drop_database(name)


def refuse_log_writes(conn: Connection) -> None:
    """From now on the catalog refuses every new log entry ("disk full"): a real failure of the database, no mock."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(
            "CREATE TRIGGER log_is_full BEFORE INSERT ON log_entries BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    else:
        conn.exec_driver_sql(
            "CREATE FUNCTION log_is_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE 'disk full'; END $$"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER log_is_full BEFORE INSERT ON log_entries FOR EACH ROW EXECUTE FUNCTION log_is_full()"
        )


def allow_log_writes(conn: Connection) -> None:
    """Undo ``refuse_log_writes``."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER log_is_full")
    else:
        conn.exec_driver_sql("DROP TRIGGER log_is_full ON log_entries")
        conn.exec_driver_sql("DROP FUNCTION log_is_full()")


def raw_config(tmp_path: Path, bucket: str, endpoint: str, **sections: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {
        "station": {"id": "dock-test"},
        "watch": {"folders": [str(tmp_path / "inbox")], "stable_seconds": 0.2, "rescan_seconds": 1},
        "s3": {"endpoint": endpoint, "bucket": bucket},
        "database": {"url": catalog_url(tmp_path)},
    }
    for name, values in sections.items():
        config.setdefault(name, {}).update(values)
    return config


def write_config(path: Path, config: dict[str, Any]) -> Path:
    """``config`` as TOML; a list of tables (``[[log.witnesses]]``) follows its section's plain keys."""
    lines: list[str] = []
    for section, values in config.items():
        lines.append(f"[{section}]")
        arrays = {k: v for k, v in values.items() if isinstance(v, list) and v and all(isinstance(t, dict) for t in v)}
        for key, value in values.items():
            if key not in arrays:
                lines.append(f"{key} = {_toml(value)}")
        for key, tables in arrays.items():
            for table in tables:
                lines.append(f"[[{section}.{key}]]")
                lines += [f"{name} = {_toml(value)}" for name, value in table.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


@pytest.fixture
def bucket() -> str:
    """A fresh bucket name: COMPLIANCE objects can never be deleted, so tests never share one."""
    return f"t-{uuid.uuid4().hex[:20]}"


@pytest.fixture
def config_file(tmp_path: Path, s3_env: dict[str, str], bucket: str) -> Path:
    (tmp_path / "inbox").mkdir()
    return write_config(tmp_path / "config.toml", raw_config(tmp_path, bucket, s3_env["S3_ENDPOINT"]))


def station_env(s3_env: dict[str, str]) -> dict[str, str]:
    """This process's environment plus the local server's S3 keys: what a station's evidock reads."""
    return {
        **os.environ,
        "EVIDOCK_S3_ACCESS_KEY": s3_env["S3_ACCESS_KEY"],
        "EVIDOCK_S3_SECRET_KEY": s3_env["S3_SECRET_KEY"],
    }


@pytest.fixture
def settings(config_file: Path, s3_env: dict[str, str]) -> Settings:
    return settings_mod.load(config_file, station_env(s3_env))


@pytest.fixture
def evi(settings: Settings) -> Iterator[App]:
    with open_app(settings) as app:
        yield app


# -- people: a command run by a person needs EVIDOCK_USER and EVIDOCK_TOKEN (docs/access.md) --


def add_person(settings: Settings, name: str, role: Role | str, *, officer_id: str | None = None) -> str:
    """Add a user straight into the catalog (no admin needed) and return a fresh API token."""
    with open_app(settings, ensure_bucket=False) as evi, evi.catalog.begin() as conn:
        admin = Person("(test)", Role.ADMIN)
        now = datetime.now(UTC)
        add_user(conn, journal=evi.journal, actor=admin, name=name, role=Role(role), officer_id=officer_id, time=now)
        return issue_token(conn, journal=evi.journal, actor=admin, name=name, time=now)


def staff(officer_id: str) -> dict[str, tuple[Role, str | None]]:
    """One person of each role, by name: (role, officer id).

    root (admin), c1 and c2 (custodians: one asks, the other approves), o1 (the officer ``officer_id``
    who made the recordings), a1 (auditor) and s1 (a dock station).
    """
    return {
        "root": (Role.ADMIN, None),
        "c1": (Role.CUSTODIAN, None),
        "c2": (Role.CUSTODIAN, None),
        "o1": (Role.OFFICER, officer_id),
        "a1": (Role.AUDITOR, None),
        "s1": (Role.STATION, None),
    }


def add_people(settings: Settings, people: dict[str, tuple[Role, str | None]]) -> dict[str, str]:
    """Add ``people`` (as ``staff`` gives them); returns each one's API token by name."""
    return {name: add_person(settings, name, role, officer_id=officer) for name, (role, officer) in people.items()}


def act_as(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, name: str, role: Role | str, *, officer_id: str | None = None
) -> str:
    """Add ``name`` with ``role`` and make the CLI act as them; returns the token."""
    token = add_person(settings, name, role, officer_id=officer_id)
    use(monkeypatch, name, token)
    return token


def use(monkeypatch: pytest.MonkeyPatch, name: str, token: str) -> None:
    monkeypatch.setenv("EVIDOCK_USER", name)
    monkeypatch.setenv("EVIDOCK_TOKEN", token)
    monkeypatch.delenv("EVIDOCK_PASSWORD", raising=False)


def dock(evi: App, path: Path) -> str:
    """Ingest one file as the dock's pipeline does; returns its recording id."""
    file = look(path.parent, path, ())
    assert file is not None
    outcome = evi.pipeline().ingest(file)
    assert outcome is not None
    assert outcome.recording is not None
    return outcome.recording


CUSTODIAN = "wang.wu"


@pytest.fixture
def custodian(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI acts as the custodian wang.wu (labels, evidence, cases, reports, purge); returns the name."""
    act_as(settings, monkeypatch, CUSTODIAN, Role.CUSTODIAN)
    return CUSTODIAN


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a server a test starts)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
