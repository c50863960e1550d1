"""The witness's own configuration: ``witness.toml`` in its folder, and its key file beside it.

    name = "witness.fazhi.example/w1"     # the key name in its cosignatures
    key_file = "witness.key"              # PRIVATE+KEY+... (mode 0600), relative to the folder
    state_db = "witness.db"               # its SQLite state
    listen = "127.0.0.1:7380"

    [[logs]]                              # one per log it accepts
    origin = "evidock.example/dock-log"   # the checkpoint's first line
    vkey = "evidock.example/dock-log+1a2b3c4d+AX..."   # the log's verifier key (type 0x01)

The key may instead come from the environment (``EVIDOCK_WITNESS_SKEY``), so an
operator can keep it off the disk.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from chain.checkpoint import VerifierKey, parse_vkey
from chain.cosignature import (
    CosignerSecret,
    format_cosigner_vkey,
    generate_cosigner_skey,
    parse_cosigner_skey,
)
from chain.errors import CheckpointError, EvidockError

CONFIG_NAME = "witness.toml"
KEY_NAME = "witness.key"
DB_NAME = "witness.db"
SKEY_ENV = "EVIDOCK_WITNESS_SKEY"
DEFAULT_LISTEN = "127.0.0.1:7380"


class WitnessConfigError(EvidockError):
    """witness.toml, the key file or the folder is wrong; the message says how to fix it."""


@dataclass(frozen=True)
class LogPolicy:
    """A log the witness accepts: its origin line and the key its checkpoints must be signed with."""

    origin: str
    vkey: VerifierKey


@dataclass(frozen=True)
class WitnessConfig:
    """Everything a running witness needs, loaded once."""

    directory: Path
    name: str
    secret: CosignerSecret
    state_db: Path
    host: str
    port: int
    logs: tuple[LogPolicy, ...]

    @property
    def vkey(self) -> str:
        return format_cosigner_vkey(self.secret.name, self.secret.private_key.public_key())

    def log(self, origin: str) -> LogPolicy | None:
        return next((policy for policy in self.logs if policy.origin == origin), None)


def _listen(text: str, where: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise WitnessConfigError(f"{where}: listen must be HOST:PORT, e.g. {DEFAULT_LISTEN!r}; got {text!r}")
    return host, int(port)


def load(directory: Path) -> WitnessConfig:
    """The configuration in ``directory``; ``WitnessConfigError`` says what is wrong and how to fix it."""
    path = directory / CONFIG_NAME
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise WitnessConfigError(
            f"{path} not found; create the witness with: evidock witness init --dir {directory}"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise WitnessConfigError(f"{path}: not valid TOML: {exc}") from exc
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise WitnessConfigError(f"{path}: name must be the witness's key name, e.g. 'witness.fazhi.example/w1'")
    skey = os.environ.get(SKEY_ENV)
    if skey is None:
        key_path = directory / str(raw.get("key_file", KEY_NAME))
        try:
            skey = key_path.read_text(encoding="ascii")
        except FileNotFoundError as exc:
            raise WitnessConfigError(f"{key_path} not found and ${SKEY_ENV} is not set") from exc
    try:
        secret = parse_cosigner_skey(skey)
    except CheckpointError as exc:
        raise WitnessConfigError(f"{path}: the witness key is unusable: {exc}") from exc
    if secret.name != name:
        raise WitnessConfigError(f"{path}: name {name!r} differs from the key's name {secret.name!r}; they must match")
    host, port = _listen(str(raw.get("listen", DEFAULT_LISTEN)), str(path))
    logs: list[LogPolicy] = []
    for number, entry in enumerate(raw.get("logs", []), start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("vkey"), str):
            raise WitnessConfigError(f'{path}: [[logs]] #{number} needs vkey = "<name>+<id>+<key>"')
        try:
            vkey = parse_vkey(entry["vkey"])
        except CheckpointError as exc:
            raise WitnessConfigError(f"{path}: [[logs]] #{number}: {exc}") from exc
        origin = entry.get("origin", vkey.name)
        if not isinstance(origin, str) or not origin or "\n" in origin:
            raise WitnessConfigError(f"{path}: [[logs]] #{number}: origin must be one non-empty line")
        if any(policy.origin == origin for policy in logs):
            raise WitnessConfigError(f"{path}: [[logs]] origin {origin!r} is listed twice")
        logs.append(LogPolicy(origin, vkey))
    state_db = directory / str(raw.get("state_db", DB_NAME))
    return WitnessConfig(directory, name, secret, state_db, host, port, tuple(logs))


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def init(directory: Path, name: str, *, logs: list[tuple[str, str]], listen: str = DEFAULT_LISTEN) -> WitnessConfig:
    """Create a witness in ``directory``: a new key (mode 0600), witness.toml; refuses to overwrite either.

    ``logs`` are (origin, vkey) pairs. The state database is created by the
    first ``serve`` or ``show`` (``witness.state.open_state``).
    """
    _listen(listen, "--listen")
    for origin, vkey in logs:
        try:
            parse_vkey(vkey)
        except CheckpointError as exc:
            raise WitnessConfigError(f"log {origin!r}: {exc}") from exc
    directory.mkdir(parents=True, exist_ok=True)
    config_path, key_path = directory / CONFIG_NAME, directory / KEY_NAME
    for path in (config_path, key_path):
        if path.exists():
            raise WitnessConfigError(f"{path} already exists; a witness's key is never replaced in place")
    try:
        skey = generate_cosigner_skey(name)
    except ValueError as exc:
        raise WitnessConfigError(f"witness name: {exc}") from exc
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(skey + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    lines = [
        "# evidock witness (C2SP tlog-witness); see docs/witness.md",
        f"name = {_toml_string(name)}",
        f"key_file = {_toml_string(KEY_NAME)}",
        f"state_db = {_toml_string(DB_NAME)}",
        f"listen = {_toml_string(listen)}",
    ]
    for origin, vkey in logs:
        lines += ["", "[[logs]]", f"origin = {_toml_string(origin)}", f"vkey = {_toml_string(vkey)}"]
    if not logs:
        lines += ["", "# [[logs]]", '# origin = "evidock.example/dock-log"', '# vkey = "evidock.example/dock-log+..."']
    temporary = config_path.with_suffix(".tmp")
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(temporary, config_path)
    return load(directory)
