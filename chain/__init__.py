"""The verifiable log: canonical entries, RFC 9162 Merkle tree, proofs, signed checkpoints.

Pure: standard library plus ``cryptography`` and ``rfc8785``. No database, no S3,
no clock reads. Persistence lives in ``storage``.
"""
