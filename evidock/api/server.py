"""uvicorn in a thread beside the service loop: started by `evidock run`, stopped with it on SIGTERM.

uvicorn installs no signal handlers outside the main thread; the service's
own SIGTERM handler stops the loop, which then asks the server to finish its
requests and exit (``stop``). Plain HTTP on 127.0.0.1 by default: TLS belongs
to a reverse proxy in front (docs/api.md).

The listening socket is bound here, before uvicorn starts: a port in use is then
one clear ``ConfigError`` (uvicorn itself would first log a bare ``[Errno 98]``
line and exit its thread). uvicorn's own loggers go to the service's log
(``log_config=None``: timestamped, one line each; evidock.service_log).
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Sequence

import uvicorn
from fastapi import FastAPI

from evidock.api.listen import Listen
from evidock.settings import ConfigError

log = logging.getLogger(__name__)

START_SECONDS = 10.0  # the server must be listening within this
STOP_SECONDS = 10.0  # open requests get this long to finish


_BIND_REFUSALS = {
    errno.EADDRINUSE: "another program already listens there",
    errno.EADDRNOTAVAIL: "not an address of this machine",
    errno.EACCES: "a port below 1024 needs privileges this service should not have",
}


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class HttpServer:
    def __init__(self, app: FastAPI, listen: Listen, *, trusted_proxies: Sequence[str] = ()) -> None:
        self.listen = listen
        config = uvicorn.Config(
            app,
            host=listen.host,
            port=listen.port,
            log_level="warning",
            log_config=None,  # its records go to the service's handlers, stamped like every line
            access_log=False,  # the ACCESS entries are the record of reads; URLs carry no secret either way
            server_header=False,
            timeout_graceful_shutdown=int(STOP_SECONDS),
            # X-Forwarded-For names the client (and so the key of the failure limits) only when it comes
            # from a configured proxy ([web] trusted_proxies); uvicorn would believe 127.0.0.1 by default.
            proxy_headers=bool(trusted_proxies),
            forwarded_allow_ips=list(trusted_proxies) if trusted_proxies else [],
        )
        self._server = uvicorn.Server(config)
        self._socket: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name="evidock-http", daemon=True)

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._socket] if self._socket is not None else None)
        except SystemExit:  # uvicorn exits when it cannot start; ``start`` sees the thread end and says why
            log.debug("the HTTP server exited at start")

    def start(self) -> None:
        """Listen, or raise ConfigError if the address cannot be bound."""
        self._socket = self._bind()
        self._thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError(
                    f"the HTTP API could not start on {self.listen.host}:{self.listen.port} (see the log above)"
                )
            time.sleep(0.05)
        log.warning("HTTP API on http://%s:%d (docs at /docs)", self.listen.host, self.listen.port)
        if not _loopback(self.listen.host):
            log.warning(
                "the HTTP API listens on %s without TLS: tokens and recordings cross the network in clear; "
                "put a TLS reverse proxy in front and listen on 127.0.0.1 (docs/api.md)",
                self.listen.host,
            )

    def _bind(self) -> socket.socket:
        """The listening socket, as uvicorn would make it; a clear ConfigError if the address is refused."""
        host, port = self.listen.host, self.listen.port
        try:
            family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        except socket.gaierror as exc:
            raise ConfigError(
                f"the HTTP API cannot listen on {host}:{port}: {host!r} is not a known address ({exc.strerror}); "
                "choose another with --http-host"
            ) from exc
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
        except OSError as exc:
            sock.close()
            why = _BIND_REFUSALS.get(exc.errno or 0, exc.strerror or str(exc))
            raise ConfigError(
                f"the HTTP API could not listen on {host}:{port}: {why}; "
                "choose another port with --http-port or another address with --http-host"
            ) from exc
        return sock

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(STOP_SECONDS + 5)
