"""Errors of the storage layer. The rest of evidock never sees a minio or SQLAlchemy exception."""

from chain.errors import EvidockError


class StorageError(EvidockError):
    """The object store or the catalog failed or refused an operation."""


class LockNotApplied(StorageError):
    """A retention or legal hold did not take effect on the server (read back and compared)."""


class BucketMisconfigured(StorageError):
    """The bucket lacks versioning or Object Lock; evidock refuses to store evidence there."""


class NotFound(StorageError):
    """No such recording, log entry or checkpoint (or its content is gone: purged)."""


class InvalidReference(StorageError):
    """A recording id, prefix, entry index or tree size that cannot name anything: malformed or ambiguous."""
