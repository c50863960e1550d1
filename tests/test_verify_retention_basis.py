"""`verify`'s art. 27 floor runs from the same moment as the ingest's retention.

A file with no end time (a name that matches no pattern, no time inside) is
kept from the moment the station received it (ingest.pipeline ``_retain_until``).
The upload comes between receipt and log, so ``ingested_at`` is later; a floor
reckoned from it called a correct retain-until short by those seconds, whenever
an ingest crossed a second. Here the clock steps 5 s per reading: the ingest is
slow on purpose, against the real S3 server.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from evidock.app import App
from evidock.keys import init_key
from evidock.verify import verify
from ingest.pipeline import Pipeline
from ingest.watcher import look

pytestmark = pytest.mark.s3


def test_a_file_without_an_end_time_passes_verify_after_a_slow_ingest(evi: App, tmp_path: Path) -> None:
    vkey, _ = init_key(evi.settings)
    evi.log_key(vkey)
    ticks = itertools.count()
    start = datetime.now(UTC)
    standard = evi.pipeline()
    slow = Pipeline(
        store=evi.store,
        catalog=evi.catalog,
        journal=evi.journal,
        options=standard.options,
        now=lambda: start + timedelta(seconds=5 * next(ticks)),
    )
    note = tmp_path / "inbox" / "scan of a note.bin"
    note.write_bytes(b"no media, no time in it\n" * 100)
    file = look(note.parent, note, ())
    assert file is not None
    outcome = slow.ingest(file)
    assert outcome is not None
    assert outcome.recording is not None
    report = verify(evi, vkey)
    assert report.ok, [(f.check, f.message) for f in report.failures]
