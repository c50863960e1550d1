"""Schema migrations (Alembic): the migrations build ``storage.schema``, and an older catalog is upgraded.

On SQLite, and on PostgreSQL with ``EVIDOCK_TEST_DATABASE=postgresql``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, create_engine, func, select, text

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


def _as_schema_2(source: str, target: str) -> int:
    """Copy every row of the catalog at ``source`` into a schema-2 catalog made at ``target``; the entry count.

    The target is what evidock made before migrations: the baseline's tables, ``schema_info`` saying 2,
    no ``alembic_version``. Whatever later migrations added to the source is left behind.
    """
    old = open_engine(target)
    with old.begin() as conn:
        command.upgrade(migrations.config(conn), migrations.BASELINE)
        conn.execute(text("DROP TABLE alembic_version"))
    shape = MetaData()
    shape.reflect(old)
    new = create_engine(source)
    with new.connect() as reading, old.begin() as writing:
        writing.execute(shape.tables["log_head"].delete())
        for table in shape.sorted_tables:
            if table.name == "schema_info":
                continue
            rows = [dict(r._mapping) for r in reading.execute(select(*table.columns))]
            if rows:
                writing.execute(table.insert(), rows)
        entries = reading.execute(select(func.count()).select_from(log_entries)).scalar_one()
    new.dispose()
    old.dispose()
    return int(entries)


@pytest.mark.s3
def test_a_catalog_from_before_migrations_is_upgraded_and_verifies(tmp_path: Path, s3_env: dict[str, str]) -> None:
    """A schema-2 catalog (its marker ``schema_info``, no ``alembic_version``) full of facts opens and verifies."""
    world = make_world(tmp_path, s3_env)
    url = catalog_url(tmp_path / "schema-2")
    entries = _as_schema_2(world.settings.database_url, url)
    engine = create_engine(url)
    assert "schema_info" in _columns(engine)

    with open_app(replace(world.settings, database_url=url), ensure_bucket=False) as evi:
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
