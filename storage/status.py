"""The counts `evidock status`, the status page and /metrics show, and the record of each alert check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from storage.rows import from_row
from storage.schema import alert_runs, checkpoints, purges, receipts, recordings
from storage.tombstones import PurgeState


@dataclass(frozen=True)
class AlertRun:
    ran_at: datetime
    due_soon: int
    overdue: int
    cases_due: int
    summary: str
    webhook: str | None


def record_alert_run(conn: Connection, run: AlertRun) -> None:
    conn.execute(insert(alert_runs).values(**run.__dict__))


def alert_run_history(conn: Connection, limit: int = 100) -> list[AlertRun]:
    rows = conn.execute(select(alert_runs).order_by(alert_runs.c.id.desc()).limit(limit))
    return [from_row(AlertRun, r) for r in rows]


def counts_by_receipt_state(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(receipts.c.state, func.count()).group_by(receipts.c.state))
    return {state: int(n) for state, n in rows}


def count_recordings(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(recordings)).scalar_one())


def count_purged(conn: Connection) -> int:
    query = select(func.count()).select_from(purges).where(purges.c.state == PurgeState.PURGED.value)
    return int(conn.execute(query).scalar_one())


def latest_checkpoint(conn: Connection) -> tuple[int, datetime] | None:
    row = conn.execute(select(checkpoints.c.size, checkpoints.c.created_at).order_by(checkpoints.c.size.desc())).first()
    return (int(row.size), row.created_at) if row else None
