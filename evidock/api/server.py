"""uvicorn in a thread beside the service loop: started by `evidock run`, stopped with it on SIGTERM.

uvicorn installs no signal handlers outside the main thread; the service's
own SIGTERM handler stops the loop, which then asks the server to finish its
requests and exit (``stop``). Plain HTTP on 127.0.0.1 by default: TLS belongs
to a reverse proxy in front (docs/api.md).
"""

from __future__ import annotations

import ipaddress
import logging
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
            access_log=False,  # the ACCESS entries are the record of reads; URLs carry no secret either way
            server_header=False,
            timeout_graceful_shutdown=int(STOP_SECONDS),
            # X-Forwarded-For names the client (and so the key of the failure limits) only when it comes
            # from a configured proxy ([web] trusted_proxies); uvicorn would believe 127.0.0.1 by default.
            proxy_headers=bool(trusted_proxies),
            forwarded_allow_ips=list(trusted_proxies) if trusted_proxies else [],
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="evidock-http", daemon=True)

    def _run(self) -> None:
        try:
            self._server.run()
        except SystemExit:  # uvicorn exits when it cannot bind; ``start`` sees the thread end and says why
            log.debug("the HTTP server exited at start")

    def start(self) -> None:
        """Listen, or raise ConfigError if the address cannot be bound."""
        self._thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError(
                    f"the HTTP API could not listen on {self.listen.host}:{self.listen.port} "
                    "(in use, or not an address of this machine); choose another with --http-port/--http-host"
                )
            time.sleep(0.05)
        log.warning("HTTP API on http://%s:%d (docs at /docs)", self.listen.host, self.listen.port)
        if not _loopback(self.listen.host):
            log.warning(
                "the HTTP API listens on %s without TLS: tokens and recordings cross the network in clear; "
                "put a TLS reverse proxy in front and listen on 127.0.0.1 (docs/api.md)",
                self.listen.host,
            )

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(STOP_SECONDS + 5)
