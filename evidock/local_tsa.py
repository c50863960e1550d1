"""A real RFC 3161 time-stamping authority on this machine: ``openssl ts -reply`` behind a small HTTP handler.

For tests, and for a station that has no contracted TSA yet (docs/witness.md,
"Trusted time"). Nothing is mocked: OpenSSL signs every answer with a TSA
certificate that carries the critical timeStamping extended key usage, issued
by a CA that ``init`` makes. Such a token proves only what this machine's clock
said; a contracted TSA replaces it by configuration, not by code.

    python -m evidock.local_tsa init DIR --name "Local TSA"    # CA + TSA key and certificates, tsa.cnf
    python -m evidock.local_tsa serve DIR --listen 127.0.0.1:3180

``serve`` answers ``POST`` (any path) with ``Content-Type:
application/timestamp-query`` and returns ``application/timestamp-reply``
(RFC 3161 §3.4). Replies are made one at a time: OpenSSL's serial file is not
safe for concurrent writers.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

log = logging.getLogger(__name__)

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
MAX_QUERY = 16 * 1024  # bytes; a query is about 100
POLICY_OID = "1.3.6.1.4.1.4146.2.3.1.2"
"""A TSA policy OID the local TSA writes into its tokens (only checked if a verifier is told to)."""

CA_CERT, TSA_CERT, TSA_KEY, CONFIG, CHAIN = "ca.crt", "tsa.crt", "tsa.key", "tsa.cnf", "chain.pem"


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed ({done.returncode}): {done.stderr.strip()[-500:]}")


def init(directory: Path, *, name: str = "evidock local TSA", days: int = 3650) -> Path:
    """Make a CA, a TSA key and certificate (EKU timeStamping, critical) and tsa.cnf in ``directory``.

    Replies carry the TSA certificate only (no ``certs =`` line): OpenSSL writes
    a SignedData certificate SET of two out of DER order, which
    ``rfc3161-client`` rightly refuses; verifiers hold the chain anyway.

    Returns the path of ``chain.pem`` (the TSA certificate, then the CA): the
    certificate chain a verifier is configured with.
    """
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / CONFIG).exists():
        raise FileExistsError(f"{directory / CONFIG} exists; a TSA is made once")
    subject = name.replace("/", " ").replace("=", " ").replace("\n", " ")
    (directory / "ca.cnf").write_text(
        "[ req ]\ndistinguished_name = dn\nx509_extensions = v3_ca\nprompt = no\n"
        f"[ dn ]\nCN = {subject} CA\n"
        "[ v3_ca ]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n"
        "subjectKeyIdentifier = hash\n",
        encoding="utf-8",
    )
    (directory / "tsa.ext").write_text(
        "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature, nonRepudiation\n"
        "extendedKeyUsage = critical, timeStamping\nsubjectKeyIdentifier = hash\n"
        "authorityKeyIdentifier = keyid\n",
        encoding="ascii",
    )
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "ca.key", cwd=directory)
    _openssl(
        "req",
        "-new",
        "-x509",
        "-config",
        "ca.cnf",
        "-key",
        "ca.key",
        "-out",
        CA_CERT,
        "-days",
        str(days),
        cwd=directory,
    )
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", TSA_KEY, cwd=directory)
    _openssl(
        "req", "-new", "-config", "ca.cnf", "-key", TSA_KEY, "-out", "tsa.csr", "-subj", f"/CN={subject}", cwd=directory
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        "tsa.csr",
        "-CA",
        CA_CERT,
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        TSA_CERT,
        "-days",
        str(days),
        "-extfile",
        "tsa.ext",
        cwd=directory,
    )
    (directory / "ca.key").chmod(0o600)
    (directory / TSA_KEY).chmod(0o600)
    (directory / "serial").write_text("01\n", encoding="ascii")
    (directory / CHAIN).write_text(
        (directory / TSA_CERT).read_text(encoding="ascii") + (directory / CA_CERT).read_text(encoding="ascii"),
        encoding="ascii",
    )
    (directory / CONFIG).write_text(
        f"""# openssl ts -reply configuration of the local TSA (evidock/local_tsa.py)
[ tsa ]
default_tsa = local_tsa

[ local_tsa ]
dir = {directory.resolve()}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/{TSA_CERT}
signer_key = $dir/{TSA_KEY}
signer_digest = sha256
default_policy = {POLICY_OID}
digests = sha256, sha384, sha512
accuracy = secs:1
clock_precision_digits = 3
ordering = yes
tsa_name = yes
ess_cert_id_chain = yes
ess_cert_id_alg = sha256
""",
        encoding="ascii",
    )
    return directory / CHAIN


class LocalTsa:
    """Makes RFC 3161 replies with ``openssl ts -reply``; one at a time."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        if not (directory / CONFIG).exists():
            raise FileNotFoundError(
                f"{directory / CONFIG} not found; run: python -m evidock.local_tsa init {directory}"
            )
        self._lock = threading.Lock()

    def reply(self, query: bytes) -> bytes:
        with self._lock, tempfile.TemporaryDirectory(prefix="tsa-") as scratch:
            query_path, reply_path = Path(scratch) / "query.tsq", Path(scratch) / "reply.tsr"
            query_path.write_bytes(query)
            _openssl(
                "ts",
                "-reply",
                "-config",
                str(self.directory / CONFIG),
                "-queryfile",
                str(query_path),
                "-out",
                str(reply_path),
                cwd=self.directory,
            )
            return reply_path.read_bytes()


def _handler(tsa: LocalTsa) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if self.headers.get("Content-Type", "").split(";")[0].strip() != QUERY_TYPE or not 0 < length <= MAX_QUERY:
                self._answer(400, b"expected an application/timestamp-query body\n", "text/plain")
                return
            query = self.rfile.read(length)
            try:
                reply = tsa.reply(query)
            except RuntimeError as exc:
                log.warning("time-stamp request refused: %s", exc)
                self._answer(400, f"{exc}\n".encode(), "text/plain")
                return
            self._answer(200, reply, REPLY_TYPE)

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug(format, *args)

    return Handler


def serve(directory: Path, host: str, port: int) -> None:
    """Answer time-stamp queries until interrupted."""
    server = ThreadingHTTPServer((host, port), _handler(LocalTsa(directory)))
    print(f"local TSA on http://{host}:{server.server_port}/ (chain: {directory / CHAIN})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evidock.local_tsa", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    made = commands.add_parser("init", help="make the CA, the TSA certificate and tsa.cnf")
    made.add_argument("directory", type=Path)
    made.add_argument("--name", default="evidock local TSA")
    served = commands.add_parser("serve", help="answer RFC 3161 queries over HTTP")
    served.add_argument("directory", type=Path)
    served.add_argument("--listen", default="127.0.0.1:3180")
    args = parser.parse_args(argv)
    if args.command == "init":
        print(init(args.directory, name=args.name))
        return 0
    host, _, port = str(args.listen).rpartition(":")
    serve(args.directory, host, int(port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
