"""The object store: S3 with Object Lock, behind one small interface.

Every write that matters is read back: this server (Ceph RGW 16) silently drops
Object Lock headers on multipart uploads, and a different server may do worse.
So an upload never carries lock headers; retention is set afterwards on the
exact version id and then read back and compared (``lock``).

A recording's bytes go up in parts sent by ``upload_parts`` itself, each to a
presigned URL, so without a payload signature (``UNSIGNED-PAYLOAD``, what
minio sends over HTTPS anyway): over plain HTTP minio would otherwise hash
every part with SHA-256 to sign it and the server would hash it again to check
the signature, about 1.7 CPU-seconds per GiB on the station's machine. The
transfer is checked end to end instead: the caller re-reads the stored version
and compares its SHA-256 with the file's (``fixity_sha256``) before it is
locked or trusted (docs/performance.md).

No person-facing read of content lives here: ``fixity_sha256`` is the system's
own integrity read (verification after upload, ``verify --deep``). Content for
people is served only through the access gate.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.error import MinioException, S3Error
from minio.retention import Retention

from storage import s3_raw
from storage.errors import BucketMisconfigured, LockNotApplied, StorageError

log = logging.getLogger(__name__)

READ_CHUNK = 1024 * 1024  # bytes; fixity reads stream in chunks, memory stays flat
MAX_PARTS = 10_000  # S3's limit of parts per multipart upload
PART_URL_EXPIRES = timedelta(minutes=15)  # each part's URL is signed just before it is sent
_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
SYSTEM_PREFIXES = ("checkpoints/",)  # what read_small may read: never recordings (sha256/) or staging
# "This version has no retention / legal hold": AWS and MinIO say the first, Ceph RGW the second.
_NO_LOCK = frozenset({"NoSuchObjectLockConfiguration", "ObjectLockConfigurationNotFoundError"})


@dataclass(frozen=True)
class StoredVersion:
    key: str
    version_id: str
    size: int


@dataclass(frozen=True)
class ListedVersion:
    """One entry of a bucket's version listing: a version, or a delete marker (which has no bytes)."""

    key: str
    version_id: str
    size: int
    delete_marker: bool
    latest: bool
    modified: datetime | None

    @property
    def version(self) -> StoredVersion:
        return StoredVersion(self.key, self.version_id, self.size)


@dataclass(frozen=True)
class Lock:
    mode: str | None  # "COMPLIANCE", "GOVERNANCE" or None when unset
    retain_until: datetime | None
    legal_hold: bool


@dataclass(frozen=True)
class BucketReport:
    bucket: str
    exists: bool
    versioning: str | None  # "Enabled", "Suspended" or None
    object_lock: bool
    default_retention: str | None  # e.g. "COMPLIANCE 92 days"


def content_key(sha256_hex: str) -> str:
    """Content-addressed key: ``sha256/ab/cd/<hex>``; the same bytes always land at one key."""
    if len(sha256_hex) != 64 or any(c not in "0123456789abcdef" for c in sha256_hex):
        raise ValueError(f"not a lower-case SHA-256 hex digest: {sha256_hex!r}")
    return f"sha256/{sha256_hex[:2]}/{sha256_hex[2:4]}/{sha256_hex}"


def _whole_seconds_up(moment: datetime) -> datetime:
    """Servers keep retain-until to the second or millisecond; round up so we never ask for less."""
    epoch = moment.astimezone(UTC).timestamp()
    return datetime.fromtimestamp(math.ceil(epoch), tz=UTC)


