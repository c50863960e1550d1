"""`evidock verify`, the bucket side: every object under the recordings and staging prefixes must be explained.

The catalog says which objects should exist; the bucket may hold more. Every
version and delete marker is listed (a plain listing hides what a marker
covers) and each must be accounted for: a recording's object by the INGEST
entry that names its key and version, a copy not yet logged by a receipt in
progress (uploaded straight to its content key, not yet logged), a staging upload
(made before direct uploads) by the receipt that reserved its key. Anything else
was put there by someone other than evidock and is named with its key and version.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from sqlalchemy import Connection, select

from evidock.app import App
from evidock.verify_report import Report
from storage.objects import StoredVersion, content_key
from storage.receipts import State
from storage.schema import receipts

RECORDINGS_PREFIX = "sha256/"
STAGING_PREFIX = "staging/"
# An upload to the content key precedes the INGEST entry; one that failed or was quarantined may stay.
_NOT_YET_LOGGED = (State.STORED, State.VERIFIED, State.LOCKED, State.FAILED, State.QUARANTINED)


def recording_objects(
    evi: App, conn: Connection, ingested: Mapping[tuple[str, str], int], report: Report
) -> dict[str, list[StoredVersion]]:
    """Every version under the recordings prefix, by key; those no entry or receipt explains are named.

    ``ingested``: (object key, version id) -> the index of the INGEST entry that stored it.
    """
    named = dict(ingested)
    named_keys = {key for key, _ in named}
    in_progress: set[tuple[str, str]] = set()
    uploading: set[str] = set()  # keys a hashed receipt uploads to: a crash may leave its version unnamed
    for sha256, version_id, state in conn.execute(
        select(receipts.c.sha256, receipts.c.version_id, receipts.c.state).where(
            receipts.c.sha256.is_not(None), receipts.c.recording.is_(None)
        )
    ):
        if state == State.HASHED:
            uploading.add(content_key(sha256))
        elif state in _NOT_YET_LOGGED and version_id:
            in_progress.add((content_key(sha256), version_id))
    stored: dict[str, list[StoredVersion]] = defaultdict(list)
    for listed in evi.store.listing(RECORDINGS_PREFIX):
        subject = f"{listed.key} version {listed.version_id}"
        if listed.delete_marker:
            whose = "a recording's object" if listed.key in named_keys else "a key no INGEST entry names"
            report.fail(
                "object_delete_marker",
                subject,
                f"a delete marker on {whose}: reads without a version id now say it does not exist",
            )
            continue
        stored[listed.key].append(listed.version)
        if listed.key in named_keys:
            continue  # another version over a recording's key is named by object_versions
        if (listed.key, listed.version_id) in in_progress or listed.key in uploading:
            report.count("objects_in_progress")
            continue
        report.fail(
            "object_unexplained",
            subject,
            f"{listed.size} bytes under {RECORDINGS_PREFIX} that no INGEST entry and no receipt in progress names",
        )
    return stored


def staging_objects(evi: App, conn: Connection, report: Report) -> None:
    """Every version under the staging prefix must be the upload of the receipt that reserved its key."""
    reserved = {
        key: (receipt, state, version)
        for receipt, key, state, version in conn.execute(
            select(receipts.c.id, receipts.c.staging_key, receipts.c.state, receipts.c.staging_version)
        )
    }
    for listed in evi.store.listing(STAGING_PREFIX):
        report.count("staging_objects")
        subject = f"{listed.key} version {listed.version_id}"
        found = reserved.get(listed.key)
        if found is None:
            report.fail("staging_unexplained", subject, "no receipt reserved this staging key")
            continue
        receipt, state, version = found
        if listed.delete_marker:
            report.fail("staging_unexplained", subject, f"a delete marker on receipt {receipt}'s staging key")
        elif state != State.RECEIVED and version is not None and listed.version_id != version:
            report.fail(
                "staging_unexplained",
                subject,
                f"receipt {receipt} ({state}) uploaded version {version} here; this one is not its",
            )
