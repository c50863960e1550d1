"""Baseline: the catalog's schema when migrations came (``schema_info.version = 2``).

Every table as ``storage.schema`` defined it then, its two first rows (the empty log's head and the
version marker), and nothing else. A catalog made before Alembic is stamped with this revision
(``storage.migrations``) rather than run through it. Times are ``sa.DateTime()``: what
``storage.schema.UTCDateTime`` stores (naive UTC), frozen here as the database sees it.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

FORWARD_ONLY = "a catalog is evidence: its migrations only go forward (restore a backup to go back)"


def upgrade() -> None:
    op.create_table(
        "alert_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ran_at", sa.DateTime(), nullable=False),
        sa.Column("due_soon", sa.Integer(), nullable=False),
        sa.Column("overdue", sa.Integer(), nullable=False),
        sa.Column("cases_due", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("webhook", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "cases",
        sa.Column("case_number", sa.String(length=128), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("case_file_due", sa.Date(), nullable=True),
        sa.Column("archive_due", sa.Date(), nullable=True),
        sa.Column("case_file_done_on", sa.Date(), nullable=True),
        sa.Column("archived_on", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("case_number"),
    )
    op.create_table(
        "checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("object_key", sa.String(length=256), nullable=True),
        sa.Column("version_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("size"),
    )
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("device", sa.String(length=128), nullable=True),
        sa.Column("recordings", sa.JSON(), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=True),
        sa.Column("end", sa.DateTime(), nullable=True),
        sa.Column("length_ms", sa.BigInteger(), nullable=True),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("found_at", sa.DateTime(), nullable=False),
        sa.Column("entry", sa.BigInteger(), nullable=False),
        sa.Column("explained_at", sa.DateTime(), nullable=True),
        sa.Column("explained_by", sa.String(length=128), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("voice_in", sa.String(length=64), nullable=True),
        sa.Column("voice_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("explanation_entry", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_findings_device"), ["device"], unique=False)
        batch_op.create_index(batch_op.f("ix_findings_start"), ["start"], unique=False)
        batch_op.create_index(batch_op.f("ix_findings_status"), ["status"], unique=False)

    op.create_table(
        "log_entries",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("recording", sa.String(length=64), nullable=True),
        sa.Column("time", sa.DateTime(), nullable=False),
        sa.Column("station", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("idx"),
    )
    with op.batch_alter_table("log_entries", schema=None) as batch_op:
        batch_op.create_index("ix_log_entries_recording", ["recording", "idx"], unique=False)
        batch_op.create_index("ix_log_entries_type", ["type", "idx"], unique=False)

    op.create_table(
        "log_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "log_nodes",
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx"),
    )
    op.create_table(
        "schema_info",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "user_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("time", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("user", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "users",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("officer_id", sa.String(length=128), nullable=True),
        sa.Column("display_name", sa.String(length=128), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        sa.Column("disabled_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_officer_id"), ["officer_id"], unique=False)

    op.create_table(
        "access_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("document_ref", sa.String(length=256), nullable=True),
        sa.Column("requester", sa.String(length=128), nullable=True),
        sa.Column("party", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["users.name"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "access_results",
        sa.Column("entry", sa.BigInteger(), nullable=False),
        sa.Column("recording", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry"],
            ["log_entries.idx"],
        ),
        sa.PrimaryKeyConstraint("entry", "recording"),
    )
    with op.batch_alter_table("access_results", schema=None) as batch_op:
        batch_op.create_index("ix_access_results_recording", ["recording", "entry"], unique=False)

    op.create_table(
        "clock_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("device", sa.String(length=128), nullable=False),
        sa.Column("device_time", sa.DateTime(), nullable=False),
        sa.Column("station_time", sa.DateTime(), nullable=False),
        sa.Column("offset_ms", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("station", sa.String(length=64), nullable=False),
        sa.Column("recording", sa.String(length=64), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("entry", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry"],
            ["log_entries.idx"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry"),
    )
    with op.batch_alter_table("clock_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clock_reports_device"), ["device"], unique=False)

    op.create_table(
        "log_salts",
        sa.Column("entry", sa.BigInteger(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry"],
            ["log_entries.idx"],
        ),
        sa.PrimaryKeyConstraint("entry", "field"),
    )
    op.create_table(
        "recordings",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("object_key", sa.String(length=256), nullable=False),
        sa.Column("version_id", sa.String(length=128), nullable=False),
        sa.Column("retain_until", sa.DateTime(), nullable=False),
        sa.Column("original_name", sa.Text(), nullable=False),
        sa.Column("station", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=128), nullable=True),
        sa.Column("officer", sa.String(length=128), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("start_raw", sa.DateTime(), nullable=True),
        sa.Column("end_raw", sa.DateTime(), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("media", sa.JSON(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("ingested_at", sa.DateTime(), nullable=False),
        sa.Column("ingest_entry", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ingest_entry"],
            ["log_entries.idx"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.create_index("ix_recordings_device_start", ["device", "start_raw"], unique=False)

    op.create_table(
        "user_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user"],
            ["users.name"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    with op.batch_alter_table("user_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_tokens_user"), ["user"], unique=False)

    op.create_table(
        "access_grants",
        sa.Column("request", sa.Integer(), nullable=False),
        sa.Column("recording", sa.String(length=64), nullable=False),
        sa.Column("approval_entry", sa.BigInteger(), nullable=True),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("access_entry", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["access_entry"],
            ["log_entries.idx"],
        ),
        sa.ForeignKeyConstraint(
            ["approval_entry"],
            ["log_entries.idx"],
        ),
        sa.ForeignKeyConstraint(
            ["recording"],
            ["recordings.id"],
        ),
        sa.ForeignKeyConstraint(
            ["request"],
            ["access_requests.id"],
        ),
        sa.PrimaryKeyConstraint("request", "recording"),
    )
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("recording", sa.String(length=64), nullable=False),
        sa.Column("case_number", sa.String(length=128), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("retain_until", sa.DateTime(), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("added_by", sa.String(length=128), nullable=False),
        sa.Column("hold_entry", sa.BigInteger(), nullable=False),
        sa.Column("released_at", sa.DateTime(), nullable=True),
        sa.Column("released_by", sa.String(length=128), nullable=True),
        sa.Column("approved_by", sa.String(length=128), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
        sa.Column("release_entry", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["hold_entry"],
            ["log_entries.idx"],
        ),
        sa.ForeignKeyConstraint(
            ["recording"],
            ["recordings.id"],
        ),
        sa.ForeignKeyConstraint(
            ["release_entry"],
            ["log_entries.idx"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index("ix_evidence_case", ["case_number"], unique=False)
        batch_op.create_index("ix_evidence_recording", ["recording"], unique=False)

    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("recording", sa.String(length=64), nullable=False),
        sa.Column("case_number", sa.String(length=128), nullable=False),
        sa.Column("parties", sa.JSON(), nullable=False),
        sa.Column("handler", sa.String(length=128), nullable=False),
        sa.Column("labelled_by", sa.String(length=128), nullable=False),
        sa.Column("labelled_at", sa.DateTime(), nullable=False),
        sa.Column("entry", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry"],
            ["log_entries.idx"],
        ),
        sa.ForeignKeyConstraint(
            ["recording"],
            ["recordings.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry"),
    )
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.create_index("ix_labels_case", ["case_number"], unique=False)
        batch_op.create_index("ix_labels_recording", ["recording", "entry"], unique=False)

    op.create_table(
        "purges",
        sa.Column("recording", sa.String(length=64), nullable=False),
        sa.Column("object_key", sa.String(length=256), nullable=False),
        sa.Column("version_id", sa.String(length=128), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=False),
        sa.Column("retain_until", sa.DateTime(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("purge_entry", sa.BigInteger(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("purged_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["purge_entry"],
            ["log_entries.idx"],
        ),
        sa.ForeignKeyConstraint(
            ["recording"],
            ["recordings.id"],
        ),
        sa.PrimaryKeyConstraint("recording"),
        sa.UniqueConstraint("purge_entry"),
    )
    op.create_table(
        "receipts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("station", sa.String(length=64), nullable=False),
        sa.Column("folder", sa.LargeBinary(), nullable=False),
        sa.Column("rel_path", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("inode", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("staging_key", sa.String(length=256), nullable=False),
        sa.Column("staging_version", sa.String(length=128), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("version_id", sa.String(length=128), nullable=True),
        sa.Column("recording", sa.String(length=64), nullable=True),
        sa.Column("duplicate", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["recording"],
            ["recordings.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("station", "folder", "rel_path", "size", "mtime_ns", name="uq_receipt_file"),
    )
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.create_index("ix_receipts_state", ["state"], unique=False)
    op.bulk_insert(
        sa.table("log_head", sa.column("id", sa.Integer), sa.column("size", sa.BigInteger)), [{"id": 1, "size": 0}]
    )
    op.bulk_insert(
        sa.table("schema_info", sa.column("id", sa.Integer), sa.column("version", sa.Integer)),
        [{"id": 1, "version": 2}],
    )


def downgrade() -> None:
    raise NotImplementedError(FORWARD_ONLY)
