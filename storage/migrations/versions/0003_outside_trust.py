"""outside trust: cosignatures and timestamps beside each checkpoint

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 23:23:18.044123
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkpoint_cosignatures",
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("witness", sa.String(length=512), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("cosigned_at", sa.DateTime(), nullable=False),
        sa.Column("object_key", sa.String(length=256), nullable=False),
        sa.Column("version_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("size", "witness"),
    )
    op.create_table(
        "checkpoint_timestamps",
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("tsa", sa.String(length=64), nullable=False),
        sa.Column("gen_time", sa.DateTime(), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("reply", sa.LargeBinary(), nullable=False),
        sa.Column("object_key", sa.String(length=256), nullable=False),
        sa.Column("version_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("size", "tsa"),
    )


def downgrade() -> None:
    raise NotImplementedError("a catalog is evidence: its migrations only go forward (restore a backup to go back)")
