"""The root of evidock's exception tree.

    EvidockError                         every error evidock raises on purpose
    ├── chain.errors.ProofError          a proof or checkpoint does not verify
    │   ├── chain.errors.EntryError          entry bytes or fields break the log format
    │   └── chain.errors.CheckpointError     a checkpoint, signed note or key is malformed
    │                                        or its signature does not verify
    ├── storage.errors.StorageError      the object store or catalog failed or refused
    │   ├── storage.errors.LockNotApplied    retention/legal hold did not take (read back)
    │   ├── storage.errors.BucketMisconfigured  no versioning or Object Lock
    │   ├── storage.errors.NotFound          no such recording, entry or checkpoint; purged content
    │   ├── storage.errors.InvalidReference  a malformed or ambiguous id, index or tree size
    │   ├── storage.checkpoints.LogForked    the log no longer extends its stored checkpoint
    │   └── ingest.pipeline.FileChanged      the dock file changed while it was stored
    ├── access.errors.AccessDenied       the access gate refused
    │   ├── NotAuthenticated, NotPermitted, InvalidAccessInput, ApprovalError
    │   └── AccessNotRecorded                the ACCESS entry could not be written: no bytes
    ├── ingest.filenames.PatternError    a configured file-name pattern is unusable
    ├── ingest.checking.FindingError     a finding cannot be explained as asked
    ├── retention.errors.RetentionError  PolicyError, CalendarError, context.CustodyError
    └── evidock.settings.ConfigError     config.toml or the environment is wrong

The root lives in ``chain`` because it is the bottom layer: every other package
may import it. The CLI catches ``EvidockError`` once, prints the message on one
line and exits non-zero.

Calling a ``chain`` function the wrong way (a naive datetime, an index past the
end of the tree you asked a proof for) is misuse, not bad data, and raises
``ValueError``/``TypeError`` instead.
"""


class EvidockError(Exception):
    """Root of every error evidock raises on purpose."""


class ProofError(EvidockError):
    """A Merkle proof, checkpoint or signature does not verify."""


class EntryError(ProofError):
    """Log entry bytes are malformed or not canonical, or an entry's fields break the format.

    A subclass of ``ProofError`` because, met while verifying, a bad entry means
    the log does not prove what it claims.
    """


class CheckpointError(ProofError):
    """A checkpoint, signed note or note key is malformed, or no trusted signature verifies."""
