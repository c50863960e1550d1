"""Purge end to end against the real S3 server, with object locks of a few seconds.

The policy's clock is injected (``now`` 100 days ahead, past the art. 27
floor); the server keeps its own, real clock, so a lock that has not expired
in real time is refused by the server, and the purge reports it, never forces.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from chain.checkpoint import generate_skey, parse_skey
from chain.entries import EntryType
from evidock.app import App, retention_context
from evidock.cli import main
from evidock.verify import verify
from ingest.watcher import look
from retention import evidence, labelling, lifecycle
from retention.purge import purge
from storage import journal
from storage import recordings as recordings_db
from storage.objects import StoredVersion
from storage.tombstones import PurgeState, tombstone
from tests.test_retention_labels import CASE, ingest

pytestmark = pytest.mark.s3

LOCK_SECONDS = 2  # the short lock put on the first recording just before purging it


def _version(evi: App, recording: str) -> StoredVersion:
    with evi.catalog.read() as conn:
        row = recordings_db.get(conn, recording)
    assert row is not None
    return StoredVersion(row.object_key, row.version_id, row.size)


def _actions(report: object) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {i.recording: (i.action, i.reasons) for i in report.items}  # type: ignore[attr-defined]


def _purge_entries(evi: App, recording: str) -> list[int]:
    with evi.catalog.read() as conn:
        return [
            index
            for index in range(journal.size(conn))
            if (e := journal.entry_at(conn, index)).type is EntryType.PURGE and e.recording == recording
        ]


@pytest.mark.usefixtures("custodian")
def test_purge_waits_for_the_lock_skips_held_and_open_case_recordings_and_keeps_a_tombstone(
    evi: App, tmp_path: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Recordings made in January 2025; their objects are locked for one second only.
    ordinary = ingest(evi, tmp_path, "CAM01_P1001_20250110080000_0001.mp4", retain_for=timedelta(seconds=1))
    open_case = ingest(evi, tmp_path, "CAM01_P1001_20250110090000_0002.mp4", retain_for=timedelta(seconds=1))
    held = ingest(evi, tmp_path, "CAM01_P1001_20250110100000_0003.mp4", retain_for=timedelta(seconds=1))
    ctx = retention_context(evi)
    real_now = datetime.now(UTC)
    labelling.label(ctx, [open_case], case_number=CASE, parties=["张三"], handler="李四", by="c", now=real_now)
    evidence.add(ctx, [held], case_number="京朝公(治)行罚决字[2025]7号", period="30", by="c", now=real_now)

    # Today: art. 27 (3 months from ingest) has not passed, whatever the server's lock says.
    # Wait for the one-second locks to pass: only then does the catalog list the recordings as due
    # (three ingests may well take less than a second).
    with evi.catalog.read() as conn:
        locks = [row.retain_until for r in (ordinary, open_case, held) if (row := recordings_db.get(conn, r))]
    time.sleep(max(0.0, (max(locks) - datetime.now(UTC)).total_seconds()) + 0.05)
    today = purge(ctx, now=datetime.now(UTC), apply=True)
    assert {action for action, _ in _actions(today).values()} == {"skipped"}
    assert "art. 27" in _actions(today)[ordinary][1][0]

    # 100 days later for the policy. The server still holds the first object for LOCK_SECONDS (real time).
    later = datetime.now(UTC) + timedelta(days=100)
    ordinary_version = _version(evi, ordinary)
    short = evi.store.lock(ordinary_version, datetime.now(UTC) + timedelta(seconds=LOCK_SECONDS))
    assert short.retain_until is not None
    dry = purge(ctx, now=later, apply=False)
    assert _actions(dry)[ordinary] == ("would purge", ())
    assert _purge_entries(evi, ordinary) == [], "a dry run writes nothing"

    first = purge(ctx, now=later, apply=True)
    actions = _actions(first)
    assert actions[ordinary][0] == "refused"
    assert "refused" in actions[ordinary][1][0]
    assert actions[open_case] == ("skipped", ("linked to an open case",))
    assert set(actions[held][1]) >= {"legal hold is on", "designated as evidence", "linked to an open case"}
    assert evi.store.versions(ordinary_version.key) == [ordinary_version], "nothing was forced"
    (entry,) = _purge_entries(evi, ordinary)  # written before the deletion was tried
    with evi.catalog.read() as conn:
        tomb = tombstone(conn, ordinary)
    assert tomb is not None
    assert (tomb.state, tomb.purge_entry, tomb.purged_at) == (PurgeState.REFUSED, entry, None)

    # Once the lock expires on the server, the next purge finishes it, without a second PURGE entry.
    time.sleep(max(0.0, (short.retain_until - datetime.now(UTC)).total_seconds()) + 0.5)
    second = purge(ctx, now=later, apply=True)
    assert _actions(second)[ordinary] == ("purged", ())
    assert evi.store.versions(ordinary_version.key) == []
    assert _purge_entries(evi, ordinary) == [entry]
    with evi.catalog.read() as conn:
        tomb = tombstone(conn, ordinary)
        purge_entry = journal.entry_at(conn, entry)
        still_catalogued = recordings_db.get(conn, ordinary)
    assert tomb is not None
    assert (tomb.state, tomb.purged_at) == (PurgeState.PURGED, later)
    assert purge_entry.body["object_key"] == ordinary_version.key
    assert purge_entry.body["version_id"] == ordinary_version.version_id
    assert purge_entry.body["sha256"] == ordinary
    assert still_catalogued is not None, "the recordings row stays: the INGEST entry still describes it"

    # Closing the case lets its ordinary recording go; the evidence stays.
    lifecycle.close(ctx, CASE, closed_on=date(2025, 3, 1), by="c", now=datetime.now(UTC))
    third = purge(ctx, now=later, apply=True)
    assert _actions(third)[open_case] == ("purged", ())
    assert _actions(third)[held][0] == "skipped"
    assert evi.store.versions(_version(evi, held).key) == [_version(evi, held)]
    with evi.catalog.read() as conn:
        tomb = tombstone(conn, open_case)
    assert tomb is not None
    assert [label["case_number"] for label in tomb.labels] == [CASE], "the tombstone keeps the labels"

    # The command: a dry run at the real now purges nothing; the recordings are shown by state.
    cfg = ["--config", str(config_file)]
    assert main([*cfg, "purge", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["applied"] is False
    assert [i["recording"] for i in report["items"]] == [held]
    assert main([*cfg, "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["recordings"], status["purged"]) == (3, 2)
    assert main([*cfg, "label", ordinary[:8], "--case", CASE, "--party", "张三", "--handler", "李四"]) == 1
    assert "was purged" in capsys.readouterr().err

    # verify accepts the purged recordings (PURGE entry first, no version left) and checks the rest.
    signer = parse_skey(generate_skey(evi.settings.log.origin))
    report = verify(evi, str(signer.verifier()))
    checks = {(f.check, f.subject) for f in report.failures}
    assert (report.checked["purged"], report.checked["objects"]) == (2, 1)
    assert report.ok, checks

    # The same bytes docked again after the purge: refused with the reason, the dock copy kept.
    again = tmp_path / "inbox" / "again" / "CAM01_P1001_20250110080000_0001.mp4"
    again.parent.mkdir()
    again.write_bytes((tmp_path / "inbox" / "CAM01_P1001_20250110080000_0001.mp4").read_bytes())
    docked = look(again.parent, again, ())
    assert docked is not None
    outcome = evi.pipeline().ingest(docked)
    assert outcome is not None
    assert outcome.receipt.state.value == "failed"
    assert "was purged on" in (outcome.receipt.error or "")
    assert again.exists()
