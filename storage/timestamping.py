"""RFC 3161 trusted timestamps (可信时间戳) over checkpoint notes: ask a TSA, verify its answer.

The message imprint is the SHA-256 of the signed checkpoint note's UTF-8 bytes
(exactly the bytes stored). A token then proves the note existed at its
``genTime``. ``rfc3161-client`` builds the request and verifies the response:
PKIStatus granted, the CMS signature chaining to the configured TSA
certificate chain (checked at ``genTime``), the signer certificate equal to
the configured TSA certificate and carrying the critical id-kp-timeStamping
EKU (RFC 3161 §2.3), the imprint equal to the note's hash, and on request the
nonce.

One seam to an outside system: the TSA's HTTP endpoint (RFC 3161 §3.4,
``application/timestamp-query`` → ``application/timestamp-reply``). Errors of
the network or of ``rfc3161-client`` become ``TimestampError`` with the cause.

What is stored is the whole ``TimeStampResp`` DER (status + token): both
``rfc3161-client`` and ``openssl ts -verify -in <file>`` read it.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)
from rfc3161_client.tsp import TimeStampResponse

from storage.errors import StorageError

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
SHA256_OID = x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1")
MAX_REPLY = 64 * 1024  # bytes; a reply with a two-certificate chain is about 3 KiB


class TimestampError(StorageError):
    """A TSA could not be reached, refused, or its token does not verify for this note."""


class ImprintMismatch(TimestampError):
    """The token is a token, but over another message than this note."""


@dataclass(frozen=True)
class TimestampFacts:
    """What a verified token says: when (UTC), which serial, by whom, under which policy."""

    gen_time: datetime
    serial_number: int
    tsa: str
    policy: str


def _bytes(note: str | bytes) -> bytes:
    return note.encode("utf-8") if isinstance(note, str) else note


def load_chain(pem: bytes) -> list[x509.Certificate]:
    """The certificates of a PEM file, in file order: the TSA certificate first, its root last."""
    try:
        chain = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise TimestampError(f"TSA certificate chain is not PEM certificates: {exc}") from exc
    if not chain:
        raise TimestampError("TSA certificate chain is empty")
    return chain


def tsa_chain_problem(pem: bytes) -> str | None:
    """What is wrong with a configured TSA chain (PEM, TSA certificate first), or None if it can be used."""
    try:
        chain = load_chain(pem)
    except TimestampError as exc:
        return str(exc)
    try:
        usage = chain[0].extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return "the first certificate has no extended key usage; it must be the TSA's (timeStamping)"
    if x509.oid.ExtendedKeyUsageOID.TIME_STAMPING not in usage.value:
        return "the first certificate is not a TSA certificate (no timeStamping extended key usage)"
    return None


def chain_fingerprint(chain: Sequence[x509.Certificate]) -> str:
    """The first 16 hex digits of the SHA-256 of the TSA certificate (DER): names a TSA in object keys."""
    return hashlib.sha256(chain[0].public_bytes(serialization.Encoding.DER)).hexdigest()[:16]


def _verifier(chain: Sequence[x509.Certificate], nonce: int | None) -> VerifierBuilder:
    if not chain:
        raise ValueError("a TSA certificate chain needs at least the TSA certificate")
    builder = VerifierBuilder().tsa_certificate(chain[0]).add_root_certificate(chain[-1])
    for certificate in chain[1:-1]:
        builder = builder.add_intermediate_certificate(certificate)
    return builder.nonce(nonce) if nonce is not None else builder


def _check(
    response: TimeStampResponse, note: bytes, chain: Sequence[x509.Certificate], nonce: int | None
) -> TimestampFacts:
    if PKIStatus(response.status) not in {PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS}:
        raise TimestampError(f"TSA refused: status {PKIStatus(response.status).name} {response.status_string}")
    info = response.tst_info
    if info.message_imprint.hash_algorithm != SHA256_OID:
        raise TimestampError(
            f"token's message imprint uses {info.message_imprint.hash_algorithm.dotted_string}, expected SHA-256"
        )
    expected = hashlib.sha256(note).digest()
    if info.message_imprint.message != expected:
        raise ImprintMismatch(
            f"token is over another message: imprint {info.message_imprint.message.hex()}, the note's SHA-256 is "
            f"{expected.hex()}"
        )
    try:
        _verifier(chain, nonce).build().verify(response, expected)
    except VerificationError as exc:
        raise TimestampError(f"token does not verify against the TSA chain: {exc}") from exc
    gen_time = info.gen_time
    gen_time = gen_time.replace(tzinfo=UTC) if gen_time.tzinfo is None else gen_time.astimezone(UTC)
    return TimestampFacts(gen_time, info.serial_number, chain[0].subject.rfc4514_string(), info.policy.dotted_string)


def verify_timestamp(reply: bytes, note: str | bytes, chain: Sequence[x509.Certificate]) -> TimestampFacts:
    """Check a stored ``TimeStampResp`` against the note it should stamp and the TSA's chain; its facts.

    Raises ``TimestampError`` if the reply is malformed, was not granted, is
    over another message, or is not signed by the configured TSA certificate
    chaining to the configured root. No clock is read: certificates are checked
    at the token's own ``genTime``.
    """
    try:
        response = decode_timestamp_response(reply)
    except ValueError as exc:
        raise TimestampError(f"time-stamp reply is not a DER TimeStampResp: {exc}") from exc
    return _check(response, _bytes(note), chain, None)


def request_timestamp(
    url: str, note: str | bytes, chain: Sequence[x509.Certificate], *, timeout: float = 10.0
) -> tuple[bytes, TimestampFacts]:
    """Ask the TSA at ``url`` to stamp the SHA-256 of ``note``; the reply (DER) after it verified, and its facts.

    The request carries a random nonce and asks for the TSA's certificate; the
    reply must echo the nonce.
    """
    data = _bytes(note)
    request = TimestampRequestBuilder().data(data).hash_algorithm(HashAlgorithm.SHA256).nonce(nonce=True)
    query = request.cert_request(cert_request=True).build()
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"TSA URL must be http(s)://..., got {url!r}")
    http_request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=query.as_bytes(), method="POST", headers={"Content-Type": QUERY_TYPE}
    )
    try:
        with urllib.request.urlopen(http_request, timeout=timeout) as answer:  # noqa: S310 - the configured TSA URL
            content_type = answer.headers.get("Content-Type", "")
            reply = answer.read(MAX_REPLY + 1)
    except urllib.error.HTTPError as exc:
        raise TimestampError(f"TSA {url} answered HTTP {exc.code}: {exc.read(300)!r}") from exc
    except (OSError, ValueError) as exc:
        raise TimestampError(f"TSA {url} unreachable: {exc}") from exc
    if len(reply) > MAX_REPLY:
        raise TimestampError(f"TSA {url} answered more than {MAX_REPLY} bytes")
    if content_type.split(";")[0].strip() != REPLY_TYPE:
        raise TimestampError(f"TSA {url} answered {content_type!r}, expected {REPLY_TYPE}")
    try:
        response = decode_timestamp_response(reply)
    except ValueError as exc:
        raise TimestampError(f"TSA {url} answer is not a DER TimeStampResp: {exc}") from exc
    return reply, _check(response, data, chain, query.nonce)


def openssl_verify_command(reply_path: str, note_path: str, chain_path: str) -> str:
    """The command a clerk runs to check a token's signature with OpenSSL alone (printed on discs)."""
    return f"openssl ts -verify -in {reply_path} -data {note_path} -CAfile {chain_path}"
