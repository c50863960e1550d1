"""Listings come in the same order on SQLite and PostgreSQL, recordings without a device or start included.

SQLite sorts NULLs first and PostgreSQL last; with a limit that changes which rows a list shows, so the
catalog spells the order out. Run with ``EVIDOCK_TEST_DATABASE=postgresql`` for the PostgreSQL half.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection

from chain.entries import EntryType
from storage import recordings as recordings_db
from storage.catalog import Catalog
from storage.journal import Journal
from tests.conftest import catalog_url

T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


def _recording(conn: Connection, journal: Journal, n: int, device: str | None, start: datetime | None) -> None:
    rid = f"{n:064x}"
    index = journal.append(conn, EntryType.HOLD, recording=rid, body={"action": "set", "reason": "x"}, time=T0)
    recordings_db.insert_recording(
        conn,
        recordings_db.Recording(
            id=rid,
            size=1,
            object_key=f"sha256/{rid}",
            version_id="v",
            retain_until=T0 + timedelta(days=100),
            original_name=f"file{n}.mp4",
            station="dock-test",
            device=device,
            officer=None,
            seq=None,
            start_raw=start,
            end_raw=None,
            duration_ms=None,
            kind="other",
            media={},
            notes=[],
            ingested_at=T0,
            ingest_entry=index,
        ),
    )


def test_recordings_without_device_or_start_come_last_on_every_database(tmp_path: Path) -> None:
    catalog = Catalog.open(catalog_url(tmp_path))
    journal = Journal("dock-test")
    with catalog.begin() as conn:
        _recording(conn, journal, 1, None, None)
        _recording(conn, journal, 2, "CAM02", None)
        _recording(conn, journal, 3, "CAM02", T0 + timedelta(hours=1))
        _recording(conn, journal, 4, "CAM01", T0 + timedelta(hours=2))
        _recording(conn, journal, 5, None, T0)
    with catalog.read() as conn:
        listed = [int(r.id, 16) for r in recordings_db.listing(conn)]
        first_three = [int(r.id, 16) for r in recordings_db.listing(conn, limit=3)]
    catalog.close()
    assert listed == [4, 3, 2, 5, 1]
    assert first_three == [4, 3, 2]
