"""The S3 requests minio (pinned 7.2.20) offers no public call for, in one place.

* the ``?retention`` sub-resource of a version, read as raw XML: minio's own
  ``get_object_retention`` cannot parse Ceph RGW's 9-digit fractional seconds;
* ListMultipartUploads and AbortMultipartUpload: needed to clean up an upload
  left by a crash, and private in minio.

Each goes through ``Minio._execute`` (signing, retries, region and error
handling as for every other call). ``tests/test_s3_raw.py`` checks the pinned
minio still has these methods with these parameters, so an upgrade that changes
them fails a test instead of a dock station.
"""

from __future__ import annotations

from minio import Minio

MINIO_VERSION = "7.2.20"
"""The minio release whose private ``_execute`` these calls rely on (requirements.lock)."""


def get_retention(client: Minio, bucket: str, key: str, version_id: str) -> bytes:
    """The ``?retention`` XML of one version (a fact about the object, never its bytes)."""
    response = client._execute("GET", bucket, object_name=key, query_params={"versionId": version_id, "retention": ""})
    return bytes(response.data)


def list_uploads(client: Minio, bucket: str, prefix: str) -> bytes:
    """The ListMultipartUploads XML of the uploads under ``prefix``."""
    return bytes(client._execute("GET", bucket, query_params={"uploads": "", "prefix": prefix}).data)


def abort_upload(client: Minio, bucket: str, key: str, upload_id: str) -> None:
    """AbortMultipartUpload of one unfinished upload."""
    client._execute("DELETE", bucket, object_name=key, query_params={"uploadId": upload_id})