class ObjectStore:
    """One bucket on an S3 server with versioning and Object Lock."""

    def __init__(
        self,
        client: Minio,
        http: urllib3.PoolManager,
        bucket: str,
        *,
        part_size: int = 8 * 1024 * 1024,
        parallel_uploads: int = 3,
    ) -> None:
        self._client = client
        self._http = http  # the client's own pool: the parts go over the same connections
        self.bucket = bucket
        self._part_size = part_size
        self._parallel = parallel_uploads
        self._buffers = _PartBuffers(part_size)

    @classmethod
    def connect(
        cls,
        *,
        host: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        region: str = "us-east-1",
        secure: bool = False,
        part_size: int = 8 * 1024 * 1024,
        parallel_uploads: int = 3,
        parallel_files: int = 1,
        timeout_seconds: float = 60.0,
    ) -> ObjectStore:
        """``parallel_files``: files ingested at once, each with ``parallel_uploads`` parts in flight."""
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5.0, read=timeout_seconds),
            retries=urllib3.Retry(total=3, backoff_factor=0.5, status_forcelist=[502, 503, 504]),
            # Each file in flight: its parts, or its read-back; plus the service's other requests. A full
            # pool would open and drop a connection per request beyond it.
            maxsize=parallel_files * parallel_uploads + 4,
        )
        client = Minio(
            host,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http,
        )
        return cls(client, http, bucket, part_size=part_size, parallel_uploads=parallel_uploads)

    # -- bucket -----------------------------------------------------------

    def inspect_bucket(self) -> BucketReport:
        """Connection, versioning and Object Lock of the bucket, for `config check`."""
        try:
            if not self._client.bucket_exists(self.bucket):
                return BucketReport(self.bucket, False, None, False, None)
            versioning = self._client.get_bucket_versioning(self.bucket).status
            try:
                lock = self._client.get_object_lock_config(self.bucket)
                enabled = True
                default = None
                if lock.mode and lock.duration:
                    default = f"{lock.mode} {lock.duration} {(lock.duration_unit or '').lower()}"
            except S3Error as exc:
                if exc.code != "ObjectLockConfigurationNotFoundError":
                    raise
                enabled, default = False, None
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            raise StorageError(f"cannot reach bucket {self.bucket!r}: {exc}") from exc
        return BucketReport(self.bucket, True, versioning, enabled, default)

    def ensure_bucket(self) -> BucketReport:
        """Create the bucket with Object Lock if missing; refuse a bucket without it."""
        report = self.inspect_bucket()
        if not report.exists:
            try:
                self._client.make_bucket(self.bucket, object_lock=True)
            except S3Error as exc:
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise StorageError(f"cannot create bucket {self.bucket!r}: {exc.code}") from exc
            log.info("created bucket %s with Object Lock", self.bucket)
            report = self.inspect_bucket()
        if not report.object_lock or report.versioning != "Enabled":
            raise BucketMisconfigured(
                f"bucket {self.bucket!r} has versioning={report.versioning} and "
                f"object_lock={report.object_lock}; evidence needs both. Object Lock can only be "
                "enabled when a bucket is created: create a new bucket and set s3.bucket to it"
            )
        return report

    # -- writes -------------------------------------------------------------

    def upload_parts(
        self,
        key: str,
        length: int,
        read: Callable[[int, memoryview], None],
        *,
        metadata: dict[str, str],
        progress: Callable[[int], None] | None = None,
    ) -> StoredVersion:
        """Store ``length`` bytes at ``key``; ``read(offset, view)`` fills ``view`` with the bytes at ``offset``.

        Up to ``parallel_uploads`` parts are read and sent at once, each by its
        own thread (``read`` is called from those threads, in any order), into
        part buffers this store reuses (``_buffers``), so memory holds at most
        that many parts per upload and does not churn. Nothing is visible at
        ``key`` until the last part is in: a failure (of the store, or an
        exception raised by ``read``, which is passed on as it is) aborts the
        upload. A file of one part is one signed PUT.
        """
        part_size = max(self._part_size, -(-length // MAX_PARTS))
        if length <= part_size:
            whole = bytearray(length)
            read(0, memoryview(whole))
            return self._put_whole(key, whole, metadata)
        headers = {f"x-amz-meta-{name}": value for name, value in metadata.items()}
        headers["Content-Type"] = "application/octet-stream"
        try:
            upload_id = s3_raw.create_upload(self._client, self.bucket, key, headers)
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            raise StorageError(f"upload of {key} failed to start: {_reason(exc)}") from exc
        counted = threading.Lock()

        def send(number: int) -> str:
            offset = (number - 1) * part_size
            size = min(part_size, length - offset)
            with self._buffers.lend(part_size) as buffer:
                part = memoryview(buffer)[:size]
                read(offset, part)
                etag = self._put_part(key, upload_id, number, part)
            if progress is not None:
                with counted:
                    progress(size)
            return etag

        try:
            with ThreadPoolExecutor(self._parallel, thread_name_prefix="upload-part") as pool:
                futures = [pool.submit(send, n) for n in range(1, -(-length // part_size) + 1)]
                etags = _results(futures)
            version_id = s3_raw.complete_upload(self._client, self.bucket, key, upload_id, etags)
        except BaseException as exc:
            self._abort(key, upload_id)
            if isinstance(exc, (MinioException, urllib3.exceptions.HTTPError)):
                raise StorageError(f"upload of {key} failed: {_reason(exc)}") from exc
            raise
        if not version_id:
            raise BucketMisconfigured(f"upload of {key} returned no version id: is versioning enabled?")
        return StoredVersion(key, version_id, length)

    def _put_part(self, key: str, upload_id: str, number: int, data: bytes | memoryview) -> str:
        """UploadPart to a URL presigned for this one part (``UNSIGNED-PAYLOAD``); its ETag."""
        url = self._client.get_presigned_url(
            "PUT",
            self.bucket,
            key,
            expires=PART_URL_EXPIRES,
            extra_query_params={"partNumber": str(number), "uploadId": upload_id},
        )
        response = self._http.urlopen("PUT", url, body=data, headers={"Content-Length": str(len(data))})
        etag = response.headers.get("ETag")
        if response.status != 200 or not etag:
            code = _error_code(response.data) or f"HTTP {response.status}"
            raise StorageError(f"upload of part {number} of {key} failed: {code}")
        return str(etag)

    def _put_whole(self, key: str, data: bytearray, metadata: dict[str, str]) -> StoredVersion:
        try:
            result = self._client.put_object(self.bucket, key, io.BytesIO(data), len(data), metadata=dict(metadata))
        except (MinioException, urllib3.exceptions.HTTPError, ValueError) as exc:
            raise StorageError(f"upload of {key} failed: {_reason(exc)}") from exc
        if not result.version_id:
            raise BucketMisconfigured(f"upload of {key} returned no version id: is versioning enabled?")
        return StoredVersion(key, result.version_id, len(data))

    def _abort(self, key: str, upload_id: str) -> None:
        """Abort one upload; if even that fails, a later ``abort_uploads`` of the key finds it."""
        try:
            s3_raw.abort_upload(self._client, self.bucket, key, upload_id)
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            log.warning("aborting the upload %s of %s failed: %s", upload_id, key, _reason(exc))

    def upload(self, key: str, stream: BinaryIO, length: int, *, metadata: dict[str, str]) -> StoredVersion:
        """Stream ``length`` bytes to ``key`` through minio (derived files); memory is bounded by a few parts."""
        try:
            result = self._client.put_object(
                self.bucket,
                key,
                stream,
                length,
                metadata=dict(metadata),
                part_size=self._part_size,
                num_parallel_uploads=self._parallel,
            )
        except (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise StorageError(f"upload of {key} failed: {_reason(exc)}") from exc
        if not result.version_id:
            raise BucketMisconfigured(f"upload of {key} returned no version id: is versioning enabled?")
        return StoredVersion(key, result.version_id, length)

    def put_small(self, key: str, data: bytes, *, content_type: str = "text/plain; charset=utf-8") -> StoredVersion:
        """Store a small document (a checkpoint) in one request."""
        try:
            result = self._client.put_object(self.bucket, key, io.BytesIO(data), len(data), content_type=content_type)
        except (MinioException, urllib3.exceptions.HTTPError, ValueError) as exc:
            raise StorageError(f"upload of {key} failed: {_reason(exc)}") from exc
        if not result.version_id:
            raise BucketMisconfigured(f"upload of {key} returned no version id: is versioning enabled?")
        return StoredVersion(key, result.version_id, len(data))

    def put_small_locked(
        self, key: str, data: bytes, retain_until: datetime, *, content_type: str = "text/plain; charset=utf-8"
    ) -> StoredVersion:
        """``put_small`` with COMPLIANCE retain-until in the same request, read back (``lock`` if it did not take).

        One write instead of two for the small documents kept beside a checkpoint.
        """
        wanted = _whole_seconds_up(retain_until)
        try:
            result = self._client.put_object(
                self.bucket,
                key,
                io.BytesIO(data),
                len(data),
                content_type=content_type,
                retention=Retention(COMPLIANCE, wanted),
            )
        except (MinioException, urllib3.exceptions.HTTPError, ValueError) as exc:
            raise StorageError(f"upload of {key} failed: {_reason(exc)}") from exc
        if not result.version_id:
            raise BucketMisconfigured(f"upload of {key} returned no version id: is versioning enabled?")
        version = StoredVersion(key, result.version_id, len(data))
        self.lock(version, wanted)  # reads the lock back; sets it if the server ignored the request's
        return version

    def read_small(self, version: StoredVersion, limit: int = 1024 * 1024) -> bytes:
        """The bytes of a small system document (checkpoints): never recording content."""
        if not version.key.startswith(SYSTEM_PREFIXES):
            raise StorageError(f"{version.key} is not a system document; content is read only through the access gate")
        data = bytearray()
        for chunk in self._stream(version):
            data += chunk
            if len(data) > limit:
                raise StorageError(f"{version.key} is larger than {limit} bytes; not a system document")
        return bytes(data)

    def keys(self, prefix: str) -> list[str]:
        """Keys under ``prefix`` (latest versions), sorted."""
        try:
            return sorted(
                o.object_name
                for o in self._client.list_objects(self.bucket, prefix=prefix, recursive=True)
                if o.object_name
            )
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            raise StorageError(f"listing {prefix} failed: {_reason(exc)}") from exc

    def lock(self, version: StoredVersion, retain_until: datetime) -> Lock:
        """Set COMPLIANCE retain-until on one version and read it back; raise if it did not take.

        COMPLIANCE retention can only be extended, so asking for an earlier date
        than the object already has is not an error: the later date stays.
        """
        wanted = _whole_seconds_up(retain_until)
        current = self.read_lock(version)
        if current.mode == COMPLIANCE and current.retain_until and current.retain_until >= wanted:
            return current
        try:
            self._client.set_object_retention(
                self.bucket, version.key, Retention(COMPLIANCE, wanted), version_id=version.version_id
            )
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            raise StorageError(f"setting retention on {version.key} failed: {_reason(exc)}") from exc
        after = self.read_lock(version)
        if after.mode != COMPLIANCE or after.retain_until is None or after.retain_until < wanted:
            raise LockNotApplied(
                f"retention on {version.key} (version {version.version_id}) did not take: "
                f"asked COMPLIANCE until {wanted.isoformat()}, server has {after.mode} until "
                f"{after.retain_until.isoformat() if after.retain_until else 'nothing'}"
            )
        return after

    def set_legal_hold(self, version: StoredVersion, on: bool) -> Lock:
        """Set or clear the legal hold on one version and read it back."""
        try:
            if on:
                self._client.enable_object_legal_hold(self.bucket, version.key, version.version_id)
            else:
                self._client.disable_object_legal_hold(self.bucket, version.key, version.version_id)
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            raise StorageError(f"legal hold on {version.key} failed: {_reason(exc)}") from exc
        after = self.read_lock(version)
        if after.legal_hold != on:
            raise LockNotApplied(f"legal hold on {version.key} did not take: asked {on}, server has {after.legal_hold}")
        return after

    def delete_version(self, version: StoredVersion) -> None:
        """Delete one exact version; the server refuses while it is locked (never forced)."""
        try:
            self._client.remove_object(self.bucket, version.key, version_id=version.version_id)
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            raise StorageError(f"delete of {version.key} version {version.version_id} refused: {_reason(exc)}") from exc

    def abort_uploads(self, key: str) -> int:
        """Abort unfinished multipart uploads of ``key`` left by a crash; returns how many."""
        aborted = 0
        try:
            root = ET.fromstring(s3_raw.list_uploads(self._client, self.bucket, key))  # noqa: S314 - our S3 server's reply
            for upload in root.iter(f"{_S3_NS}Upload"):
                if upload.findtext(f"{_S3_NS}Key") != key:
                    continue
                upload_id = upload.findtext(f"{_S3_NS}UploadId")
                if upload_id:
                    s3_raw.abort_upload(self._client, self.bucket, key, upload_id)
                    aborted += 1
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            raise StorageError(f"cleaning unfinished uploads of {key} failed: {_reason(exc)}") from exc
        return aborted

    # -- reads of facts (not content) -----------------------------------------

    def latest(self, key: str) -> StoredVersion | None:
        """The newest version of ``key``, or None if there is none."""
        try:
            stat = self._client.stat_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound", "MethodNotAllowed"):
                return None
            raise StorageError(f"stat of {key} failed: {exc.code}") from exc
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            raise StorageError(f"stat of {key} failed: {_reason(exc)}") from exc
        if stat.version_id is None or stat.size is None:
            raise BucketMisconfigured(f"{key} has no version id: is versioning enabled?")
        return StoredVersion(key, stat.version_id, stat.size)

    def versions(self, key: str) -> list[StoredVersion]:
        """Every version of exactly ``key`` (a second one means someone wrote over it)."""
        try:
            return [
                StoredVersion(key, o.version_id or "", o.size or 0)
                for o in self._client.list_objects(self.bucket, prefix=key, include_version=True)
                if o.object_name == key and not o.is_delete_marker
            ]
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            raise StorageError(f"listing versions of {key} failed: {_reason(exc)}") from exc

    def listing(self, prefix: str) -> list[ListedVersion]:
        """Every version and delete marker under ``prefix``, by key; per key newest first (the server's order).

        What an audit of the bucket needs: a latest-only listing hides whatever
        a delete marker covers, and a second version written over a key.
        """
        try:
            return [
                ListedVersion(
                    key=o.object_name,
                    version_id=o.version_id or "",
                    size=o.size or 0,
                    delete_marker=bool(o.is_delete_marker),
                    latest=str(o.is_latest).lower() == "true",
                    modified=o.last_modified,
                )
                for o in self._client.list_objects(self.bucket, prefix=prefix, recursive=True, include_version=True)
                if o.object_name
            ]
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            raise StorageError(f"listing the versions under {prefix} failed: {_reason(exc)}") from exc

    def read_lock(self, version: StoredVersion) -> Lock:
        """Retention and legal hold of one version, parsed tolerantly.

        minio 7.2.20 cannot parse this server's 9-digit fractional seconds, so
        the retention XML is fetched and parsed here.
        """
        try:
            retention = s3_raw.get_retention(self._client, self.bucket, version.key, version.version_id)
            root = ET.fromstring(retention)  # noqa: S314 - our S3 server's reply
            mode = root.findtext(f"{_S3_NS}Mode") or root.findtext("Mode")
            until_text = root.findtext(f"{_S3_NS}RetainUntilDate") or root.findtext("RetainUntilDate")
            until = datetime.fromisoformat(until_text) if until_text else None
        except S3Error as exc:
            if exc.code not in _NO_LOCK:
                raise StorageError(f"reading retention of {version.key} failed: {exc.code}") from exc
            mode, until = None, None
        except (MinioException, urllib3.exceptions.HTTPError, ET.ParseError, ValueError) as exc:
            raise StorageError(f"reading retention of {version.key} failed: {_reason(exc)}") from exc
        try:
            hold = self._client.is_object_legal_hold_enabled(self.bucket, version.key, version.version_id)
        except S3Error as exc:
            if exc.code not in _NO_LOCK:
                raise StorageError(f"reading legal hold of {version.key} failed: {exc.code}") from exc
            hold = False
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            raise StorageError(f"reading legal hold of {version.key} failed: {_reason(exc)}") from exc
        return Lock(mode, until, hold)

    def fixity_sha256(self, version: StoredVersion, progress: Callable[[int], None] | None = None) -> tuple[str, int]:
        """Re-read one stored version and return (SHA-256 hex, size): the system's integrity check."""
        digest = hashlib.sha256()
        size = 0
        for chunk in self._stream(version):
            digest.update(chunk)
            size += len(chunk)
            if progress:
                progress(len(chunk))
        return digest.hexdigest(), size

    def read_into(self, version: StoredVersion, sink: BinaryIO) -> tuple[str, int]:
        """Copy one stored version into ``sink``; (SHA-256 hex, size) of what was read, for the caller to compare.

        The system's own read of an original to derive a file from it (a
        playback proxy, a redacted copy: ``derived``); never a person's read,
        which goes through the access gate.
        """
        digest = hashlib.sha256()
        size = 0
        for chunk in self._stream(version):
            digest.update(chunk)
            size += len(chunk)
            sink.write(chunk)
        return digest.hexdigest(), size

    def _stream(self, version: StoredVersion, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The object's bytes (from ``offset``, ``length`` of them if given); only the access gate calls this."""
        try:
            response = self._client.get_object(
                self.bucket, version.key, version_id=version.version_id, offset=offset, length=length or 0
            )
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            raise StorageError(f"read of {version.key} failed: {_reason(exc)}") from exc
        try:
            yield from response.stream(READ_CHUNK)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError(f"read of {version.key} broke off: {_reason(exc)}") from exc
        finally:
            response.close()
            response.release_conn()


class _PartBuffers:
    """Part buffers, lent to upload threads and kept for the next part.

    A fresh ``bytes`` per part would have the allocator hand out, free and
    re-use ``part_size`` blocks across many threads' arenas, and a process
    with several files in flight would keep far more than the parts in flight
    resident. These buffers are as many as parts were ever in flight at once.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._free: list[bytearray] = []
        self._lock = threading.Lock()

    @contextmanager
    def lend(self, size: int) -> Iterator[bytearray]:
        if size != self.size:  # a part grown past the usual size (a huge file): not kept
            yield bytearray(size)
            return
        with self._lock:
            buffer = self._free.pop() if self._free else None
        if buffer is None:
            buffer = bytearray(size)
        try:
            yield buffer
        finally:
            with self._lock:
                self._free.append(buffer)


def _results(futures: list[Future[str]]) -> list[str]:
    """Every future's result in order; at the first failure the parts not yet started are cancelled."""
    try:
        return [f.result() for f in futures]
    except BaseException:
        for f in futures:
            f.cancel()
        raise


def _error_code(body: bytes) -> str | None:
    try:
        root = ET.fromstring(body)  # noqa: S314 - our S3 server's reply
    except ET.ParseError:
        return None
    code = root.findtext("Code") or root.findtext(f"{_S3_NS}Code")
    message = root.findtext("Message") or root.findtext(f"{_S3_NS}Message")
    return f"{code}: {message}" if code and message else code


def _reason(exc: BaseException) -> str:
    if isinstance(exc, S3Error):
        return f"{exc.code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"
