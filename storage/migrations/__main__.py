"""Draft a new migration: ``python -m storage.migrations "what changes"``.

Builds a scratch SQLite catalog with the existing migrations, compares it with ``storage.schema``
and writes what differs as ``versions/NNNN_what_changes.py``: a draft to read and edit (Alembic does
not see renames, and data moves are for a person to write), then ``tests/test_migrations.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from storage.migrations import config


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].strip():
        print('usage: python -m storage.migrations "what changes"', file=sys.stderr)
        return 2
    message = argv[0].strip()
    script = ScriptDirectory.from_config(config())
    numbers = [int(rev.revision) for rev in script.walk_revisions() if rev.revision.isdigit()]
    rev_id = f"{max(numbers, default=0) + 1:04d}"
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite:///{Path(scratch) / 'draft.db'}")
        with engine.begin() as conn:
            command.upgrade(config(conn), "head")
            cfg = config(conn)
            cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
            written = command.revision(cfg, message, autogenerate=True, rev_id=rev_id)
        engine.dispose()
    paths = [s.path for s in (written if isinstance(written, list) else [written]) if s is not None]
    print(f"wrote {', '.join(paths)}: read it, edit it, test it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
