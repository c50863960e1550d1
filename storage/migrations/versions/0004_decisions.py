"""case decisions, legal review and publication

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 23:25:47.954527
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_decisions",
        sa.Column("case_number", sa.String(length=128), nullable=False),
        sa.Column("action_type", sa.String(length=16), nullable=False),
        sa.Column("party_kind", sa.String(length=16), nullable=False),
        sa.Column("party_minor", sa.Boolean(), nullable=False),
        sa.Column("party_name", sa.String(length=128), nullable=False),
        sa.Column("party_id_number", sa.String(length=64), nullable=True),
        sa.Column("party_phone", sa.String(length=64), nullable=True),
        sa.Column("party_address", sa.Text(), nullable=True),
        sa.Column("parties_count", sa.Integer(), nullable=False),
        sa.Column("proposed_text", sa.Text(), nullable=True),
        sa.Column("proposed_fine_fen", sa.BigInteger(), nullable=True),
        sa.Column("proposed_measures", sa.JSON(), nullable=True),
        sa.Column("proposed_at", sa.DateTime(), nullable=True),
        sa.Column("proposed_by", sa.String(length=128), nullable=True),
        sa.Column("proposed_entry", sa.BigInteger(), nullable=True),
        sa.Column("major", sa.Boolean(), nullable=False),
        sa.Column("major_grounds", sa.JSON(), nullable=False),
        sa.Column("marked_major_by", sa.String(length=128), nullable=True),
        sa.Column("marked_major_reason", sa.Text(), nullable=True),
        sa.Column("final_text", sa.Text(), nullable=True),
        sa.Column("final_document", sa.String(length=256), nullable=True),
        sa.Column("final_on", sa.Date(), nullable=True),
        sa.Column("final_at", sa.DateTime(), nullable=True),
        sa.Column("final_by", sa.String(length=128), nullable=True),
        sa.Column("final_review", sa.BigInteger(), nullable=True),
        sa.Column("publish_due_on", sa.Date(), nullable=True),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("case_number"),
    )
    op.create_table(
        "legal_reviews",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("case_number", sa.String(length=128), nullable=False),
        sa.Column("proposal_entry", sa.BigInteger(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_by", sa.String(length=128), nullable=False),
        sa.Column("proposal", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.Column("recordings", sa.JSON(), nullable=False),
        sa.Column("other_evidence", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("missing", sa.Text(), nullable=True),
        sa.Column("checked_by", sa.String(length=128), nullable=True),
        sa.Column("checked_at", sa.DateTime(), nullable=True),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("extended_by", sa.String(length=128), nullable=True),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("rereview_reason", sa.Text(), nullable=True),
        sa.Column("rereview_at", sa.DateTime(), nullable=True),
        sa.Column("escalated_at", sa.DateTime(), nullable=True),
        sa.Column("head", sa.String(length=128), nullable=True),
        sa.Column("head_decision", sa.Text(), nullable=True),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("legal_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_legal_reviews_case_number"), ["case_number"], unique=False)

    op.create_table(
        "publication_exclusions",
        sa.Column("entry", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("case_number", sa.String(length=128), nullable=False),
        sa.Column("ground", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("excluded_by", sa.String(length=128), nullable=False),
        sa.Column("approved_by", sa.String(length=128), nullable=False),
        sa.Column("excluded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("entry"),
    )
    with op.batch_alter_table("publication_exclusions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_publication_exclusions_case_number"), ["case_number"], unique=False)

    op.create_table(
        "publications",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("case_number", sa.String(length=128), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("document", sa.String(length=256), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("published_by", sa.String(length=128), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=128), nullable=True),
        sa.Column("withdrawal_document", sa.String(length=256), nullable=True),
        sa.Column("withdrawal_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_publications_case_number"), ["case_number"], unique=False)

    op.create_table(
        "review_opinions",
        sa.Column("entry", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("review", sa.BigInteger(), nullable=False),
        sa.Column("case_number", sa.String(length=128), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(length=128), nullable=False),
        sa.Column("points", sa.JSON(), nullable=False),
        sa.Column("opinion", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("given_at", sa.DateTime(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("entry"),
    )
    with op.batch_alter_table("review_opinions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_opinions_review"), ["review"], unique=False)


def downgrade() -> None:
    raise NotImplementedError("a catalog is evidence: its migrations only go forward (restore a backup to go back)")
