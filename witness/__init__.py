"""A transparency-log witness (C2SP ``tlog-witness``), run by another office to cosign evidock checkpoints.

The witness keeps, for each log it is configured to follow, the latest
checkpoint it cosigned, and cosigns a new one only if a consistency proof shows
it extends that one. A log that rewrites its history can then no longer obtain
the witness's cosignature, and a disc whose checkpoint lacks it fails. Refused
forks and rollbacks are recorded as evidence, with both checkpoints.

    config.py   witness.toml: name, key file, state database, the logs it accepts
    judge.py    the protocol's checks, pure: request + what was seen -> verdict
    state.py    its own SQLite database (WAL, synchronous=FULL): latest per log, history
    service.py  one add-checkpoint: authenticate, judge and persist atomically, cosign
    http.py     the ASGI app: POST /add-checkpoint

It imports ``chain`` only (import-linter); nothing but ``evidock`` (its CLI)
imports it. The log side's client is ``storage.witness_client``.
"""
