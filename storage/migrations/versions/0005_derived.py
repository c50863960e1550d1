"""derived files, redactions and proxy jobs

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 23:29:30.368774
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "derived_files",
        sa.Column("entry", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("recording", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("object_key", sa.String(length=256), nullable=False),
        sa.Column("version_id", sa.String(length=128), nullable=False),
        sa.Column("retain_until", sa.DateTime(), nullable=True),
        sa.Column("ffmpeg", sa.String(length=256), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=False),
        sa.Column("redaction", sa.Integer(), nullable=True),
        sa.Column("spec_sha256", sa.String(length=64), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("made_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry"],
            ["log_entries.idx"],
        ),
        sa.ForeignKeyConstraint(
            ["recording"],
            ["recordings.id"],
        ),
        sa.PrimaryKeyConstraint("entry"),
    )
    with op.batch_alter_table("derived_files", schema=None) as batch_op:
        batch_op.create_index("ix_derived_files_recording", ["recording", "kind"], unique=False)

    op.create_table(
        "proxy_jobs",
        sa.Column("recording", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("station", sa.String(length=64), nullable=True),
        sa.Column("progress_ms", sa.BigInteger(), nullable=False),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("object_key", sa.String(length=256), nullable=True),
        sa.Column("version_id", sa.String(length=128), nullable=True),
        sa.Column("entry", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["recording"],
            ["recordings.id"],
        ),
        sa.PrimaryKeyConstraint("recording"),
    )
    op.create_table(
        "redactions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("recording", sa.String(length=64), nullable=False),
        sa.Column("request", sa.Integer(), nullable=True),
        sa.Column("spec", sa.JSON(), nullable=True),
        sa.Column("spec_sha256", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_by", sa.String(length=64), nullable=True),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("derived_entry", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["derived_entry"],
            ["log_entries.idx"],
        ),
        sa.ForeignKeyConstraint(
            ["recording"],
            ["recordings.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("redactions", schema=None) as batch_op:
        batch_op.create_index("ix_redactions_recording", ["recording", "id"], unique=False)


def downgrade() -> None:
    raise NotImplementedError("a catalog is evidence: its migrations only go forward (restore a backup to go back)")
