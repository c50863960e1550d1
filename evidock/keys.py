"""The log's Ed25519 signing key: created once, kept 0600 on the station (or in the environment).

The verifier key (public) is written beside it as ``<key_file>.pub`` in note
``vkey`` form; auditors and the offline verifier need only that.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from chain.checkpoint import SignerKey, generate_skey, parse_skey, parse_vkey, vkey_of
from chain.errors import ProofError
from evidock.settings import SIGNING_KEY_ENV, ConfigError, Settings


def public_path(settings: Settings) -> Path:
    return settings.log.key_file.with_name(settings.log.key_file.name + ".pub")


def load_signer(settings: Settings, environ: Mapping[str, str] | None = None) -> SignerKey:
    env = os.environ if environ is None else environ
    text = env.get(SIGNING_KEY_ENV)
    where = f"${SIGNING_KEY_ENV}"
    if not text:
        where = str(settings.log.key_file)
        try:
            text = settings.log.key_file.read_text(encoding="ascii").strip()
        except FileNotFoundError as exc:
            raise ConfigError(
                f"log.key_file = {where!r} does not exist: run `evidock keys init` once on this station "
                f"(or set {SIGNING_KEY_ENV})"
            ) from exc
        except (OSError, UnicodeError) as exc:
            raise ConfigError(f"log.key_file = {where!r} cannot be read: {exc}") from exc
    try:
        signer = parse_skey(text)
    except ProofError as exc:
        raise ConfigError(f"{where} does not hold a valid signing key: {exc}") from exc
    if signer.name != settings.log.origin:
        raise ConfigError(
            f"{where} is a key for {signer.name!r} but log.origin = {settings.log.origin!r}; "
            "use the key made for this log or set log.origin to match"
        )
    return signer


def load_vkey(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    """The verifier key: from the public file, else derived from the signing key."""
    path = public_path(settings)
    if path.exists():
        text = path.read_text(encoding="ascii").strip()
        try:
            parse_vkey(text)
        except ProofError as exc:
            raise ConfigError(f"{path} does not hold a valid verifier key: {exc}") from exc
        return text
    signer = load_signer(settings, environ)
    return str(signer.verifier())


def init_key(settings: Settings) -> tuple[str, bool]:
    """Create the signing key file (0600, never overwritten). Returns (vkey, created)."""
    path = settings.log.key_file
    if path.exists():
        return str(load_signer(settings, {}).verifier()), False
    path.parent.mkdir(parents=True, exist_ok=True)
    skey = generate_skey(settings.log.origin)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(skey + "\n")
        f.flush()
        os.fsync(f.fileno())
    vkey = vkey_of(skey)
    tmp = public_path(settings).with_suffix(".pub.tmp")
    tmp.write_text(vkey + "\n", encoding="ascii")
    os.replace(tmp, public_path(settings))
    return vkey, True
