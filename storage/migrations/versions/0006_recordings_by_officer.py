"""Index recordings by officer and start: a search by officer over a million recordings read them all.

``bench/bureau.py`` (list part, PostgreSQL, 1,000,000 recordings): officer and a week took 349 ms
at p95 without it (a scan of the table); the device searches had their index already.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_recordings_officer_start", "recordings", ["officer", "start_raw"])


def downgrade() -> None:
    raise NotImplementedError("a catalog is evidence: its migrations only go forward (restore a backup to go back)")
