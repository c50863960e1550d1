"""Which central node leads: the one that signs checkpoints, submits them to witnesses and runs the jobs.

A bureau runs one or more central nodes (``station.role = "central"``) on one PostgreSQL
catalog; exactly one of them leads at a time, the others stand by. Leadership is a PostgreSQL
*session* advisory lock (``pg_try_advisory_lock``) held on a connection of its own, in autocommit
(an idle connection, never an idle transaction). The server releases it when that session ends:

- the leader stops, or is killed (``kill -9``): its socket closes, the server ends the session at
  once, and a standby's next try (every ``POLL_SECONDS``) takes the lock;
- the leader's machine or network dies without closing the socket: the session's TCP keepalives
  (set on the server side for this session: idle 5 s, then 3 probes 2 s apart) end it within
  about 11 s, so a standby leads within ``POLL_SECONDS`` after that, well inside 30 s.

A leader that cannot reach its lock connection any more (``lead()`` finds it broken) stops
leading at once; the jobs check ``lead()`` again right before they act, so a leader cut off from
the database does not go on signing or purging beside the new one.

A catalog on SQLite is one station's own file: its single node always leads (``SoleNode``).
"""

from __future__ import annotations

import logging
import threading
from typing import Final, Protocol

from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

LEADER_LOCK: Final = 0x65766964_6F636B02
"""The advisory lock key of the leading central node ("evidock" + 2; + 1 is the schema lock)."""
POLL_SECONDS: Final = 2.0  # how often a central node tries to lead, or checks that it still does
APPLICATION_PREFIX: Final = "evidock-central:"  # pg_stat_activity.application_name of the lock connection
_KEEPALIVES: Final = {"tcp_keepalives_idle": 5, "tcp_keepalives_interval": 2, "tcp_keepalives_count": 3}


class Leadership(Protocol):
    def lead(self) -> bool:
        """Try to lead, or check that this node still does; True while it leads. Never raises."""

    def leader(self) -> str | None:
        """The node that leads now, as far as this node can tell (for the logs)."""

    def release(self) -> None:
        """Stop leading (at shutdown); a standby takes over at its next try."""


class SoleNode:
    """The only node of a catalog no other node can share (SQLite): it always leads."""

    def __init__(self, node: str) -> None:
        self.node = node

    def lead(self) -> bool:
        return True

    def leader(self) -> str | None:
        return self.node

    def release(self) -> None:
        pass


class AdvisoryLock:
    """Leadership among central nodes on one PostgreSQL catalog (see the module docstring)."""

    def __init__(self, url: str, node: str) -> None:
        self.node = node
        # One connection of its own, never pooled: the lock lives exactly as long as this session.
        self._engine: Engine = create_engine(
            make_url(url), poolclass=NullPool, connect_args={"application_name": APPLICATION_PREFIX + node}
        )
        self._conn: Connection | None = None
        self._leading = False
        self._lock = threading.Lock()  # the service's threads share the one connection

    def lead(self) -> bool:
        with self._lock:
            return self._lead()

    def _lead(self) -> bool:
        try:
            conn = self._connection()
            if self._leading:
                conn.execute(text("SELECT 1"))  # the session (and so the lock) is still there
            else:
                got = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_LOCK}).scalar_one()
                self._leading = bool(got)
        except SQLAlchemyError as exc:
            if self._leading:
                log.error("%s lost its lock connection, so it stops leading: %s", self.node, exc)
            else:
                log.warning("%s cannot reach the catalog to try to lead: %s", self.node, exc)
            self._drop()
        return self._leading

    def leader(self) -> str | None:
        with self._lock:
            return self._leader()

    def _leader(self) -> str | None:
        if self._leading:
            return self.node
        try:
            name = (
                self._connection()
                .execute(
                    text(
                        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                        "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
                        "(SELECT oid FROM pg_database WHERE datname = current_database()) "
                        "AND l.classid::bigint = :high AND l.objid::bigint = :low AND l.objsubid = 1"
                    ),
                    {"high": LEADER_LOCK >> 32, "low": LEADER_LOCK & 0xFFFFFFFF},
                )
                .scalar()
            )
        except SQLAlchemyError:
            return None
        return None if name is None else str(name).removeprefix(APPLICATION_PREFIX)

    def release(self) -> None:
        with self._lock:
            self._drop()
        self._engine.dispose()

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            for name, value in _KEEPALIVES.items():
                conn.execute(text(f"SET {name} = {int(value)}"))
            self._conn = conn
        return self._conn

    def _drop(self) -> None:
        """Close the lock connection (which ends the session and so releases the lock)."""
        self._leading = False
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except SQLAlchemyError as exc:
                log.debug("closing the lock connection: %s", exc)


def leadership_for(database_url: str, node: str) -> Leadership:
    """An advisory lock on PostgreSQL; on SQLite the single node leads."""
    if make_url(database_url).get_backend_name() == "postgresql":
        return AdvisoryLock(database_url, node)
    return SoleNode(node)
