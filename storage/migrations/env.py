"""Alembic's environment for the catalog: run inside the connection ``storage.migrations`` hands over.

The catalog opens its database, takes the schema lock and then calls Alembic with that
connection (``config.attributes["connection"]``), so a migration runs in the catalog's own
transaction and under its lock: stations starting at once never migrate twice.
"""

from __future__ import annotations

from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext

from storage.migrations import include_object
from storage.schema import UTCDateTime, metadata


def render_item(kind: str, obj: object, _context: AutogenContext) -> str | Literal[False]:
    """Drafts name the stored type (``sa.DateTime()``), not the Python-side wrapper, so a migration stays frozen."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=metadata,
    include_object=include_object,
    render_as_batch=True,  # SQLite alters a table by copying it; batch mode writes that for both databases
    compare_type=True,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
