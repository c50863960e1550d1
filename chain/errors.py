"""The root of evidock's exception tree.

    EvidockError                      every error evidock raises on purpose
    ├── chain.errors.ProofError       a proof or checkpoint does not verify
    ├── storage.errors.StorageError   the object store or catalog failed or refused
    │   └── storage.errors.LockNotApplied  retention/legal hold did not take
    ├── storage.errors.AccessDenied   the access gate refused (roles, approvals)
    └── evidock.settings.ConfigError  config.toml or the environment is wrong

The root lives in ``chain`` because it is the bottom layer: every other package
may import it. The CLI catches ``EvidockError`` once, prints the message on one
line and exits non-zero.
"""


class EvidockError(Exception):
    """Root of every error evidock raises on purpose."""


class ProofError(EvidockError):
    """A Merkle proof, checkpoint or signature does not verify."""
