"""``ObjectStore.upload_parts`` against the real local S3: whole bytes, parts in parallel, memory bounded,
nothing visible at the key until the last part is in, and nothing left behind by a failure."""

from __future__ import annotations

import hashlib
import os
import threading
import xml.etree.ElementTree as ET

import pytest

from storage import objects, s3_raw
from storage.errors import StorageError
from storage.objects import ObjectStore

pytestmark = pytest.mark.s3

MIB = 1024 * 1024
PART = 5 * MIB  # S3's smallest part
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.fixture
def store(s3_env: dict[str, str], bucket: str) -> ObjectStore:
    store = ObjectStore.connect(
        host=s3_env["S3_ENDPOINT"].split("://", 1)[1],
        access_key=s3_env["S3_ACCESS_KEY"],
        secret_key=s3_env["S3_SECRET_KEY"],
        bucket=bucket,
        part_size=PART,
        parallel_uploads=3,
    )
    store.ensure_bucket()
    return store


class Source:
    """Bytes read by offset, as the pipeline reads the dock file; counts the parts held in memory at once."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.lock = threading.Lock()
        self.held = 0  # parts read and not yet acknowledged by the server (progress)
        self.most_held = 0
        self.threads: set[int] = set()
        self.sent = 0

    def read(self, offset: int, view: memoryview) -> None:
        with self.lock:
            self.held += 1
            self.most_held = max(self.most_held, self.held)
            self.threads.add(threading.get_ident())
        view[:] = self.data[offset : offset + len(view)]

    def progress(self, n: int) -> None:
        with self.lock:
            self.held -= 1
            self.sent += n


def _unfinished(store: ObjectStore, key: str) -> list[str]:
    listing = ET.fromstring(s3_raw.list_uploads(store._client, store.bucket, key))  # noqa: S314 - our server
    return [u.findtext(f"{S3_NS}UploadId") or "" for u in listing.iter(f"{S3_NS}Upload")]


def test_parts_go_up_in_parallel_and_arrive_whole(store: ObjectStore) -> None:
    data = os.urandom(7 * PART + 12345)
    source = Source(data)
    stored = store.upload_parts(
        "sha256/test/whole", len(data), source.read, metadata={"evidock-receipt": "7"}, progress=source.progress
    )
    assert store.versions("sha256/test/whole") == [stored]
    assert store.fixity_sha256(stored) == (hashlib.sha256(data).hexdigest(), len(data))
    assert source.sent == len(data)
    assert 1 < len(source.threads) <= 3, "parts are read by the upload threads, at most parallel_uploads"
    assert source.most_held <= 3, "never more than parallel_uploads parts in memory"
    assert len(store._buffers._free) <= 3, "and their buffers are reused, part after part"
    again = store.upload_parts("sha256/test/again", len(data), Source(data).read, metadata={})
    assert store.fixity_sha256(again)[0] == hashlib.sha256(data).hexdigest()
    assert len(store._buffers._free) <= 3, "and file after file"
    stat = store._client.stat_object(store.bucket, stored.key, version_id=stored.version_id)
    assert stat.metadata is not None
    assert stat.metadata["x-amz-meta-evidock-receipt"] == "7"
    assert (stat.etag or "").endswith("-8"), "eight parts, assembled by the server"


def test_a_failing_read_aborts_the_upload_and_passes_its_error_on(store: ObjectStore) -> None:
    data = os.urandom(6 * PART)

    class Gone(Exception):
        pass

    def read(offset: int, view: memoryview) -> None:
        if offset >= 3 * PART:
            raise Gone("the card was pulled")
        view[:] = data[offset : offset + len(view)]

    with pytest.raises(Gone):
        store.upload_parts("sha256/test/cut", len(data), read, metadata={})
    assert store.versions("sha256/test/cut") == [], "nothing is visible at the key"
    assert _unfinished(store, "sha256/test/cut") == [], "and no half upload is left"


def test_small_files_are_one_put(store: ObjectStore) -> None:
    for size in (0, 1, PART):
        data = os.urandom(size)
        stored = store.upload_parts(f"sha256/test/small-{size}", size, Source(data).read, metadata={})
        assert store.fixity_sha256(stored) == (hashlib.sha256(data).hexdigest(), size)
        etag = store._client.stat_object(store.bucket, stored.key).etag or ""
        assert "-" not in etag, "not a multipart upload"


def test_parts_grow_to_stay_within_the_servers_part_limit(store: ObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(objects, "MAX_PARTS", 3)  # 10,000 parts of 5 MiB would take 48 GiB to show
    data = os.urandom(4 * PART)
    stored = store.upload_parts("sha256/test/few", len(data), Source(data).read, metadata={})
    assert (store._client.stat_object(store.bucket, stored.key).etag or "").endswith("-3")
    assert store.fixity_sha256(stored)[0] == hashlib.sha256(data).hexdigest()


def test_a_store_that_refuses_is_a_storage_error(s3_env: dict[str, str]) -> None:
    missing = ObjectStore.connect(
        host=s3_env["S3_ENDPOINT"].split("://", 1)[1],
        access_key=s3_env["S3_ACCESS_KEY"],
        secret_key=s3_env["S3_SECRET_KEY"],
        bucket="t-no-such-bucket-for-upload",
        part_size=PART,
    )
    data = os.urandom(2 * PART)
    with pytest.raises(StorageError, match="upload of sha256/test/x failed"):
        missing.upload_parts("sha256/test/x", len(data), Source(data).read, metadata={})
