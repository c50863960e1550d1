"""Schema migrations (Alembic): the migrations build ``storage.schema``, and an older catalog is upgraded.

On SQLite, and on PostgreSQL with ``EVIDOCK_TEST_DATABASE=postgresql``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, MetaData, create_engine, func, inspect, select, text

from evidock.app import open_app
from evidock.verify import verify
from storage import migrations
from storage.catalog import Catalog, open_engine
from storage.errors import StorageError
from storage.schema import log_entries, metadata
from tests.conftest import catalog_url
from tests.test_projection import make_world


def _columns(engine: Engine) -> dict[str, set[str]]:
    """Every table of the database and its columns, as the database reports them (Alembic's marker left out)."""
    found = MetaData()
    found.reflect(engine)
    return {t.name: set(t.columns.keys()) for t in found.sorted_tables if t.name not in migrations.FOREIGN_TABLES}


def _indexes(conn: Connection) -> set[str]:
    """The names of the indexes on the tables of the database."""
    found = inspect(conn)
    return {i["name"] for t in found.get_table_names() for i in found.get_indexes(t) if i["name"]}


def test_the_migrations_build_exactly_the_schema(tmp_path: Path) -> None:
    """A table or column added to ``storage.schema`` without its migration fails here (the diff says what)."""
    engine = open_engine(catalog_url(tmp_path))
    with engine.begin() as conn:
        command.upgrade(migrations.config(conn), "head")
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"include_object": migrations.include_object}), metadata
        )
    engine.dispose()
    assert diff == [], (
        'storage.schema differs from what the migrations build: add one with `python -m storage.migrations "..."`'
    )


def test_a_new_catalog_is_at_the_newest_revision_with_an_empty_log(tmp_path: Path) -> None:
    url = catalog_url(tmp_path)
    Catalog.open(url).close()
    engine = create_engine(url)
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == migrations.head()
        assert conn.execute(text("SELECT id, size FROM log_head")).all() == [(1, 0)]
    engine.dispose()


@pytest.mark.s3
def test_a_catalog_from_before_migrations_is_upgraded_and_verifies(tmp_path: Path, s3_env: dict[str, str]) -> None:
    """A schema-2 catalog (its marker ``schema_info``, no ``alembic_version``) full of facts opens and verifies."""
    world = make_world(tmp_path, s3_env, since_migrations=False)
    baseline = open_engine(catalog_url(tmp_path / "baseline"))
    with baseline.begin() as conn:
        command.upgrade(migrations.config(conn), migrations.BASELINE)
    engine = create_engine(world.settings.database_url)
    later = set(_columns(engine)) - set(_columns(baseline)) - {"alembic_version"}  # made by later migrations
    with engine.begin() as conn, baseline.connect() as baseline_conn:  # back to what evidock made before
        conn.execute(text("DROP TABLE alembic_version"))  # migrations: the marker, not the revision
        for table in sorted(later):  # empty in a pre-migration world: nothing is lost
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0  # noqa: S608 - our names
            conn.execute(text(f"DROP TABLE {table}"))
        for index in sorted(_indexes(conn) - _indexes(baseline_conn)):  # and the indexes they added
            conn.execute(text(f"DROP INDEX {index}"))
        conn.execute(text("CREATE TABLE schema_info (id INTEGER NOT NULL PRIMARY KEY, version INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO schema_info (id, version) VALUES (1, 2)"))
        entries = conn.execute(select(func.count()).select_from(log_entries)).scalar_one()
    assert _columns(engine) == _columns(baseline), "the old catalog is not what the baseline migration makes"
    baseline.dispose()

    with open_app(world.settings, ensure_bucket=False) as evi:
        report = verify(evi, world.vkey)
        with evi.catalog.read() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == migrations.head()
            assert conn.execute(select(func.count()).select_from(log_entries)).scalar_one() == entries
    assert report.ok, report.failures
    assert "schema_info" not in _columns(engine)
    engine.dispose()


def _refused(url: str) -> str:
    with pytest.raises(StorageError) as refused:
        Catalog.open(url)
    return str(refused.value)


def test_a_catalog_from_a_newer_evidock_is_refused(tmp_path: Path) -> None:
    url = catalog_url(tmp_path)
    Catalog.open(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()
    message = _refused(url)
    assert "schema revision 0999" in message
    assert "upgrade evidock" in message


def test_an_older_schema_without_a_migration_and_a_foreign_database_are_refused(tmp_path: Path) -> None:
    old = catalog_url(tmp_path / "old")
    engine = open_engine(old)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE schema_info (id INTEGER NOT NULL PRIMARY KEY, version INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO schema_info (id, version) VALUES (1, 1)"))
    engine.dispose()
    assert "has schema 1" in _refused(old)

    foreign = catalog_url(tmp_path / "foreign")
    engine = open_engine(foreign)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    assert "not an evidock catalog" in _refused(foreign)
