"""The S3 requests minio (pinned 7.2.20) offers no public call for, in one place.

* the ``?retention`` sub-resource of a version, read as raw XML: minio's own
  ``get_object_retention`` cannot parse Ceph RGW's 9-digit fractional seconds;
* ListMultipartUploads and AbortMultipartUpload: needed to clean up an upload
  left by a crash, and private in minio;
* CreateMultipartUpload and CompleteMultipartUpload: ``storage.objects`` sends
  the parts itself (``ObjectStore.upload_parts``), so it starts and finishes
  the upload itself too.

Each goes through ``Minio._execute`` (signing, retries, region and error
handling as for every other call). ``tests/test_s3_raw.py`` checks the pinned
minio still has these methods with these parameters, so an upgrade that changes
them fails a test instead of a dock station.
"""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET

from minio import Minio
from minio.error import S3Error

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


_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def create_upload(client: Minio, bucket: str, key: str, headers: dict[str, str]) -> str:
    """CreateMultipartUpload; the new upload's id. ``headers`` carry the object's metadata."""
    sent: dict[str, str | list[str] | tuple[str]] = dict(headers)
    response = client._execute("POST", bucket, object_name=key, headers=sent, query_params={"uploads": ""})
    root = ET.fromstring(response.data)  # noqa: S314 - our S3 server's reply
    upload_id = root.findtext(f"{_S3_NS}UploadId") or root.findtext("UploadId")
    if not upload_id:
        message = "CreateMultipartUpload returned no UploadId"
        raise S3Error(response, "NoUploadId", message, key, None, None, bucket, key)
    return upload_id


def complete_upload(client: Minio, bucket: str, key: str, upload_id: str, etags: list[str]) -> str | None:
    """CompleteMultipartUpload of parts 1..n with these ETags; the new version's id (None if unversioned).

    S3 may answer 200 and still fail (an ``Error`` document in the body, after a long
    assembly): that is raised as ``S3Error`` like any other refusal.
    """
    parts = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>" for n, etag in enumerate(etags, 1))
    body = f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()
    headers: dict[str, str | list[str] | tuple[str]] = {
        "Content-Type": "application/xml",
        "Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode(),  # noqa: S324 - S3's integrity header
    }
    response = client._execute(
        "POST", bucket, object_name=key, body=body, headers=headers, query_params={"uploadId": upload_id}
    )
    root = ET.fromstring(response.data)  # noqa: S314 - our S3 server's reply
    if root.tag in ("Error", f"{_S3_NS}Error"):
        code = root.findtext("Code") or root.findtext(f"{_S3_NS}Code") or "InternalError"
        message = root.findtext("Message") or root.findtext(f"{_S3_NS}Message") or ""
        raise S3Error(response, code, message, key, None, None, bucket, key)
    version = response.headers.get("x-amz-version-id")
    return str(version) if version else None
