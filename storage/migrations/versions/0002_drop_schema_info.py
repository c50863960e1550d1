"""Drop ``schema_info``: the catalog's schema version is Alembic's revision (``alembic_version``) now.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("schema_info")


def downgrade() -> None:
    raise NotImplementedError("a catalog is evidence: its migrations only go forward (restore a backup to go back)")
